/**
 * Activity timeouts and retry policies, chosen per kind of step:
 *
 * - KMS calls (describe, disconnect, connect): one attempt may take at most 15 s (the KMS client
 *   gives up on a request after 10 s), so a worker that dies mid-call is noticed quickly; retryable errors (throttling, KMS internal errors, network)
 *   are retried with exponential backoff from 1 s up to 30 s between attempts, bounded overall by
 *   the request's timeout for that phase. Non-retryable failure types stop at once. Connect may
 *   first disconnect a FAILED store and wait for it, so its attempts may run as long as the
 *   disconnect timeout and must heartbeat.
 * - Waits: one long heartbeating attempt bounded by the phase's timeout; the heartbeat timeout is
 *   a few poll intervals, so a dead worker is noticed and another resumes from the last
 *   heartbeat's details.
 * - Audit: short attempts retried for up to two minutes; if the sink stays down the run goes on
 *   (the events are kept in the run and written by a later flush) — an audit outage must never
 *   keep a store disconnected.
 * - Traffic: at most 5 attempts (a traffic controller that keeps failing needs a human); an
 *   attempt may last the webhook's timeout, heartbeating while it polls.
 * - Canary: a few attempts, because crypto on a just-reconnected store can briefly fail while
 *   KMS catches up (eventual consistency).
 */
import { proxyActivities, workflowInfo, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_FAILURE_TYPES } from '../src/domain/errors';
import { kmsTaskQueue } from '../src/domain/kms-budget';
import type { ResolvedMaintenanceRequest } from '../src/domain/request';
import { DEFAULT_WEBHOOK_TIMEOUT_MS } from '../src/domain/traffic';

const KMS_RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
};

function waitHeartbeatTimeoutMs(pollIntervalMs: number): number {
  // The longest sleep between polls is 4x the interval plus 20% jitter; allow one missed beat.
  return Math.max(10_000, Math.round(pollIntervalMs * 4 * 1.2 * 2));
}

/**
 * The short custom-key-store calls run on the `<taskQueue>-kms` queue, whose dispatch rate the
 * Temporal server limits for all workers together (the KMS budget, src/kms/rate-limit.ts): under
 * load they queue in Temporal, holding no worker slot and no start-to-close clock.
 */
function onKmsQueue(options: ActivityOptions): ActivityOptions {
  return { ...options, taskQueue: kmsTaskQueue(workflowInfo().taskQueue) };
}

export function activitiesFor(request: ResolvedMaintenanceRequest) {
  const kmsCall = (overallMs: number): ActivityOptions => ({
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: Math.max(overallMs, 60_000),
    retry: KMS_RETRY,
  });
  const wait = (overallMs: number): ActivityOptions => ({
    startToCloseTimeout: overallMs,
    scheduleToCloseTimeout: overallMs,
    heartbeatTimeout: waitHeartbeatTimeoutMs(request.pollIntervalMs),
    retry: KMS_RETRY,
  });
  const { disconnectMs, connectMs } = request.timeouts;
  const trafficStepMs =
    request.drain.provider === 'webhook' ? (request.drain.timeout ?? DEFAULT_WEBHOOK_TIMEOUT_MS) : 2 * 60_000;
  return {
    describe: proxyActivities<Activities>(onKmsQueue(kmsCall(5 * 60_000))),
    disconnect: proxyActivities<Activities>(onKmsQueue(kmsCall(disconnectMs))),
    connect: proxyActivities<Activities>(
      onKmsQueue({
        ...kmsCall(connectMs),
        startToCloseTimeout: disconnectMs + 30_000,
        // Longer than one KMS request may take (10 s), since connect beats between requests.
        heartbeatTimeout: Math.max(20_000, waitHeartbeatTimeoutMs(request.pollIntervalMs)),
      }),
    ),
    waitDisconnected: proxyActivities<Activities>(wait(disconnectMs)),
    waitConnected: proxyActivities<Activities>(wait(connectMs)),
    settle: proxyActivities<Activities>(wait(Math.max(disconnectMs, connectMs))),
    traffic: proxyActivities<Activities>({
      // A webhook controller may take up to its timeout to report; aliases take seconds.
      startToCloseTimeout: trafficStepMs + 60_000,
      heartbeatTimeout: '30 seconds',
      scheduleToCloseTimeout: 5 * (trafficStepMs + 60_000),
      retry: { ...KMS_RETRY, maximumAttempts: 5 },
    }),
    canary: proxyActivities<Activities>({
      ...kmsCall(2 * 60_000),
      retry: { ...KMS_RETRY, maximumAttempts: 5 },
    }),
  };
}

export const auditActivities = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds' },
});

/** Listing the stores a fleet's name pattern selects: KMS calls, so on the `-kms` queue too. */
export function fleetActivities() {
  return proxyActivities<Activities>(
    onKmsQueue({
      // Each page is one call within the budget; a large account has a few pages.
      startToCloseTimeout: '2 minutes',
      scheduleToCloseTimeout: '10 minutes',
      retry: KMS_RETRY,
    }),
  );
}

export const setupActivities = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5 },
});
