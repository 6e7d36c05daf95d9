/**
 * Fleets over many accounts and Regions (docs/fleet.md, "Locations"), on the real dev server and
 * the simulator: stores in three accounts × two Regions reached through an assumed execution role,
 * a location whose role cannot be assumed, single runs in another account, and the shared poller.
 * Every assertion reads the simulator's ground truth: its store states and its call log, which
 * records the account, Region and principal of every request.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintenanceWorkflowId } from '../../src/domain/names';
import type { SimCall } from '../../src/sim';
import {
  isListing,
  mutatingAccepted,
  outcomeOf,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { customKeyStoreCalls, fleetClient, fleetRequest, peakPerOperation, uniqueFleetName } from './support';

/** The simulator's default account: the one the worker's own credentials are in. */
const WORKER_ACCOUNT = '111122223333';
const OTHER_REGION = 'eu-west-1';
const ACCOUNTS = ['222200000001', '222200000002', '222200000003'] as const;
/** An account whose role trusts nobody the worker can be. */
const LOCKED_ACCOUNT = '222200000009';
const ROLE = 'KeystoreMaintExecution';
const EXTERNAL_ID = 'keystore-maint-test';

let env: MaintenanceEnv;
beforeAll(async () => {
  // KMS's real quota, per account, Region and operation; the worker keeps to its budget of 4.
  env = await startMaintenanceEnv({ quotaRps: 5, regions: [REGION, OTHER_REGION], storeLimit: 10 });
  for (const account of ACCOUNTS) {
    await env.control.createRole({
      Account: account,
      RoleName: ROLE,
      TrustedAccounts: [WORKER_ACCOUNT],
      ExternalId: EXTERNAL_ID,
    });
  }
  await env.control.createRole({
    Account: LOCKED_ACCOUNT,
    RoleName: ROLE,
    TrustedAccounts: ['999999999999'],
  });
});
afterAll(async () => env?.close());

async function storeIn(account: string, region: string): Promise<string> {
  const store = await env.control.createStore({
    Account: account,
    Region: region,
    CustomKeyStoreType: 'AWS_CLOUDHSM',
    CustomKeyStoreName: `loc-${randomUUID().slice(0, 8)}`,
    ConnectionState: 'CONNECTED',
  });
  return store.CustomKeyStoreId;
}

function roleSession(account: string, storeId: string): string {
  return `arn:aws:sts::${account}:assumed-role/${ROLE}/keystore-maint-${storeId}`;
}

async function stateOf(storeId: string): Promise<string | undefined> {
  return (await env.control.getStore(storeId)).ConnectionState;
}

