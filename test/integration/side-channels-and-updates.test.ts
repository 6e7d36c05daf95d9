/**
 * The interruption-safety defects of side channels and messages (issue items 5–8), end to end
 * on the real dev server: an audit sink that refuses or fails must not extend the outage and must
 * be reported; updates sent early, without an argument, together, or after a cancellation get the
 * project's own typed answer.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditSecretRefusedError, AuditWriteError, JsonlAuditSink } from '../../src/audit';
import type { AuditSink } from '../../src/audit/sink';
import type { AuditEvent } from '../../src/domain/audit-event';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../../src/domain/names';
import type { MaintenanceResult } from '../../src/domain/status';
import { createKmsClient } from '../../src/kms/client';
import { abortUpdate, endWindowNowUpdate, extendWindowUpdate, statusQuery } from '../../workflows/messages';
import {
  callsFor,
  connectedStore,
  eventually,
  mutatingAccepted,
  outcomeOf,
  REGION,
  rejectionOf,
  startMaintenanceEnv,
  TEST_CREDENTIALS,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { uniqueName } from '../support/temporal';

/** A sink in front of a real JSON Lines trail that can refuse chosen events or be down. */
class TroubledSink implements AuditSink {
  refuseActions = new Set<string>();
  down = false;
  constructor(readonly inner: JsonlAuditSink) {}
  async append(events: readonly AuditEvent[]): Promise<number> {
    if (this.down) throw new AuditWriteError('the audit file system is unavailable (test)');
    const refused = events.filter((e) => this.refuseActions.has(e.action));
    if (refused.length) {
      const event = refused[0];
      throw new AuditSecretRefusedError(
        `audit event seq ${event?.seq} (${event?.action}) refused: it looks like it carries a secret`,
        ['detail.reason'],
        event && { workflowId: event.workflowId, runId: event.runId, seq: event.seq, action: event.action },
      );
    }
    return this.inner.append(events);
  }
  async close(): Promise<void> {
    await this.inner.close();
  }
}

let env: MaintenanceEnv;
let kms: KMSClient;
let sink: TroubledSink;
let auditFile: string;

beforeAll(async () => {
  auditFile = join(mkdtempSync(join(tmpdir(), 'side-channels-')), 'audit.jsonl');
  sink = new TroubledSink(new JsonlAuditSink(auditFile));
  env = await startMaintenanceEnv({}, { auditSink: sink });
  kms = createKmsClient({ region: REGION, endpoint: env.sim.url, credentials: TEST_CREDENTIALS });
});
afterEach(() => {
  sink.refuseActions.clear();
  sink.down = false;
});
afterAll(async () => {
  kms?.destroy();
  await env?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForPhase(handle: WorkflowHandle, phase: string): Promise<void> {
  await eventually(async () => (await handle.query(statusQuery)).phase === phase, `phase ${phase}`);
}

/** How long the store was really offline: from the accepted Disconnect to the accepted Connect. */
async function offlineMs(storeId: string): Promise<number> {
  const accepted = mutatingAccepted(await callsFor(env.control, storeId));
  const disconnect = accepted.find((c) => c.operation === 'DisconnectCustomKeyStore');
  const connect = accepted.find((c) => c.operation === 'ConnectCustomKeyStore');
  expect(disconnect && connect, JSON.stringify(accepted)).toBeTruthy();
  return Date.parse(connect?.at ?? '') - Date.parse(disconnect?.at ?? '');
}

async function trailOf(handle: WorkflowHandle & { firstExecutionRunId: string }) {
  return (await sink.inner.readWorkflow(handle.workflowId)).filter(
    (e) => e.runId === handle.firstExecutionRunId,
  );
}

describe('5. the audit trail never extends an outage, and its failures are reported', () => {
  it('a reason that looks like a bearer token is refused where it enters, naming the field', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.temporal.client.workflow.start(WORKFLOW_TYPES.maintenance, {
      taskQueue: env.taskQueue,
      workflowId: `keystore-maint/${REGION}/${id}`,
      args: [
        env.request(id, { reason: 'rotate creds; Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345' }),
      ],
    });
    const error: unknown = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause as { type?: string; message?: string };
    expect(cause.type).toBe('InvalidMaintenanceRequest');
    expect(cause.message).toMatch(/reason: .*secret/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('a refused event is set aside with a marker; phases do not wait on it; the result reports it', async () => {
    const id = await connectedStore(env.control);
    sink.refuseActions.add('run.requested');
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '1s' } });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    // Ground truth: the store was offline for the window and the KMS calls, not for audit retries.
    expect(await offlineMs(id)).toBeLessThan(1_000 + 8_000);
    const trail = await trailOf(handle);
    const marker = trail.find((e) => e.seq === 1);
    expect(marker?.action).toBe('audit.refused');
    expect(marker?.detail).toMatchObject({ refusedAction: 'run.requested' });
    expect(trail.map((e) => e.seq)).toEqual(trail.map((_, i) => i + 1));
    expect(trail.at(-1)?.action).toBe('run.ended');
    expect(result.audit).toMatchObject({ refused: 1 });
  });

  it('a sink that is down for 15 s: the window is not extended; every event arrives later, once', async () => {
    const id = await connectedStore(env.control);
    sink.down = true;
    const startedAt = Date.now();
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '1s' } });
    // The run reaches its end while the sink is still down: phases never waited on it.
    const ended = await eventually(
      async () => {
        const status = await handle.query(statusQuery);
        return status.outcome ? status : undefined;
      },
      'the run to reach its end state',
      14_000,
    );
    expect(ended.outcome).toBe('COMPLETED');
    expect(ended.audit.unwritten).toBeGreaterThan(0);
    expect(await offlineMs(id)).toBeLessThan(1_000 + 8_000);
    // The failing sink is visible in status while it fails.
    await eventually(
      async () => (await handle.query(statusQuery)).audit.failures > 0,
      'status to show audit failures',
      12_000,
    );
    await sleep(Math.max(0, startedAt + 15_000 - Date.now()));
    sink.down = false;
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const trail = await trailOf(handle);
    expect(trail.map((e) => e.seq)).toEqual(result.events.map((e) => e.seq));
    expect(result.audit?.failures).toBeGreaterThan(0);
    expect(result.audit?.unwritten).toBe(0);
  });
});

