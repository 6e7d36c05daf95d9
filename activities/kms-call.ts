/**
 * One custom-key-store API call within the worker's KMS budget (src/kms/rate-limit.ts): every
 * DescribeCustomKeyStores, ConnectCustomKeyStore and DisconnectCustomKeyStore an activity makes
 * goes through here. Without a gate (budget off) the call is made at once.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { Context } from '@temporalio/activity';
import type { KmsClientProvider } from '../src/kms/client';
import type { KmsCallGate } from '../src/kms/rate-limit';

export interface KmsCallDeps {
  readonly kms: KmsClientProvider;
  /** The worker process's gate; undefined when the budget is off. */
  readonly kmsGate?: KmsCallGate | undefined;
}

/**
 * Waits for a permit (heartbeating meanwhile, so a long queue is not mistaken for a dead worker,
 * and giving up when the activity is cancelled), then makes the call.
 *
 * @param whileQueued what to do every few seconds while waiting; by default a heartbeat without
 *   details. A waiting activity passes its own, to keep its resume details.
 * @param priority `poll` for the polls of a waiting activity (served after one-off calls).
 */
export function budgetedKmsCall<T>(
  deps: KmsCallDeps,
  region: string,
  call: (kms: KMSClient) => Promise<T>,
  whileQueued?: () => void,
  priority: 'call' | 'poll' = 'call',
): Promise<T> {
  const kms = deps.kms(region);
  const gate = deps.kmsGate;
  if (!gate) return call(kms);
  const ctx = Context.current();
  return gate.run(region, () => call(kms), {
    signal: ctx.cancellationSignal,
    priority,
    whileQueued: whileQueued ?? (() => ctx.heartbeat()),
  });
}
