/**
 * keyStoreMaintenance end to end: a real worker on the real dev server, against the KMS
 * simulator through the real AWS SDK. Each assertion on KMS behaviour reads the simulator's call
 * log, so "nothing was changed" is proven, not assumed.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHASES } from '../../src/domain/phases';
import type { MaintenanceStatus } from '../../src/domain/status';
import {
  abortUpdate,
  endWindowNowUpdate,
  extendWindowUpdate,
  approveUpdate,
  statusQuery,
} from '../../workflows/messages';
import {
  callsFor,
  connectedStore,
  eventually,
  isListing,
  mutatingAccepted,
  outcomeOf,
  rejectionOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
beforeAll(async () => {
  env = await startMaintenanceEnv();
});
afterAll(async () => env?.close());

function phasesOf(result: { timeline: readonly { phase: string }[] }): string[] {
  return result.timeline.map((span) => span.phase);
}

async function waitForPhase(
  handle: { query: (q: typeof statusQuery) => Promise<MaintenanceStatus> },
  phase: string,
): Promise<MaintenanceStatus> {
  return eventually(async () => {
    const status = await handle.query(statusQuery);
    return status.phase === phase ? status : undefined;
  }, `phase ${phase}`);
}

describe('keyStoreMaintenance', () => {
  it('happy path: phases in order, store CONNECTED, exactly one disconnect and one connect', async () => {
    const id = await connectedStore(env.control, 'EXTERNAL_KEY_STORE');
    const handle = await env.start({ customKeyStoreId: id });
    const result = await outcomeOf(handle);

    expect(result.outcome).toBe('COMPLETED');
    expect(phasesOf(result)).toEqual([
      'PREFLIGHT',
      'DRAINING',
      'DISCONNECTING',
      'WAITING_DISCONNECTED',
      'IN_WINDOW',
      'RECONNECTING',
      'WAITING_CONNECTED',
      'VERIFYING',
      'RESTORING',
      'COMPLETED',
    ]);
    const store = await env.control.getStore(id);
    expect(store.ConnectionState).toBe('CONNECTED');
    const accepted = mutatingAccepted(await callsFor(env.control, id));
    expect(accepted.map((c) => c.operation)).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);
    // Every KMS mutation is audited with the request id the simulator gave it.
    const audited = env.audit.forRun(handle.firstExecutionRunId);
    const disconnectEvent = audited.find((e) => e.action === 'kms.disconnect');
    expect(disconnectEvent?.detail.kms?.requestId).toBe(accepted[0]?.requestId);
    expect(audited.map((e) => e.seq)).toEqual(audited.map((_, i) => i + 1));
    expect(audited.filter((e) => e.action === 'wait.completed')).toHaveLength(2);
  });

  it('waits for approval, then proceeds; the approver is recorded', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, approval: { required: true, timeout: '1m' } });
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
    const answer = await handle.executeUpdate(approveUpdate, { args: [{ by: 'approver@example.com' }] });
    expect(answer.alreadyApproved).toBe(false);
    const again = await handle.executeUpdate(approveUpdate, { args: [{ by: 'someone-else@example.com' }] });
    expect(again).toMatchObject({ alreadyApproved: true, approvedBy: 'approver@example.com' });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.approval.approvedBy).toBe('approver@example.com');
  });

  it('an approval timeout cancels the run without a single mutating KMS call', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, approval: { required: true, timeout: '1s' } });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.message).toMatch(/no approval within 1s/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('extendWindow and endWindowNow move the end; invalid extensions are rejected', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '20s' }, maxWindow: '1m' });
    const inWindow = await waitForPhase(handle, 'IN_WINDOW');
    const initialEnd = Date.parse(inWindow.window.endsAt ?? '');

    const extended = await handle.executeUpdate(extendWindowUpdate, {
      args: [{ by: 'ops@example.com', duration: '10s' }],
    });
    expect(Date.parse(extended.windowEndsAt) - initialEnd).toBe(10_000);

    expect(
      await rejectionOf(
        handle.executeUpdate(extendWindowUpdate, { args: [{ by: 'ops@example.com', duration: '1h' }] }),
      ),
    ).toMatch(/past maxWindow \(latest end .*\); extend by at most/);
    expect(
      await rejectionOf(
        handle.executeUpdate(extendWindowUpdate, { args: [{ by: 'ops@example.com', duration: 'soon' }] }),
      ),
    ).toMatch(/not a positive duration/);
    expect(
      await rejectionOf(handle.executeUpdate(extendWindowUpdate, { args: [{ by: '', duration: '1m' }] })),
    ).toMatch(/"by" is required/);

    const ended = await handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'ops@example.com' }] });
    expect(Date.parse(ended.windowEndsAt)).toBeLessThan(initialEnd);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.extensions).toHaveLength(1);
    expect(result.windowEndedEarlyBy).toBe('ops@example.com');
    // Outside the window the updates are refused.
    expect(
      await rejectionOf(handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'ops@example.com' }] })),
    ).toMatch(/already completed/);
  });

  it('abort during the window reconnects the store and ends CANCELLED', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '5m' } });
    await waitForPhase(handle, 'IN_WINDOW');
    const answer = await handle.executeUpdate(abortUpdate, {
      args: [{ by: 'ops@example.com', reason: 'vendor postponed' }],
    });
    expect(answer.phase).toBe('IN_WINDOW');
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.abort).toMatchObject({ by: 'ops@example.com', reason: 'vendor postponed' });
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect(mutatingAccepted(await callsFor(env.control, id)).map((c) => c.operation)).toEqual([
      'DisconnectCustomKeyStore',
      'ConnectCustomKeyStore',
    ]);
  });

  it('workflow cancellation reconnects the store before the run is marked cancelled', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, window: { duration: '5m' } });
    await waitForPhase(handle, 'IN_WINDOW');
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    const description = await handle.describe();
    expect(description.status.name).toBe('CANCELLED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const status = await handle.query(statusQuery);
    expect(status.outcome).toBe('CANCELLED');
    expect(phasesOf(status)).toContain('WAITING_CONNECTED');
  });

  it('eventual consistency: a stale CONNECTED after Disconnect is waited out', async () => {
    const id = await connectedStore(env.control, 'AWS_CLOUDHSM', { consistencyLagMs: 1500 });
    const handle = await env.start({ customKeyStoreId: id, confirmSettle: '2s' });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    // The store's own reads, and the shared poller's listings (which read every store).
    const calls = (await env.control.calls()).filter(
      (c) => JSON.stringify(c.params).includes(id) || isListing(c),
    );
    const disconnectAt = calls.findIndex((c) => c.operation === 'DisconnectCustomKeyStore');
    const describesAfter = calls
      .slice(disconnectAt + 1)
      .filter((c) => c.operation === 'DescribeCustomKeyStores');
    // Several polls happened inside one wait (the first ones saw the stale state), one audit event.
    const waits = result.events.filter((e) => e.action === 'wait.completed');
    expect(Number(waits[0]?.detail.polls)).toBeGreaterThan(1);
    expect(describesAfter.length).toBeGreaterThan(2);
    // The wait for DISCONNECTED outlasted the lag: the stale CONNECTED reads were not believed.
    expect(Number(waits[0]?.detail.elapsedMs)).toBeGreaterThanOrEqual(1_500);
  });

  it('throttling and KMSInternalException bursts are absorbed by retries', async () => {
    const id = await connectedStore(env.control);
    await env.control.addFault({
      operation: 'DisconnectCustomKeyStore',
      errorType: 'ThrottlingException',
      count: 2,
    });
    await env.control.addFault({
      operation: 'ConnectCustomKeyStore',
      errorType: 'KMSInternalException',
      count: 2,
    });
    await env.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'ThrottlingException',
      count: 3,
    });
    const handle = await env.start({ customKeyStoreId: id });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    const calls = await callsFor(env.control, id);
    expect(calls.filter((c) => c.outcome === 'ThrottlingException').length).toBeGreaterThanOrEqual(2);
    expect(calls.filter((c) => c.outcome === 'KMSInternalException')).toHaveLength(2);
    expect(mutatingAccepted(calls).map((c) => c.operation)).toEqual([
      'DisconnectCustomKeyStore',
      'ConnectCustomKeyStore',
    ]);
  });

  it('a transient FAILED (NETWORK_ERRORS) is retried with disconnect-then-connect and completes', async () => {
    const id = await connectedStore(env.control);
    await env.control.patchStore(id, { connectOutcome: { failWith: 'NETWORK_ERRORS', times: 1 } });
    const handle = await env.start({ customKeyStoreId: id });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.connectAttempts).toBe(2);
    const ops = mutatingAccepted(await callsFor(env.control, id)).map((c) => c.operation);
    expect(ops).toEqual([
      'DisconnectCustomKeyStore',
      'ConnectCustomKeyStore',
      'DisconnectCustomKeyStore',
      'ConnectCustomKeyStore',
    ]);
  });

  for (const [type, code] of [
    ['AWS_CLOUDHSM', 'USER_LOGGED_IN'],
    ['EXTERNAL_KEY_STORE', 'XKS_PROXY_INVALID_CONFIGURATION'],
  ] as const) {
    it(`a permanent FAILED (${code}) ends NEEDS_ATTENTION with the code and its meaning`, async () => {
      const id = await connectedStore(env.control, type);
      await env.control.patchStore(id, { connectOutcome: { failWith: code, times: 5 } });
      const handle = await env.start({ customKeyStoreId: id });
      const result = await outcomeOf(handle);
      expect(result.outcome).toBe('NEEDS_ATTENTION');
      expect(result.connectionError?.code).toBe(code);
      expect(result.connectionError?.meaning.length).toBeGreaterThan(20);
      expect(result.message).toContain(code);
      expect(result.trafficRestored).toBe(false);
      expect(result.connectAttempts).toBe(1);
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).status.name).toBe('FAILED');
    });
  }

  it('refuses an unknown store before any mutating call', async () => {
    const handle = await env.start({ customKeyStoreId: 'cks-0000000000000dead' });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(/cks-0000000000000dead/);
    expect(result.message).toMatch(/not found|NotFound/i);
    expect(mutatingAccepted(await callsFor(env.control, 'cks-0000000000000dead'))).toEqual([]);
  });

  it('refuses invalid input naming every bad field', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      customKeyStoreId: id,
      window: { duration: 'forever' },
      reason: '',
      pollInterval: '1ms',
    });
    const error = await handle.result().catch((err: unknown) => err);
    const message = String((error as { cause?: { message?: string } }).cause?.message);
    expect(message).toMatch(/window.duration/);
    expect(message).toMatch(/reason/);
    expect(message).toMatch(/pollInterval/);
    expect((error as { cause?: { type?: string } }).cause?.type).toBe('InvalidMaintenanceRequest');
    expect(await callsFor(env.control, id)).toEqual([]);
  });

  it('refuses a store that is already DISCONNECTED unless allowAlreadyDisconnected', async () => {
    const id = await connectedStore(env.control, 'AWS_CLOUDHSM', { ConnectionState: 'DISCONNECTED' });
    const handle = await env.start({ customKeyStoreId: id });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(/already DISCONNECTED.*allowAlreadyDisconnected/);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  });

  it('with allowAlreadyDisconnected, takes over a DISCONNECTED store and connects it at the end', async () => {
    const id = await connectedStore(env.control, 'AWS_CLOUDHSM', { ConnectionState: 'DISCONNECTED' });
    const handle = await env.start({ customKeyStoreId: id, allowAlreadyDisconnected: true });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(mutatingAccepted(await callsFor(env.control, id)).map((c) => c.operation)).toEqual([
      'ConnectCustomKeyStore',
    ]);
    expect(result.events.find((e) => e.action === 'kms.disconnect')?.outcome).toBe('skipped');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  });

  it('refuses a second run for the same store while the first runs', async () => {
    const id = await connectedStore(env.control);
    const first = await env.start({ customKeyStoreId: id, window: { duration: '5m' } });
    await waitForPhase(first, 'IN_WINDOW');
    await expect(env.start({ customKeyStoreId: id })).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
    await first.executeUpdate(endWindowNowUpdate, { args: [{ by: 'test' }] });
    expect((await outcomeOf(first)).outcome).toBe('COMPLETED');
  });

  it('dry run describes and plans, and calls nothing but Describe', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({ customKeyStoreId: id, dryRun: true });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.dryRun).toBe(true);
    expect(result.plan?.map((s) => s.phase)).toEqual(
      PHASES.filter((p) => p !== 'PREFLIGHT' && p !== 'AWAITING_APPROVAL'),
    );
    const ops = new Set((await callsFor(env.control, id)).map((c) => c.operation));
    expect([...ops]).toEqual(['DescribeCustomKeyStores']);
  });
});
