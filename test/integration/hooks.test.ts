/**
 * Hooks on the real dev server (docs/hooks.md), called by a real worker through a local HTTP
 * receiver that verifies every request's signature and signs its answers: a `beforeDrain` veto
 * cancels the run before anything is touched (the simulator's call log), an allowing answer's
 * ticket lands in the audit trail, a hook that never answers is a veto unless the request says
 * "proceed" (and holds the run no longer than its timeout), and the after points are told the
 * outcome without being able to change it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookPayload } from '../../src/domain/hooks';
import type { MaintenanceResult } from '../../src/domain/status';
import { gatesConfig } from '../../src/gates/config';
import {
  startGateServer,
  type GateAnswer,
  type GateServer,
  type ReceivedRequest,
} from '../gates/gate-server';
import { fleetClient, fleetRequest, uniqueFleetName } from '../fleet/support';
import {
  callsFor,
  connectedStore,
  mutatingAccepted,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

const SECRET = 'hook-signing-secret-for-tests-0123456789';
const HOOK_TIMEOUT_MS = 2_000;

let env: MaintenanceEnv;
let receiver: GateServer;
let dir: string;
/** When each request reached the receiver (epoch ms), in order. */
const receivedAt: number[] = [];
/** How the receiver answers, per point; a point without an answer here gets `{"allow": true}`. */
let answers: Partial<Record<HookPayload['point'], GateAnswer>> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keystore-maint-hooks-'));
  writeFileSync(join(dir, 'hook-secret'), SECRET);
  receiver = await startGateServer({ secret: SECRET, path: '/change' });
  receiver.answer = (request) => {
    receivedAt.push(Date.now());
    const payload = JSON.parse(request.body) as HookPayload;
    return answers[payload.point] ?? { body: { allow: true } };
  };
  const base = receiver.url.replace(/\/change$/, '');
  const secretFile = join(dir, 'hook-secret');
  const timeout = `${HOOK_TIMEOUT_MS}ms`;
  env = await startMaintenanceEnv(
    {},
    {
      gatesConfig: gatesConfig(
        {
          hooks: {
            'change-mgmt': { url: `${base}/change`, secretFile, timeout },
            pager: { url: `${base}/pager?team=kms`, secretFile, timeout },
          },
        },
        { allowHttp: true },
      ),
    },
  );
}, 90_000);