describe('a fleet over locations', () => {
  it('maintains stores in 3 accounts × 2 Regions through the assumed role, each under its own lock', async () => {
    const placed: { account: string; region: string; id: string }[] = [];
    for (const account of ACCOUNTS) {
      for (const region of [REGION, OTHER_REGION]) {
        for (let i = 0; i < 2; i++) placed.push({ account, region, id: await storeIn(account, region) });
      }
    }
    // A store in the same accounts that the pattern does not select.
    const bystander = await env.control.createStore({
      Account: ACCOUNTS[0],
      Region: REGION,
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: `other-${randomUUID().slice(0, 8)}`,
      ConnectionState: 'CONNECTED',
    });
    await env.control.clearCalls();
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        locations: [
          {
            accounts: [...ACCOUNTS],
            regions: [REGION, OTHER_REGION],
            executionRole: ROLE,
            externalId: EXTERNAL_ID,
            namePattern: 'loc-*',
            maxConcurrency: 4,
          },
        ],
        maxConcurrency: 12,
      }),
      { name: uniqueFleetName() },
    );
    expect(workflowId).toMatch(/^keystore-maint-fleet\/locations\//);
    const result = await client.result(workflowId);

    expect(result.outcome).toBe('COMPLETED');
    expect(result.counts).toMatchObject({ total: 12, completed: 12, errors: 0 });
    expect(result.targets?.map((t) => [t.account, t.region, t.state, t.stores])).toEqual(
      ACCOUNTS.flatMap((a) => [
        [a, REGION, 'READY', 2],
        [a, OTHER_REGION, 'READY', 2],
      ]),
    );
    expect(result.locations?.[0]).toMatchObject({
      failedTargets: 0,
      stopped: false,
      counts: { completed: 12 },
    });

    // Ground truth: every store is back, the bystander was never touched.
    for (const p of placed) expect(await stateOf(p.id), p.id).toBe('CONNECTED');
    const calls = await env.control.calls();
    expect(calls.some((c) => JSON.stringify(c.params).includes(bystander.CustomKeyStoreId))).toBe(false);
    // Each store was disconnected and connected exactly once, in its own account and Region, by
    // the role session named after it (what CloudTrail would show there).
    for (const p of placed) {
      const mutations = mutatingAccepted(calls.filter((c) => c.params.CustomKeyStoreId === p.id));
      expect(
        mutations.map((c) => c.operation),
        p.id,
      ).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);
      for (const m of mutations) {
        expect(m.account).toBe(p.account);
        expect(m.region).toBe(p.region);
        expect(m.principal).toBe(roleSession(p.account, p.id));
      }
      // The per-store lock includes the account.
      const child = await env.temporal.client.workflow
        .getHandle(maintenanceWorkflowId(p.region, p.id, p.account))
        .describe();
      expect(child.parentExecution?.workflowId).toBe(workflowId);
    }
    // The roles were assumed through STS, with the ExternalId; no KMS call ran as the worker
    // itself in those accounts.
    const assumed = calls.filter((c) => c.operation === 'AssumeRole' && c.outcome === 'ok');
    expect(new Set(assumed.map((c) => String(c.params.RoleArn)))).toEqual(
      new Set(ACCOUNTS.map((a) => `arn:aws:iam::${a}:role/${ROLE}`)),
    );
    for (const c of customKeyStoreCalls(calls)) expect(c.principal ?? '').toContain(':assumed-role/');
    // No throttling, and each (account, Region, operation) stayed within its budget of 4.
    expect(calls.filter((c) => c.outcome === 'ThrottlingException')).toEqual([]);
    for (const [key, peak] of peakPerOperation(calls)) expect(peak, key).toBeLessThanOrEqual(4);
    // The audit trail names the account and the role of every event of each store's run.
    const events = env.audit.events.filter((e) => placed.some((p) => p.id === e.detail.customKeyStoreId));
    const kmsEvents = events.filter((e) => e.action.startsWith('kms.'));
    expect(kmsEvents.length).toBeGreaterThanOrEqual(placed.length);
    for (const e of kmsEvents) {
      const p = placed.find((x) => x.id === e.detail.customKeyStoreId);
      expect(e.detail.account).toBe(p?.account);
      expect(e.detail.roleArn).toBe(`arn:aws:iam::${p?.account}:role/${ROLE}`);
      expect(e.detail.roleSessionName).toBe(`keystore-maint-${p?.id}`);
    }
    // Credentials never reach the audit trail.
    expect(JSON.stringify(events)).not.toMatch(/SessionToken|SecretAccessKey|ASIA[A-Z0-9]{12}/);
  });

  it('a role that cannot be assumed fails its location only, loudly, within maxErrors', async () => {
    const good = [await storeIn(ACCOUNTS[0], REGION), await storeIn(ACCOUNTS[1], OTHER_REGION)];
    const locked = await storeIn(LOCKED_ACCOUNT, REGION);
    await env.control.clearCalls();
    const client = fleetClient(env);
    const name = uniqueFleetName();
    const { workflowId } = await client.start(
      fleetRequest({
        locations: [
          { accounts: [LOCKED_ACCOUNT], regions: [REGION], executionRole: ROLE, maxErrors: 0 },
          {
            accounts: [ACCOUNTS[0]],
            regions: [REGION],
            executionRole: ROLE,
            externalId: EXTERNAL_ID,
            stores: [good[0] ?? ''],
          },
          {
            accounts: [ACCOUNTS[1]],
            regions: [OTHER_REGION],
            executionRole: ROLE,
            externalId: EXTERNAL_ID,
            stores: [good[1] ?? ''],
          },
        ],
        maxConcurrency: 2,
        maxErrors: 1,
      }),
      { name },
    );
    const status = await client.result(workflowId);
    expect(status.outcome).toBe('COMPLETED_WITH_ERRORS');
    const failed = status.targets?.find((t) => t.account === LOCKED_ACCOUNT);
    expect(failed).toMatchObject({ state: 'FAILED', errorType: 'ExecutionRoleNotAssumable' });
    expect(failed?.message).toContain(`arn:aws:iam::${LOCKED_ACCOUNT}:role/${ROLE}`);
    expect(status.message).toContain(`Not listed: ${LOCKED_ACCOUNT}/${REGION} (ExecutionRoleNotAssumable)`);
    expect(status.locations?.map((l) => l.stopped)).toEqual([true, false, false]);
    // The other locations ran; nothing at all reached the locked account's KMS.
    expect(status.stores.map((s) => [s.customKeyStoreId, s.state])).toEqual([
      [good[0], 'COMPLETED'],
      [good[1], 'COMPLETED'],
    ]);
    const calls = await env.control.calls();
    expect(calls.filter((c) => c.account === LOCKED_ACCOUNT && c.operation !== 'AssumeRole')).toEqual([]);
    expect(
      calls.filter((c) => c.operation === 'AssumeRole' && c.outcome === 'AccessDenied').length,
    ).toBeGreaterThan(0);
    expect(await stateOf(locked)).toBe('CONNECTED');
    for (const id of good) expect(await stateOf(id)).toBe('CONNECTED');
  });

  it('with maxErrors 0 a failed location stops the whole fleet before any store is touched', async () => {
    const good = await storeIn(ACCOUNTS[2], REGION);
    await env.control.clearCalls();
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        locations: [
          { accounts: [LOCKED_ACCOUNT], regions: [REGION], executionRole: ROLE },
          {
            accounts: [ACCOUNTS[2]],
            regions: [REGION],
            executionRole: ROLE,
            externalId: EXTERNAL_ID,
            stores: [good],
          },
        ],
      }),
      { name: uniqueFleetName() },
    );
    const status = await client.result(workflowId);
    expect(status.outcome).toBe('STOPPED');
    expect(status.stores).toEqual([expect.objectContaining({ customKeyStoreId: good, state: 'SKIPPED' })]);
    expect(mutatingAccepted(await env.control.calls())).toEqual([]);
  });
});

