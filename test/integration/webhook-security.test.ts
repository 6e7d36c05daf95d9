/**
 * The security review's webhook attacks, replayed end to end against a real worker, the real dev
 * server and real HTTP controllers — each now refused or harmless:
 * - a request that points the worker at a server of the caller's (drain.url) or picks a secret
 *   (drain.secretEnv), or names a controller the worker does not know;
 * - a redirect that would hand the signed drain to another server;
 * - a signed drain lifted and replayed to another URL, or replayed as is;
 * - a status answer faked by someone on the path ("drained", unsigned);
 * - an error answer that carries the far side's password into history and audit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../../src/domain/errors';
import { maintenanceWorkflowId, WORKFLOW_TYPES } from '../../src/domain/names';
import {
  callsFor,
  connectedStore,
  mutatingAccepted,
  outcomeOf,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import {
  LEAKED_SECRET,
  startController,
  testWebhookControllers,
  type Controller,
} from '../support/traffic-controller';

const SECRET = 'whsec-security-6b1e0f2d9c8a7b35';

let env: MaintenanceEnv;
let mesh: Controller;
let redirector: Controller;
let decoy: Controller;
let forged: Controller;
let leaky: Controller;
/** The same controller software at another address, sharing the secret (the "real" one of an attack). */
let twin: Controller;

beforeAll(async () => {
  [mesh, redirector, decoy, forged, leaky, twin] = await Promise.all([
    startController(SECRET, 'mesh'),
    startController(SECRET, 'redirector'),
    startController(SECRET, 'decoy'),
    startController(SECRET, 'forged'),
    startController(SECRET, 'leaky'),
    startController(SECRET, 'twin'),
  ]);
  redirector.mode = 'redirect';
  redirector.redirectTo = decoy.url;
  forged.mode = 'unsigned-status';
  leaky.mode = 'leaky-500';
  env = await startMaintenanceEnv(
    {},
    { webhookControllers: testWebhookControllers([mesh, redirector, forged, leaky]) },
  );
});
afterAll(async () => {
  await env?.close();
  await Promise.all([mesh, redirector, decoy, forged, leaky, twin].map((c) => c?.close()));
});

async function rawStart(id: string, drain: Record<string, unknown>) {
  const handle = await env.temporal.client.workflow.start(WORKFLOW_TYPES.maintenance, {
    taskQueue: env.taskQueue,
    workflowId: maintenanceWorkflowId(REGION, id),
    args: [{ ...env.request(id), drain }],
  });
  const error: unknown = await handle.result().then(
    () => undefined,
    (err: unknown) => err,
  );
  return (error as { cause?: { type?: string; message?: string } } | undefined)?.cause;
}

describe('a request cannot choose where the worker sends signed requests', () => {
  it('drain.url (a server of the caller) is refused where it enters, naming the field and the fix', async () => {
    const id = await connectedStore(env.control);
    const cause = await rawStart(id, { provider: 'webhook', url: 'http://169.254.169.254/latest/meta-data' });
    expect(cause?.type).toBe(FAILURE_TYPES.invalidRequest);
    expect(cause?.message).toMatch(
      /drain\.url: url is no longer accepted in a request: .*name one with "controller"/,
    );
    expect(await callsFor(env.control, id)).toEqual([]);
  });

  it('drain.secretEnv (picking a secret) is refused', async () => {
    const id = await connectedStore(env.control);
    const cause = await rawStart(id, {
      provider: 'webhook',
      controller: 'mesh',
      secretEnv: 'KEYSTORE_MAINT_WEBHOOK_SECRET_OTHER',
    });
    expect(cause?.type).toBe(FAILURE_TYPES.invalidRequest);
    expect(cause?.message).toMatch(/drain\.secretEnv/);
  });

  it('a controller the worker does not know is refused in preflight, naming the configured ones', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ customKeyStoreId: id, drain: { provider: 'webhook', controller: 'elsewhere' } }),
    );
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(
      /controller "elsewhere" is not one this worker may call \(configured: forged, leaky, mesh, redirector\)/,
    );
    expect(result.message).toContain('Nothing was changed');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });
});

describe('the signed request cannot be lifted', () => {
  it('a redirect is never followed: the server it points at receives nothing', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ customKeyStoreId: id, drain: { provider: 'webhook', controller: 'redirector' } }),
    );
    expect(redirector.requests.length).toBeGreaterThan(0);
    expect(decoy.requests).toEqual([]);
    expect(result.message).toMatch(/answered 307 \(a redirect\); redirects are never followed/);
    // The controller may have acted before redirecting: restore was owed and could not be sent.
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('a captured drain replayed to another URL, or replayed as is, is refused by the receiver', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ customKeyStoreId: id, drain: { provider: 'webhook', controller: 'mesh' } }),
    );
    expect(result.outcome).toBe('COMPLETED');
    const drain = mesh.requests.find((r) => r.method === 'POST' && r.body.includes('"drain"'));
    expect(drain?.accepted).toBe(true);
    const replay = (url: string) =>
      fetch(url, {
        method: 'POST',
        headers: Object.fromEntries(
          Object.entries(drain?.headers ?? {}).filter(
            ([k, v]) => k.startsWith('x-keystore-maint-') && typeof v === 'string',
          ),
        ) as Record<string, string>,
        body: drain?.body ?? '',
      });
    // The same controller software with the same secret, at another address: the URL is signed.
    const toTwin = await replay(twin.url);
    expect(toTwin.status).toBe(401);
    expect(await toTwin.text()).toBe('bad signature');
    expect(twin.actions()).toEqual([]);
    // The original controller: the nonce was already used.
    const again = await replay(mesh.url);
    expect(again.status).toBe(401);
    expect(await again.text()).toMatch(/replay/);
  });
});

describe("the controller's answers are authenticated", () => {
  it('an unsigned "drained" (a forger on the path) is not believed', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        customKeyStoreId: id,
        drain: { provider: 'webhook', controller: 'forged', timeout: '5s' },
      }),
    );
    expect(result.events.some((e) => e.action === 'traffic.verified')).toBe(false);
    expect(result.message).toMatch(/the answer is not signed by the controller/);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it("an error answer's secret never reaches the history, the audit trail or the result", async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      drain: { provider: 'webhook', controller: 'leaky' },
    });
    const result = await outcomeOf(handle);
    expect(result.message).toMatch(
      /answered 500 \(internal error: connect failed with db_password=\[REDACTED\]/,
    );
    const leaked = LEAKED_SECRET.split('=')[1] ?? '';
    expect(JSON.stringify(await handle.fetchHistory())).not.toContain(leaked);
    expect(JSON.stringify(env.audit.events)).not.toContain(leaked);
    expect(JSON.stringify(result)).not.toContain(leaked);
  });
});