afterAll(async () => {
  await env?.close();
  await receiver?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the receiver got for one store, with each request's payload. */
function receivedFor(id: string): (ReceivedRequest & { payload: HookPayload; at: number })[] {
  return receiver.received
    .map((request, index) => ({
      ...request,
      payload: JSON.parse(request.body) as HookPayload,
      at: receivedAt[index] ?? 0,
    }))
    .filter((r) => r.payload.customKeyStoreId === id);
}

function hookEvents(result: MaintenanceResult, point: string) {
  return result.events.filter((e) => e.action === `hook.${point}`);
}

describe('beforeDrain', () => {
  it('a veto ends the run CANCELLED with the reason, and nothing is touched', async () => {
    answers = {
      beforeDrain: { body: { allow: false, reason: 'change freeze until Monday', ticket: 'CHG-9' } },
    };
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        ticket: 'INC-1',
        hooks: { beforeDrain: { hook: 'change-mgmt' } },
      }),
    );
    expect(result.outcome).toBe('CANCELLED');
    expect(result.message).toContain('vetoed the drain (beforeDrain): change freeze until Monday');
    expect(result.message).toContain('Nothing was changed');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect(result.timeline.map((s) => s.phase)).not.toContain('DRAINING');

    const [event] = hookEvents(result, 'beforeDrain');
    expect(event).toMatchObject({
      outcome: 'refused',
      detail: { decision: 'vetoed', hook: 'change-mgmt', allow: false, ticket: 'CHG-9' },
    });
    expect(result.hooks?.beforeDrain).toMatchObject({
      decision: 'vetoed',
      reason: 'change freeze until Monday',
    });

    // What the hook was told, signed by the worker.
    const [request] = receivedFor(id);
    expect(request?.signatureOk).toBe(true);
    expect(request?.payload).toMatchObject({
      point: 'beforeDrain',
      workflowId: result.workflowId,
      runId: result.runId,
      customKeyStoreId: id,
      region: 'us-east-1',
      requestedBy: 'tester@example.com',
      reason: 'integration test',
      ticket: 'INC-1',
      phase: 'PREFLIGHT',
    });
    expect(request?.payload.message).toMatch(/about to drain traffic/);
    expect(request?.body).not.toContain(SECRET);
  }, 60_000);

  it('an allowing answer proceeds, its ticket is audited, and afterRestore is told the outcome', async () => {
    answers = {
      beforeDrain: { body: { allow: true, reason: 'approved by CAB', ticket: 'CHG-123' } },
      afterRestore: { body: { allow: true, ticket: 'CHG-123', reason: 'change closed' } },
    };
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        hooks: { beforeDrain: { hook: 'change-mgmt' }, afterRestore: { hook: 'change-mgmt' } },
      }),
    );
    expect(result.outcome).toBe('COMPLETED');
    const [before] = hookEvents(result, 'beforeDrain');
    expect(before).toMatchObject({
      outcome: 'ok',
      detail: { decision: 'allowed', ticket: 'CHG-123', reason: 'approved by CAB' },
    });
    const actions = result.events.map((e) => e.action);
    expect(actions.indexOf('hook.beforeDrain')).toBeLessThan(actions.indexOf('traffic.drained'));
    expect(actions.indexOf('hook.beforeDrain')).toBeLessThan(actions.indexOf('kms.disconnect'));

    const after = receivedFor(id).filter((r) => r.payload.point === 'afterRestore');
    expect(after).toHaveLength(1);
    expect(after[0]?.signatureOk).toBe(true);
    expect(after[0]?.payload).toMatchObject({
      outcome: 'COMPLETED',
      phase: 'COMPLETED',
      customKeyStoreId: id,
    });
    expect(after[0]?.payload.message).toMatch(/completed; store CONNECTED/);
    expect(hookEvents(result, 'afterRestore')[0]).toMatchObject({
      outcome: 'ok',
      detail: { decision: 'ok', ticket: 'CHG-123', reason: 'change closed' },
    });
    expect(result.hooks?.afterRestore).toMatchObject({ decision: 'ok', ticket: 'CHG-123' });
  }, 60_000);

  it('a hook that never answers is a veto by default, decided within its timeout', async () => {
    answers = { beforeDrain: { body: { allow: true }, delayMs: 10_000 } };
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ ...env.request(id), hooks: { beforeDrain: { hook: 'change-mgmt' } } }),
    );
    expect(result.outcome).toBe('CANCELLED');
    expect(result.message).toMatch(/gave no answer before the drain \(no answer within 2 s\).*fails closed/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
    expect(hookEvents(result, 'beforeDrain')[0]).toMatchObject({
      outcome: 'refused',
      detail: { decision: 'vetoed', answered: false, onNoAnswer: 'veto' },
      error: { type: 'HookNoAnswer' },
    });
    expect(result.hooks?.beforeDrain?.elapsedMs).toBeLessThan(HOOK_TIMEOUT_MS + 1_000);
  }, 60_000);

  it('with onNoAnswer "proceed" the run goes ahead once the timeout has passed, no later', async () => {
    answers = { beforeDrain: { body: { allow: true }, delayMs: 10_000 } };
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        hooks: { beforeDrain: { hook: 'change-mgmt', onNoAnswer: 'proceed' } },
      }),
    );
    expect(result.outcome).toBe('COMPLETED');
    expect(hookEvents(result, 'beforeDrain')[0]).toMatchObject({
      outcome: 'info',
      detail: { decision: 'proceeded', answered: false },
    });
    // The drain began within the hook's timeout (plus scheduling) of the hook being asked.
    const asked = receivedFor(id)[0]?.at ?? 0;
    const draining = Date.parse(result.timeline.find((s) => s.phase === 'DRAINING')?.startedAt ?? '');
    expect(draining - asked).toBeGreaterThanOrEqual(HOOK_TIMEOUT_MS - 100);
    expect(draining - asked).toBeLessThan(HOOK_TIMEOUT_MS + 1_500);
  }, 60_000);
});

