/**
 * keyStoreFleetMaintenance end to end: a real worker (with the default KMS budget of 4 calls per
 * second) on the real dev server, against the simulator with KMS's quota of 5 requests per second.
 * What the fleet promises is proven from Temporal's own records (child workflows, their start and
 * close times, continue-as-new) and from the simulator's call log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_FAILURE_TYPES } from '../../src/domain/fleet';
import { maintenanceWorkflowId } from '../../src/domain/names';
import type { MaintenanceStatus } from '../../src/domain/status';
import { InvalidFleetRequestError } from '../../src/fleet-client';
import { WORKFLOW_TYPES } from '../../src/domain/names';
import type { keyStoreFleetMaintenance } from '../../workflows/fleet';
import { endWindowNowUpdate, statusQuery } from '../../workflows/messages';
import {
  callsFor,
  connectedStore,
  eventually,
  mutatingAccepted,
  outcomeOf,
  REGION,
  rejectionOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
  DEFAULT_CONFIRM_SETTLE,
} from '../support/maintenance-env';
import {
  customKeyStoreCalls,
  everStarted,
  fleetClient,
  fleetRequest,
  fleetStatusWhen,
  peakPerOperation,
  uniqueFleetName,
} from './support';

let env: MaintenanceEnv;
beforeAll(async () => {
  // KMS's real quota; the worker keeps to its default budget of 4 calls per second below it.
  env = await startMaintenanceEnv({ quotaRps: 5 });
});
afterAll(async () => env?.close());

async function stores(n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await connectedStore(env.control, 'AWS_CLOUDHSM', extra));
  return ids;
}

const childId = (storeId: string) => maintenanceWorkflowId(REGION, storeId);

describe('keyStoreFleetMaintenance', () => {
  it('rolls through the stores one at a time, in list order, as children under each store’s lock', async () => {
    const ids = await stores(3);
    const client = fleetClient(env);
    const { workflowId } = await client.start(fleetRequest({ stores: ids }), { name: uniqueFleetName() });
    const result = await client.result(workflowId);

    expect(result.outcome).toBe('COMPLETED');
    expect(result.stores.map((s) => [s.customKeyStoreId, s.state])).toEqual(
      ids.map((id) => [id, 'COMPLETED']),
    );
    expect(result.counts).toMatchObject({ total: 3, completed: 3, errors: 0, skipped: 0 });
    // Temporal's record: each store ran as a child under its canonical id, after the one before.
    const spans = await Promise.all(
      ids.map(async (id) => {
        const d = await env.temporal.client.workflow.getHandle(childId(id)).describe();
        return {
          start: d.startTime.getTime(),
          end: d.closeTime?.getTime() ?? Infinity,
          parent: d.parentExecution,
        };
      }),
    );
    for (const span of spans) expect(span.parent?.workflowId).toBe(workflowId);
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i]?.start).toBeGreaterThanOrEqual(spans[i - 1]?.end ?? Infinity);
    }
    // KMS's record: every call for a store came after every call for the store before it.
    const calls = customKeyStoreCalls(await env.control.calls());
    const times = ids.map((id) =>
      calls.filter((c) => c.params.CustomKeyStoreId === id).map((c) => Date.parse(c.at)),
    );
    for (let i = 1; i < times.length; i++) {
      expect(Math.min(...(times[i] ?? []))).toBeGreaterThanOrEqual(Math.max(...(times[i - 1] ?? [])));
    }
    for (const id of ids) {
      expect(mutatingAccepted(await callsFor(env.control, id)).map((c) => c.operation)).toEqual([
        'DisconnectCustomKeyStore',
        'ConnectCustomKeyStore',
      ]);
    }
  });

  it('maxErrors stops the wave: stores after the threshold are never started and never called', async () => {
    // A DISCONNECTED store is refused at preflight: its run ends FAILED, nothing touched.
    const [bad1, ok1, bad2, ok2, ok3] = [
      ...(await stores(1, { ConnectionState: 'DISCONNECTED' })),
      ...(await stores(1)),
      ...(await stores(1, { ConnectionState: 'DISCONNECTED' })),
      ...(await stores(2)),
    ] as [string, string, string, string, string];
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({ stores: [bad1, ok1, bad2, ok2, ok3], maxErrors: 1 }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);

    // maxErrors 1 tolerates one failed run; the second stops the wave (SSM's MaxErrors rule).
    expect(result.outcome).toBe('STOPPED');
    expect(result.stores.map((s) => s.state)).toEqual([
      'FAILED',
      'COMPLETED',
      'FAILED',
      'SKIPPED',
      'SKIPPED',
    ]);
    expect(result.stores[3]?.message).toMatch(/not started: more than maxErrors \(1\)/);
    expect(result.message).toMatch(/stopped: 2 runs ended other than COMPLETED \(maxErrors 1\)/);
    // The fleet shows as failed in Temporal, its result in the failure.
    const failure: unknown = await env.temporal.client.workflow
      .getHandle<typeof keyStoreFleetMaintenance>(workflowId)
      .result()
      .catch((err: unknown) => err);
    expect((failure as { cause?: { type?: string } }).cause?.type).toBe(FLEET_FAILURE_TYPES.runsFailed);
    for (const id of [ok2, ok3]) {
      expect(await everStarted(env, childId(id))).toBe(false);
      expect(await callsFor(env.control, id)).toEqual([]);
    }
  });

  it('abort cancels every running child (each reconnects its store) and starts no more', async () => {
    const ids = await stores(4);
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        stores: ids,
        maxConcurrency: 2,
        request: {
          window: { duration: '5m' },
          pollInterval: '200ms',
          timeouts: { disconnect: '2m', connect: '2m' },
          confirmSettle: DEFAULT_CONFIRM_SETTLE,
        },
      }),
      { name: uniqueFleetName() },
    );
    const running = ids.slice(0, 2);
    for (const id of running) {
      await eventually(async () => {
        const status: MaintenanceStatus | undefined = await env.temporal.client.workflow
          .getHandle(childId(id))
          .query(statusQuery)
          .catch(() => undefined);
        return status?.phase === 'IN_WINDOW';
      }, `${id} IN_WINDOW`);
    }
    expect((await env.control.getStore(ids[0] ?? '')).ConnectionState).toBe('DISCONNECTED');

    const answer = await client.abort(workflowId, { by: 'ops@example.com', reason: 'vendor postponed' });
    expect(answer).toEqual({ accepted: true, cancelling: 2, notStarted: 2 });
    // An aborted fleet in which nothing failed returns its result (it does not fail).
    const result = await env.temporal.client.workflow
      .getHandle<typeof keyStoreFleetMaintenance>(workflowId)
      .result();

    expect(result.outcome).toBe('ABORTED');
    expect(result.abort).toMatchObject({ by: 'ops@example.com', reason: 'vendor postponed' });
    expect(result.stores.map((s) => s.state)).toEqual(['CANCELLED', 'CANCELLED', 'SKIPPED', 'SKIPPED']);
    for (const id of running) {
      const handle = env.temporal.client.workflow.getHandle(childId(id));
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      expect((await handle.query(statusQuery)).outcome).toBe('CANCELLED');
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
      expect(mutatingAccepted(await callsFor(env.control, id)).map((c) => c.operation)).toEqual([
        'DisconnectCustomKeyStore',
        'ConnectCustomKeyStore',
      ]);
    }
    for (const id of ids.slice(2)) {
      expect(await everStarted(env, childId(id))).toBe(false);
      expect(await callsFor(env.control, id)).toEqual([]);
    }
    expect(await rejectionOf(client.abort(workflowId, { by: 'ops@example.com', reason: 'again' }))).toMatch(
      /already (ended|completed)/,
    );
  });

  it('continues as new before the history grows, and keeps going until every store is done', async () => {
    const ids = await stores(5);
    const client = fleetClient(env);
    const { workflowId, runId } = await client.start(
      fleetRequest({ stores: ids, maxConcurrency: 2, continueAsNewAfterStores: 2 }),
      { name: uniqueFleetName() },
    );
    // After the first continue-as-new, the new run's status still covers the whole fleet.
    const midway = await fleetStatusWhen(client, workflowId, (s) => s.continuedAsNew >= 1, 'continue-as-new');
    expect(midway.stores.map((s) => s.customKeyStoreId)).toEqual(ids);
    expect(midway.stores.slice(0, 2).map((s) => s.state)).toEqual(['COMPLETED', 'COMPLETED']);

    const result = await client.result(workflowId);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.stores.map((s) => s.state)).toEqual(ids.map(() => 'COMPLETED'));
    // 2 + 2 + 1 stores: two continue-as-news.
    expect(result.continuedAsNew).toBe(2);
    const first = await env.temporal.client.workflow.getHandle(workflowId, runId).describe();
    expect(first.status.name).toBe('CONTINUED_AS_NEW');
  });

  it('stays within the KMS budget: 12 stores at once, quota 5/s, budget 4/s, no throttling', async () => {
    const ids = await stores(12);
    await env.control.clearCalls();
    const client = fleetClient(env);
    const { workflowId } = await client.start(fleetRequest({ stores: ids, maxConcurrency: 12 }), {
      name: uniqueFleetName(),
    });
    const result = await client.result(workflowId);

    expect(result.outcome).toBe('COMPLETED');
    expect(result.counts.completed).toBe(12);
    const calls = customKeyStoreCalls(await env.control.calls());
    expect(calls.filter((c) => c.outcome === 'ThrottlingException')).toEqual([]);
    // KMS's quotas are per operation: each stays within its own budget of 4 in every second.
    const peaks = peakPerOperation(calls);
    for (const [key, peak] of peaks) expect(peak, key).toBeLessThanOrEqual(4);
    // The budget was really under pressure (12 runs' calls queued for it), not idle.
    expect(Math.max(...peaks.values())).toBeGreaterThanOrEqual(3);
    expect(
      mutatingAccepted(calls)
        .map((c) => c.operation)
        .sort(),
    ).toEqual([
      ...Array<string>(12).fill('ConnectCustomKeyStore'),
      ...Array<string>(12).fill('DisconnectCustomKeyStore'),
    ]);
  });

  it('selects stores by name pattern in name order; a locked store counts as an error', async () => {
    const prefix = uniqueFleetName();
    const named = async (name: string) =>
      (await env.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', CustomKeyStoreName: name }))
        .CustomKeyStoreId;
    const c = await named(`${prefix}-c`);
    const a = await named(`${prefix}-a`);
    const b = await named(`${prefix}-b`);
    const other = await named(`${prefix}x-a`);
    // Another run holds b's lock for the whole fleet.
    const locker = await env.start({ customKeyStoreId: b, window: { duration: '5m' } });
    await eventually(async () => (await locker.query(statusQuery)).phase === 'IN_WINDOW', 'locker IN_WINDOW');

    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        namePattern: `${prefix}-*`,
        maxErrors: 1,
        request: { window: { duration: '1s' }, pollInterval: '200ms', dryRun: true },
      }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);
    expect(result.stores.map((s) => [s.customKeyStoreId, s.name, s.state])).toEqual([
      [a, `${prefix}-a`, 'COMPLETED'],
      [b, `${prefix}-b`, 'FAILED'],
      [c, `${prefix}-c`, 'COMPLETED'],
    ]);
    expect(result.stores[1]?.errorType).toBe('MaintenanceAlreadyRunning');
    expect(result.stores[1]?.message).toContain(childId(b));
    expect(result.outcome).toBe('COMPLETED_WITH_ERRORS');
    expect(await everStarted(env, childId(other))).toBe(false);

    await locker.executeUpdate(endWindowNowUpdate, { args: [{ by: 'test' }] });
    expect((await outcomeOf(locker)).outcome).toBe('COMPLETED');

    // A pattern that matches nothing starts nothing and says so.
    const none = await client.start(fleetRequest({ namePattern: `${prefix}-nothing-*` }), {
      name: uniqueFleetName(),
    });
    expect(await rejectionOf(env.temporal.client.workflow.getHandle(none.workflowId).result())).toMatch(
      /matched no custom key store/,
    );
  });

  it('refuses an invalid request: in the client before starting, and in the workflow itself', async () => {
    const client = fleetClient(env);
    const bad = fleetRequest({
      stores: ['cks-0123456789abcdef0', 'cks-0123456789abcdef0'],
      namePattern: 'prod-*',
      maxConcurrency: 0,
      request: { window: { until: '2030-01-01T00:00:00Z' } },
    });
    const error = await client.start(bad).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InvalidFleetRequestError);
    const problems = (error as InvalidFleetRequestError).problems.join('\n');
    expect(problems).toMatch(/exactly one of "stores".*"namePattern".*"locations"/);
    expect(problems).toMatch(/maxConcurrency/);
    expect(problems).toMatch(/more than once/);
    expect(problems).toMatch(/request.window: a fleet needs a duration/);

    // Started raw (as the Temporal UI would), the workflow refuses it too.
    const raw = await env.temporal.client.workflow.start(WORKFLOW_TYPES.fleet, {
      taskQueue: env.taskQueue,
      workflowId: `keystore-maint-fleet/${REGION}/${uniqueFleetName()}`,
      args: [bad],
    });
    const failure: unknown = await raw.result().catch((err: unknown) => err);
    expect((failure as { cause?: { type?: string } }).cause?.type).toBe(FLEET_FAILURE_TYPES.invalidRequest);
  });
});
