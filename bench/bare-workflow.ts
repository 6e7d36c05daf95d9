/**
 * The benchmark's baseline (bundled on its own): a bare Temporal fleet that does the same KMS
 * work as keystore-maint's — the same activities on the same worker, under the same KMS budget
 * and shared poller, in the same accounts through the same execution roles — and the same number
 * of activity calls per store, with none of the runner's bookkeeping (request validation, phase
 * timeline, audit batches, search attributes, traffic steps, compensation scopes, status,
 * messages, continue-as-new). The padding calls use `defaultRegion`, an activity that does nothing
 * but answer, in place of the audit and traffic steps.
 */
import {
  ParentClosePolicy,
  condition,
  executeChild,
  proxyActivities,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { kmsTaskQueue } from '../src/domain/kms-budget';
import { SEARCH_ATTRIBUTES } from '../src/domain/names';

/** One store and where it is: the run assumes `executionRole` in `account`, as a fleet's child does. */
export interface BareStore {
  readonly customKeyStoreId: string;
  readonly region: string;
  readonly account?: string;
  readonly executionRole?: string;
  readonly externalId?: string;
}

export interface BareStoreInput extends BareStore {
  readonly windowMs: number;
  /** The confirmation reads must agree across this long, as the runner's `confirmSettle`. */
  readonly confirmSettleMs: number;
  readonly pollIntervalMs: number;
  /** Activity calls in all, as many as one maintenance run makes. */
  readonly activities: number;
}

export interface BareFleetInput extends Omit<BareStoreInput, keyof BareStore> {
  readonly stores: readonly BareStore[];
  readonly maxConcurrency: number;
}

/** The child's workflow id, from which the benchmark finds its history. */
export function bareRunWorkflowId(store: BareStore): string {
  return `bench-bare/${store.account ?? 'self'}/${store.region}/${store.customKeyStoreId}`;
}

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
};

/** One store: describe, disconnect, wait, window, connect, wait, confirm, plus padding calls. */
export async function benchBareStoreRun(input: BareStoreInput): Promise<number> {
  const kms = proxyActivities<Activities>({
    taskQueue: kmsTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: '10 minutes',
    heartbeatTimeout: '20 seconds',
    retry,
  });
  const wait = proxyActivities<Activities>({
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '20 seconds',
    retry,
  });
  const pad = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds', retry });
  const ref = {
    customKeyStoreId: input.customKeyStoreId,
    region: input.region,
    ...(input.account !== undefined ? { account: input.account } : {}),
    ...(input.executionRole !== undefined ? { executionRole: input.executionRole } : {}),
    ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
  };
  const steps: (() => Promise<unknown>)[] = [
    () => kms.describeKeyStore(ref),
    () => kms.disconnectKeyStore(ref),
    () =>
      wait.waitForConnectionState({
        ...ref,
        until: ['DISCONNECTED'],
        failOnFailed: false,
        pollIntervalMs: input.pollIntervalMs,
      }),
    () => kms.connectKeyStore({ ...ref, pollIntervalMs: input.pollIntervalMs }),
    () =>
      wait.waitForConnectionState({
        ...ref,
        until: ['CONNECTED'],
        failOnFailed: true,
        pollIntervalMs: input.pollIntervalMs,
      }),
    () =>
      wait.confirmConnectionState({
        ...ref,
        want: 'CONNECTED',
        settleMs: input.confirmSettleMs,
        pollIntervalMs: input.pollIntervalMs,
      }),
  ];
  // Spread the padding calls between the steps, as the runner's audit flushes are.
  const padding = Math.max(0, input.activities - steps.length);
  let calls = 0;
  for (let i = 0; i < steps.length; i++) {
    await steps[i]?.();
    calls++;
    if (i === 2) await sleep(input.windowMs);
    const padHere = Math.floor((padding * (i + 1)) / steps.length) - Math.floor((padding * i) / steps.length);
    for (let p = 0; p < padHere; p++) {
      await pad.defaultRegion();
      calls++;
    }
  }
  return calls;
}

/** Runs every store as a child, at most `maxConcurrency` at a time. */
export async function benchBareFleet(input: BareFleetInput): Promise<number> {
  let next = 0;
  let done = 0;
  const lane = async () => {
    for (let i = next++; i < input.stores.length; i = next++) {
      const store = input.stores[i];
      if (!store) continue;
      const { stores: _stores, maxConcurrency: _max, ...common } = input;
      await executeChild(benchBareStoreRun, {
        workflowId: bareRunWorkflowId(store),
        args: [{ ...common, ...store }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.maxConcurrency, input.stores.length) }, lane));
  return done;
}

/**
 * For the memory probe: a workflow that only waits (as a run waiting for approval does), marked
 * like one so that the probe can count the waiting runs of either kind the same way.
 */
export async function benchBareWait(): Promise<void> {
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: 'AWAITING_APPROVAL' }]);
  await condition(() => false);
}