describe('after the outcome', () => {
  it('a failing afterRestore is audited as failed and the run still COMPLETED', async () => {
    answers = { afterRestore: { status: 500, body: 'change system down' } };
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ ...env.request(id), hooks: { afterRestore: { hook: 'change-mgmt' } } }),
    );
    expect(result.outcome).toBe('COMPLETED');
    expect(result.trafficRestored).toBe(true);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const [event] = hookEvents(result, 'afterRestore');
    expect(event).toMatchObject({
      outcome: 'failed',
      detail: { decision: 'failed', answered: false, status: 500 },
      error: { type: 'HookNoAnswer' },
    });
    expect(event?.error?.message).toContain('answered HTTP 500 (change system down)');
    // A 5xx may pass: asked again within the timeout.
    expect(receivedFor(id).length).toBeGreaterThan(1);
    expect(result.hooks?.afterRestore?.decision).toBe('failed');
  }, 60_000);

  it('onNeedsAttention is told, and its failure leaves NEEDS_ATTENTION as it was', async () => {
    answers = { onNeedsAttention: { status: 200, body: { ok: true }, sign: false } };
    const id = await connectedStore(env.control);
    await env.control.patchStore(id, { connectOutcome: { failWith: 'USER_LOGGED_IN', times: 5 } });
    const handle = await env.start({
      ...env.request(id),
      hooks: { onNeedsAttention: { hook: 'pager' }, afterRestore: { hook: 'change-mgmt' } },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.connectionError?.code).toBe('USER_LOGGED_IN');
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('FAILED');

    const told = receivedFor(id);
    expect(told.map((r) => r.payload.point)).toEqual(['onNeedsAttention']);
    expect(told[0]?.signatureOk).toBe(true);
    expect(told[0]?.payload).toMatchObject({ outcome: 'NEEDS_ATTENTION', phase: 'NEEDS_ATTENTION' });
    expect(told[0]?.payload.message).toMatch(/^NEEDS ATTENTION: .*USER_LOGGED_IN/);
    // The answer was not signed, so it is not believed: recorded as failed, nothing else changes.
    expect(hookEvents(result, 'onNeedsAttention')[0]).toMatchObject({
      outcome: 'failed',
      detail: { decision: 'failed', hook: 'pager' },
    });
    expect(result.hooks?.onNeedsAttention?.error).toMatch(/the answer is not believed/);
    expect(result.message).toMatch(/^NEEDS ATTENTION: /);
  }, 90_000);
});

describe('fleet hooks', () => {
  it('a beforeFleet veto starts no store; afterFleet hears how the fleet ended', async () => {
    answers = { beforeFleet: { body: { allow: false, reason: 'change freeze until Monday' } } };
    const ids = [await connectedStore(env.control), await connectedStore(env.control)];
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        stores: ids,
        hooks: { beforeFleet: { hook: 'change-mgmt' }, afterFleet: { hook: 'pager' } },
      }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);
    expect(result.outcome).toBe('ABORTED');
    expect(result.message).toContain('change freeze until Monday');
    expect(result.stores.map((s) => s.state)).toEqual(['SKIPPED', 'SKIPPED']);
    expect(result.hooks?.beforeFleet).toMatchObject({
      decision: 'vetoed',
      reason: 'change freeze until Monday',
    });
    expect(result.hooks?.afterFleet).toMatchObject({ decision: 'ok' });
    for (const id of ids) expect(await callsFor(env.control, id)).toEqual([]);
    const points = receiver.received
      .map((r) => JSON.parse(r.body) as HookPayload)
      .filter((p) => p.workflowId === workflowId);
    expect(points.map((p) => p.point)).toEqual(['beforeFleet', 'afterFleet']);
    expect(points[0]?.stores).toEqual(ids);
    expect(points[1]?.outcome).toBe('ABORTED');
  }, 60_000);

  it('an allowing beforeFleet lets every store run', async () => {
    answers = { beforeFleet: { body: { allow: true, ticket: 'CHG-9' } } };
    const ids = [await connectedStore(env.control)];
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({ stores: ids, hooks: { beforeFleet: { hook: 'change-mgmt' } } }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.hooks?.beforeFleet).toMatchObject({ decision: 'allowed', ticket: 'CHG-9' });
    expect(mutatingAccepted(await callsFor(env.control, ids[0] ?? '')).map((c) => c.operation)).toEqual([
      'DisconnectCustomKeyStore',
      'ConnectCustomKeyStore',
    ]);
  }, 90_000);
});
