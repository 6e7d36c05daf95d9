/**
 * The benchmark's baseline (bundled on its own): a bare Temporal fleet that does the same KMS
 * work as keystore-maint's — the same activities on the same worker, under the same KMS budget —
 * and the same number of activity calls per store, with none of the runner's bookkeeping (request
 * validation, phase timeline, audit batches, search attributes, traffic steps, compensation
 * scopes, status, messages, continue-as-new). The padding calls use `defaultRegion`, an activity
 * that does nothing but answer, in place of the audit and traffic steps.
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

export interface BareStoreInput {
  readonly customKeyStoreId: string;
  readonly region: string;
  readonly windowMs: number;
  readonly pollIntervalMs: number;
  /** Activity calls in all, as many as one maintenance run makes. */
  readonly activities: number;
}

export interface BareFleetInput extends Omit<BareStoreInput, 'customKeyStoreId'> {
  readonly stores: readonly string[];
  readonly maxConcurrency: number;
}

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
};

/** One store: describe, disconnect, wait, window, connect, wait, describe, plus padding calls. */
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
  const ref = { region: input.region, customKeyStoreId: input.customKeyStoreId };
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
    () => kms.describeKeyStore(ref),
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
      const customKeyStoreId = input.stores[i] ?? '';
      await executeChild(benchBareStoreRun, {
        workflowId: `bench-bare/${input.region}/${customKeyStoreId}`,
        args: [{ ...input, customKeyStoreId }],
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