describe('a single run in another account', () => {
  it('runs under keystore-maint/<account>/<region>/<store> as the role', async () => {
    const id = await storeIn(ACCOUNTS[1], OTHER_REGION);
    await env.control.clearCalls();
    const handle = await env.start({
      customKeyStoreId: id,
      region: OTHER_REGION,
      account: ACCOUNTS[1],
      executionRole: ROLE,
      externalId: EXTERNAL_ID,
    });
    expect(handle.workflowId).toBe(`keystore-maint/${ACCOUNTS[1]}/${OTHER_REGION}/${id}`);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(await stateOf(id)).toBe('CONNECTED');
    const mutations = mutatingAccepted(await env.control.calls());
    expect(mutations.map((c) => [c.operation, c.account, c.region, c.principal])).toEqual([
      ['DisconnectCustomKeyStore', ACCOUNTS[1], OTHER_REGION, roleSession(ACCOUNTS[1], id)],
      ['ConnectCustomKeyStore', ACCOUNTS[1], OTHER_REGION, roleSession(ACCOUNTS[1], id)],
    ]);
  });

  it('a run started under the old id form for an account-qualified request moves to the account lock', async () => {
    const id = await storeIn(ACCOUNTS[0], REGION);
    const handle = await env.temporal.client.workflow.start('keyStoreMaintenance', {
      taskQueue: env.taskQueue,
      workflowId: maintenanceWorkflowId(REGION, id),
      args: [{ ...env.request(id), account: ACCOUNTS[0], executionRole: ROLE, externalId: EXTERNAL_ID }],
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const canonical = await env.temporal.client.workflow
      .getHandle(maintenanceWorkflowId(REGION, id, ACCOUNTS[0]))
      .describe();
    expect(canonical.status.name).toBe('COMPLETED');
    expect(canonical.parentExecution?.workflowId).toBe(maintenanceWorkflowId(REGION, id));
  });

  it('an account without a role must be the worker’s own: another account is refused before any call', async () => {
    const id = await storeIn(ACCOUNTS[2], REGION);
    await env.control.clearCalls();
    const refused = await outcomeOf(await env.start({ customKeyStoreId: id, account: ACCOUNTS[2] }));
    expect(refused.outcome).toBe('FAILED');
    expect(JSON.stringify(refused)).toContain('AccountMismatch');
    expect(customKeyStoreCalls(await env.control.calls())).toEqual([]);
    expect(await stateOf(id)).toBe('CONNECTED');

    // The worker's own account, named: accepted, and locked under the account-qualified id.
    const own = await env.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: `own-${randomUUID().slice(0, 8)}`,
      ConnectionState: 'CONNECTED',
    });
    const ok = await outcomeOf(
      await env.start({ customKeyStoreId: own.CustomKeyStoreId, account: WORKER_ACCOUNT }),
    );
    expect(ok.outcome).toBe('COMPLETED');
  });
});

