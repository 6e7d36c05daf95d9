/**
 * Traffic providers and the canary, end to end: aliases in the simulator moved and restored
 * exactly; a real local HTTP server standing in for a traffic controller (it verifies every
 * signature); a worker killed between drain and restore; and the webhook secret nowhere.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  ListAliasesCommand,
  UpdateAliasCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKmsClient } from '../../src/kms/client';
import { freePort } from '../../src/temporal/free-port';
import { startController, testWebhookControllers, type Controller } from '../support/traffic-controller';
import { endWindowNowUpdate, statusQuery } from '../../workflows/messages';
import {
  callsFor,
  connectedStore,
  eventually,
  mutatingAccepted,
  outcomeOf,
  REGION,
  startMaintenanceEnv,
  TEST_CREDENTIALS,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { startWorkerProcess } from '../support/worker-process';

const SECRET = 'whsec-test-5f1d3c9a7b2e4d60a8c1';

let env: MaintenanceEnv;
let kms: KMSClient;
let controller: Controller;
let closedPort: number;

beforeAll(async () => {
  controller = await startController(SECRET, 'mesh');
  closedPort = await freePort();
  env = await startMaintenanceEnv(
    {},
    {
      webhookControllers: testWebhookControllers([
        controller,
        // Configured, but nothing listens there.
        { name: 'down', url: `http://127.0.0.1:${closedPort}/traffic`, secret: SECRET },
        // The right controller, with a secret the controller does not share.
        { name: 'wrong-secret', url: controller.url, secret: 'whsec-not-the-controllers-secret-0000' },
      ]),
    },
  );
  kms = createKmsClient({ region: REGION, endpoint: env.sim.url, credentials: TEST_CREDENTIALS });
});
afterAll(async () => {
  kms?.destroy();
  await env?.close();
  await controller?.close();
});

async function key(customKeyStoreId?: string): Promise<string> {
  const out = await kms.send(
    new CreateKeyCommand(
      customKeyStoreId ? { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: customKeyStoreId } : {},
    ),
  );
  return out.KeyMetadata?.KeyId ?? '';
}

async function alias(name: string, target: string): Promise<string> {
  await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: target }));
  return name;
}

async function targets(): Promise<Map<string, string | undefined>> {
  const out = await kms.send(new ListAliasesCommand({ Limit: 1000 }));
  return new Map((out.Aliases ?? []).map((a) => [a.AliasName ?? '', a.TargetKeyId]));
}

const unique = () => Math.random().toString(16).slice(2, 10);

async function aliasSetup() {
  const id = await connectedStore(env.control);
  const [k1, k2, fallback] = [await key(id), await key(id), await key()];
  const a = await alias(`alias/payments-${unique()}`, k1);
  const b = await alias(`alias/ledger-${unique()}`, k2);
  return { id, k1, k2, fallback, a, b };
}

describe('alias provider', () => {
  it('drains each alias to the fallback and restores exactly the recorded targets', async () => {
    const { id, k1, k2, fallback, a, b } = await aliasSetup();
    const handle = await env.start({
      customKeyStoreId: id,
      window: { duration: '5m' },
      drain: { provider: 'alias', aliases: [a, b], fallbackKeyId: fallback, settle: '200ms' },
    });
    await eventually(async () => (await handle.query(statusQuery)).phase === 'IN_WINDOW', 'IN_WINDOW');
    const during = await targets();
    expect([during.get(a), during.get(b)]).toEqual([fallback, fallback]);
    await handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'test' }] });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const after = await targets();
    expect([after.get(a), after.get(b)]).toEqual([k1, k2]);
    expect(result.trafficRestore?.leftAlone).toEqual([]);
    expect(result.events.some((e) => e.action === 'traffic.settled')).toBe(true);
    const updates = mutatingAccepted(await env.control.calls()).filter(
      (c) => c.operation === 'UpdateAlias' && [a, b].includes(String(c.params.AliasName)),
    );
    expect(updates.map((c) => [c.params.AliasName, c.params.TargetKeyId])).toEqual([
      [a, fallback],
      [b, fallback],
      [a, k1],
      [b, k2],
    ]);
  });

  it('leaves an alias moved by someone else during the window alone, and reports it', async () => {
    const { id, k1, fallback, a, b } = await aliasSetup();
    const elsewhere = await key();
    const handle = await env.start({
      customKeyStoreId: id,
      window: { duration: '5m' },
      drain: { provider: 'alias', aliases: [a, b], fallbackKeyId: fallback },
    });
    await eventually(async () => (await handle.query(statusQuery)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await kms.send(new UpdateAliasCommand({ AliasName: b, TargetKeyId: elsewhere }));
    await handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'test' }] });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const after = await targets();
    expect(after.get(a)).toBe(k1);
    expect(after.get(b)).toBe(elsewhere);
    expect(result.trafficRestore?.leftAlone).toEqual([
      { aliasName: b, expected: fallback, found: elsewhere },
    ]);
    const audited = env.audit.forRun(handle.firstExecutionRunId);
    expect(audited.find((e) => e.action === 'traffic.leftAlone')?.detail.leftAlone).toEqual(
      result.trafficRestore?.leftAlone,
    );
  });

  it.each([
    ['an alias of a key outside the store', 'outside', /is not a key in cks-/],
    ['a disabled fallback key', 'disabled', /must be Enabled/],
    ['a fallback key inside the store', 'inside', /is in cks-.* itself/],
  ])('refuses %s in preflight, before any change', async (_name, kind, message) => {
    const { id, fallback, a } = await aliasSetup();
    let fallbackKeyId = fallback;
    let aliases = [a];
    if (kind === 'outside') aliases = [await alias(`alias/other-${unique()}`, await key())];
    if (kind === 'disabled') await kms.send(new DisableKeyCommand({ KeyId: fallback }));
    if (kind === 'inside') fallbackKeyId = await key(id);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'alias', aliases, fallbackKeyId },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(message);
    expect(result.message).toContain('Nothing was changed');
    const calls = await env.control.calls();
    expect(mutatingAccepted(calls.filter((c) => JSON.stringify(c.params).includes(id)))).toEqual([]);
    expect(
      calls.filter((c) => c.operation === 'UpdateAlias' && aliases.includes(String(c.params.AliasName))),
    ).toEqual([]);
  });

  it('a worker killed between drain and restore: the new worker restores exactly', async () => {
    const { id, k1, k2, fallback, a, b } = await aliasSetup();
    const auditFile = join(mkdtempSync(join(tmpdir(), 'traffic-kill-')), 'audit.jsonl');
    const taskQueue = `kill-${unique()}`;
    const workerEnv = {
      KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
      AWS_ENDPOINT_URL_KMS: env.sim.url,
      AWS_REGION: REGION,
      KEYSTORE_MAINT_AUDIT_FILE: auditFile,
    };
    let worker = await startWorkerProcess(workerEnv);
    const handle = await env.temporal.client.workflow.start('keyStoreMaintenance', {
      taskQueue,
      workflowId: `keystore-maint/${REGION}/${id}`,
      args: [
        {
          ...env.request(id, { window: { duration: '3s' } }),
          drain: { provider: 'alias', aliases: [a, b], fallbackKeyId: fallback },
        },
      ],
    });
    await eventually(async () => (await handle.query(statusQuery)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await worker.kill('SIGKILL');
    const during = await targets();
    expect([during.get(a), during.get(b)]).toEqual([fallback, fallback]);
    worker = await startWorkerProcess(workerEnv);
    try {
      const result = await outcomeOf(handle);
      expect(result.outcome).toBe('COMPLETED');
      const after = await targets();
      expect([after.get(a), after.get(b)]).toEqual([k1, k2]);
      const lines = readFileSync(auditFile, 'utf8').trim().split('\n');
      expect(lines.length).toBe(result.events.length);
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});

describe('webhook provider', () => {
  it('drains and restores through a signed webhook; the secret is nowhere in history or audit', async () => {
    controller.mode = 'slow';
    controller.received.length = 0;
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'mesh' },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(controller.received.map((r) => r.action)).toEqual(['drain', 'restore']);
    expect(controller.received.every((r) => r.validSignature)).toBe(true);
    expect(JSON.parse(controller.received[0]?.raw ?? '{}')).toEqual({
      action: 'drain',
      customKeyStoreId: id,
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
    });
    expect(controller.statusPolls).toBeGreaterThan(2);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain(SECRET);
    expect(JSON.stringify(env.audit.events)).not.toContain(SECRET);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('a webhook that is down fails the run before the store is touched', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'down' },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toContain(
      `webhook POST http://127.0.0.1:${closedPort}/traffic failed: ECONNREFUSED`,
    );
    expect(result.message).toContain('Nothing was changed');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('a webhook answering 500 is retried a bounded number of times; the drain may have been accepted, so restore is owed', async () => {
    controller.mode = 'error500';
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'mesh' },
    });
    const result = await outcomeOf(handle);
    controller.mode = 'ok';
    // A 500 does not say the controller did not act. Restore was tried and answered 500 as well,
    // so nobody can say where traffic is: a human must look, and the run says so.
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.message).toMatch(/answered 500 \(controller broken\)/);
    expect(result.message).not.toMatch(/Nothing was changed/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('a controller that reports failure stops the run, and restore is sent', async () => {
    controller.mode = 'fails';
    controller.received.length = 0;
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'mesh', timeout: '5s' },
    });
    const result = await outcomeOf(handle);
    controller.mode = 'ok';
    // The drain was accepted, so compensation told the controller to restore; its status then
    // said "failed" again, so the run cannot confirm traffic is back: a human must look.
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.message).toMatch(/reports that drain failed: upstream pool/);
    expect(controller.received.map((r) => r.action)).toEqual(['drain', 'restore']);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('a wrong secret is refused by the controller (401): the controller provably did not act', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'wrong-secret' },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(
      /refused with 401 \(bad signature\); check the URL and that the controller has the same secret/,
    );
    expect(result.message).toContain('Nothing was changed');
  });
});

describe('canary', () => {
  it('passes with a key in the store', async () => {
    const id = await connectedStore(env.control);
    const canaryKeyId = await key(id);
    const result = await outcomeOf(await env.start({ customKeyStoreId: id, canaryKeyId }));
    expect(result.outcome).toBe('COMPLETED');
    const ops = (await callsFor(env.control, canaryKeyId)).map((c) => c.operation);
    expect(ops).toEqual(expect.arrayContaining(['DescribeKey', 'GenerateDataKey', 'Decrypt']));
    expect(JSON.stringify(result)).not.toMatch(/Plaintext/);
  });

  it('a failing canary ends NEEDS_ATTENTION with traffic still drained', async () => {
    const { id, fallback, a } = await aliasSetup();
    const canaryKeyId = await key(id);
    await env.control.addFault({ operation: 'Decrypt', errorType: 'IncorrectKeyException', count: 20 });
    const result = await outcomeOf(
      await env.start({
        customKeyStoreId: id,
        canaryKeyId,
        drain: { provider: 'alias', aliases: [a], fallbackKeyId: fallback },
      }),
    );
    await env.control.clearFaults();
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.message).toMatch(/canary round-trip .* failed/);
    expect(result.message).toContain('Traffic stays drained');
    expect((await targets()).get(a)).toBe(fallback);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  });

  it('refuses a canary key that is not in the store', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(await env.start({ customKeyStoreId: id, canaryKeyId: await key() }));
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(/is not a key in cks-/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });
});