describe('6. updates sent before a delegating run has delegated', () => {
  it('an abort right after a start under a generated id is refused with the canonical id, or honoured', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const id = await connectedStore(env.control);
      const handle = await env.temporal.client.workflow.start(WORKFLOW_TYPES.maintenance, {
        taskQueue: env.taskQueue,
        workflowId: uniqueName('ui-generated'),
        args: [{ ...env.request(id), region: undefined }],
      });
      const answer = await handle
        .executeUpdate(abortUpdate, { args: [{ by: 'ops@example.com', reason: 'changed my mind' }] })
        .then(
          (a) => ({ accepted: a.accepted, message: '' }),
          (err: unknown) => ({ accepted: false, message: innermost(err) }),
        );
      const canonical = `keystore-maint/${REGION}/${id}`;
      if (answer.accepted) {
        await handle.result().catch(() => undefined);
        expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
      } else {
        expect(answer.message).toContain(canonical);
        await handle.result().catch(() => undefined);
      }
    }
  });
});

describe('7. updates without an argument, or with null', () => {
  it('every update answers with UpdateRejected naming "by", never a raw TypeError', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '5m' } });
    await waitForPhase(handle, 'IN_WINDOW');
    for (const name of ['approve', 'extendWindow', 'endWindowNow', 'abort']) {
      for (const args of [[], [null], ['alice']] as unknown[][]) {
        const error = await handle
          .executeUpdate(name, { args: args as [unknown] })
          .catch((err: unknown) => err);
        expect(error, `${name}(${JSON.stringify(args)})`).toBeInstanceOf(WorkflowUpdateFailedError);
        const cause = (error as WorkflowUpdateFailedError).cause as {
          type?: string;
          message?: string;
          nonRetryable?: boolean;
        };
        expect(cause.type, `${name}(${JSON.stringify(args)}): ${cause.message}`).toBe('UpdateRejected');
        expect(cause.message).toMatch(/"by"/);
        expect(cause.nonRetryable).toBe(true);
      }
    }
    await handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'ops@example.com' }] });
    expect((await outcomeOf(handle)).outcome).toBe('COMPLETED');
  });
});

describe('8. updates that race the run', () => {
  it('endWindowNow then extendWindow in one activation: the extension is refused', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '5m' }, maxWindow: '1h' });
    await waitForPhase(handle, 'IN_WINDOW');
    await env.stopWorker();
    const ended = handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'ops@example.com' }] });
    await sleep(500);
    const extended = handle
      .executeUpdate(extendWindowUpdate, { args: [{ by: 'ops@example.com', duration: '10m' }] })
      .then(
        () => 'accepted',
        (err: unknown) => innermost(err),
      );
    await sleep(1_000);
    await env.startWorker();
    await ended;
    expect(await extended).toMatch(/already ended/);
    const result: MaintenanceResult = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.extensions).toEqual([]);
  });

  it('after a Temporal cancellation, abort is refused while the run undoes its changes', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '5m' } });
    await waitForPhase(handle, 'IN_WINDOW');
    await env.control.addFault({ operation: 'ConnectCustomKeyStore', latencyMs: 4_000, count: 1 });
    await handle.cancel();
    await waitForPhase(handle, 'RECONNECTING');
    expect(
      await rejectionOf(
        handle.executeUpdate(abortUpdate, { args: [{ by: 'ops@example.com', reason: 'x' }] }),
      ),
    ).toMatch(/stopping|cancel/i);
    await handle.result().catch(() => undefined);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  });

  it('alias plan, drain and restore heartbeat: a plan slower than the heartbeat timeout completes', async () => {
    const storeId = await connectedStore(env.control);
    const fallbackKeyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    const aliases: string[] = [];
    for (let i = 0; i < 6; i++) {
      const key = (
        await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId }))
      ).KeyMetadata?.KeyId;
      const name = `alias/hb-${storeId.slice(-6)}-${i}`;
      await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: key }));
      aliases.push(name);
    }
    // Seven DescribeKey calls of 3.5 s: the plan outlasts the 20 s heartbeat timeout, unless it beats.
    await env.control.addFault({ operation: 'DescribeKey', latencyMs: 3_500, count: 7 });
    const handle = await env.start({
      customKeyStoreId: storeId,
      drain: { provider: 'alias', aliases, fallbackKeyId },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const planned = result.events.filter((e) => e.action === 'preflight.traffic');
    expect(planned).toHaveLength(1);
    const described = (await env.control.calls({ operation: 'DescribeKey' })).filter((c) =>
      [fallbackKeyId].includes(String(c.params.KeyId)),
    );
    // One plan attempt: the fallback key was described once, not once per retried attempt.
    expect(described).toHaveLength(1);
    expect((await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase)).toBe('COMPLETED');
  });
});

function innermost(err: unknown): string {
  let node: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (node && typeof node === 'object' && 'cause' in node && node.cause) {
    node = node.cause;
    if (node instanceof Error) message = node.message;
  }
  return message;
}