describe('shared polling', () => {
  it('serves many waiting runs of one account-Region with one listing per interval', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await storeIn(ACCOUNTS[0], OTHER_REGION));
    // Slow transitions: every run spends a while waiting for DISCONNECTED and for CONNECTED.
    for (const id of ids)
      await env.control.patchStore(id, { disconnectDelayMs: 4_000, connectDelayMs: 4_000 });
    await env.control.clearCalls();
    const handles = await Promise.all(
      ids.map((id) =>
        env.start({
          customKeyStoreId: id,
          region: OTHER_REGION,
          account: ACCOUNTS[0],
          executionRole: ROLE,
          externalId: EXTERNAL_ID,
          pollInterval: '1s',
        }),
      ),
    );
    const results = await Promise.all(handles.map((h) => outcomeOf(h)));
    expect(results.map((r) => r.outcome)).toEqual(ids.map(() => 'COMPLETED'));
    for (const id of ids) expect(await stateOf(id)).toBe('CONNECTED');

    const calls = (await env.control.calls()).filter(
      (c) => c.account === ACCOUNTS[0] && c.region === OTHER_REGION,
    );
    const listings = calls.filter(isListing);
    const span = spanSeconds(calls);
    // Eight runs waited through ~16 s of transitions each; their polls were listings, at most
    // about one per second (the poll interval) for all of them together.
    expect(listings.length).toBeGreaterThan(4);
    expect(listings.length).toBeLessThanOrEqual(Math.ceil(span) + 2);
    expect(
      peakPerOperation(listings).get(`${ACCOUNTS[0]}/${OTHER_REGION}/DescribeCustomKeyStores`),
    ).toBeLessThanOrEqual(2);
    // Per store, the reads it made itself are the one-off reads (preflight, before each
    // mutation, re-reads), not one per poll.
    for (const id of ids) {
      const own = calls.filter(
        (c) => c.operation === 'DescribeCustomKeyStores' && c.params.CustomKeyStoreId === id,
      );
      expect(own.length, id).toBeLessThanOrEqual(6);
    }
    const waited = results.flatMap((r) => r.events.filter((e) => e.action === 'wait.completed'));
    expect(waited.length).toBe(ids.length * 2);
    const polls = waited.reduce((n, e) => n + Number(e.detail.polls), 0);
    // The runs saw many more answers than KMS was asked for: the listings were shared.
    expect(polls).toBeGreaterThan(listings.length * 2);
  });
});

function spanSeconds(calls: readonly SimCall[]): number {
  if (!calls.length) return 0;
  const times = calls.map((c) => Date.parse(c.at));
  return (Math.max(...times) - Math.min(...times)) / 1000;
}
