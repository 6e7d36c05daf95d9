/**
 * The ground truth of a run, read from the systems the run acted on — never from the run's own
 * report: the simulator's true store state (after every transition and in-flight call has had
 * time to land), the aliases as `ListAliases` lists them, and the traffic controller's own record.
 * `expectReportMatchesTruth` states the product's invariant: a run's final report (outcome,
 * `store.lastObservedState`, `trafficRestored`, message) equals that truth.
 */
import { ListAliasesCommand, type KMSClient } from '@aws-sdk/client-kms';
import { expect } from 'vitest';
import type { SimulatorControl } from '../../src/sim';
import type { MaintenanceResult } from '../../src/domain/status';
import { MUTATING_OPERATIONS } from './maintenance-env';

export type TrafficTruth = 'untouched' | 'drained' | 'restored' | 'partly-drained';

export interface GroundTruth {
  /** The store's true connection state once nothing is pending. */
  readonly state: string;
  /** What the store's traffic really is now. */
  readonly traffic: TrafficTruth;
  /** Accepted mutating KMS calls on the store (the run's doing), in order. */
  readonly accepted: readonly string[];
  /** Whether anything was changed at all: a KMS mutation, an alias, or a controller action. */
  readonly changedAnything: boolean;
}

export interface TrafficSubject {
  /** Alias drain: each alias and the key it pointed at before the run. */
  readonly aliases?: readonly { readonly name: string; readonly original: string }[];
  readonly fallbackKeyId?: string;
  /** Webhook drain: the actions the controller recorded, in order. */
  readonly controllerActions?: () => readonly string[];
}

/**
 * Waits until the store has no pending transition and every call that may still be in flight
 * (injected latency up to `inFlightMs`) and the consistency lag have passed, then reads the truth.
 */
export async function groundTruth(
  control: SimulatorControl,
  kms: KMSClient | undefined,
  storeId: string,
  subject: TrafficSubject,
  inFlightMs = 0,
): Promise<GroundTruth> {
  const details = await control.getStore(storeId);
  await sleep(Math.max(inFlightMs, details.timings.consistencyLagMs) + 500);
  let store = await control.getStore(storeId);
  const deadline = Date.now() + 60_000;
  while (store.pendingTransition && Date.now() < deadline) {
    await sleep(Math.min(Math.max(store.pendingTransition.inMs, 50), 1_000));
    store = await control.getStore(storeId);
  }
  const calls = await control.calls();
  const mine = calls.filter((c) => JSON.stringify(c.params).includes(storeId));
  const accepted = mine
    .filter((c) => c.outcome === 'ok' && MUTATING_OPERATIONS.has(c.operation))
    .map((c) => c.operation);
  const aliasNames = new Set((subject.aliases ?? []).map((a) => a.name));
  const aliasOps = calls.filter(
    (c) => c.operation === 'UpdateAlias' && c.outcome === 'ok' && aliasNames.has(String(c.params.AliasName)),
  );
  const traffic = await trafficTruth(kms, subject);
  const controllerActed = (subject.controllerActions?.() ?? []).length > 0;
  return {
    state: store.ConnectionState,
    traffic,
    accepted,
    changedAnything: accepted.length > 0 || aliasOps.length > 0 || controllerActed,
  };
}

async function trafficTruth(kms: KMSClient | undefined, subject: TrafficSubject): Promise<TrafficTruth> {
  if (subject.aliases && kms) {
    const out = await kms.send(new ListAliasesCommand({ Limit: 1000 }));
    const targets = new Map((out.Aliases ?? []).map((a) => [a.AliasName ?? '', a.TargetKeyId]));
    const onFallback = subject.aliases.filter((a) => targets.get(a.name) === subject.fallbackKeyId).length;
    if (onFallback === 0) return 'untouched';
    return onFallback === subject.aliases.length ? 'drained' : 'partly-drained';
  }
  if (subject.controllerActions) {
    const actions = subject.controllerActions();
    const last = actions[actions.length - 1];
    if (last === undefined) return 'untouched';
    return last === 'drain' ? 'drained' : 'restored';
  }
  return 'untouched';
}

/**
 * The invariant. A report that calls the store back must be right about it; a report that says
 * traffic is restored must be right about that; a store left offline or traffic left drained must
 * be reported loudly (NEEDS_ATTENTION).
 */
export function expectReportMatchesTruth(result: MaintenanceResult, truth: GroundTruth): void {
  const context = `report: ${result.outcome} "${result.message}" (lastObserved ${result.store.lastObservedState}, trafficRestored ${result.trafficRestored}); truth: ${JSON.stringify(truth)}`;
  if (result.store.changedSinceObserved) {
    // The run admits it does not know the store's state now: only a loud ending may say that.
    expect(result.outcome, context).toBe('NEEDS_ATTENTION');
    expect(result.message, context).toMatch(/state now is unknown/);
  } else if (result.store.lastObservedState !== undefined) {
    expect(result.store.lastObservedState, context).toBe(truth.state);
  }
  const trafficOff = truth.traffic === 'drained' || truth.traffic === 'partly-drained';
  if (result.trafficRestored) {
    expect(truth.state, context).toBe('CONNECTED');
    expect(trafficOff, context).toBe(false);
  }
  if (result.outcome !== 'NEEDS_ATTENTION') {
    // Every quiet ending promises a store that is back and traffic that is where it was.
    expect(truth.state, context).toBe('CONNECTED');
    expect(trafficOff, context).toBe(false);
  }
  if (trafficOff || truth.state !== 'CONNECTED') {
    expect(result.outcome, context).toBe('NEEDS_ATTENTION');
  }
  if (/Nothing was changed/.test(result.message)) {
    expect(truth.changedAnything, context).toBe(false);
  }
  if (/store is CONNECTED and traffic restored/.test(result.message)) {
    expect(truth.state, context).toBe('CONNECTED');
    expect(trafficOff, context).toBe(false);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
