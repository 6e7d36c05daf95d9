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
 * - Confirmation (VERIFYING): reads for `confirmSettle`, like a wait.
 * - Audit: written in the background (workflows/run-audit.ts); one batch gets four attempts
 *   within 10 s, then the next batch carries its events (so a failing sink shows in `status`
 *   within seconds). A refusal is answered by the
 *   activity itself (a marker), so only a sequence gap or a configuration error is final.
 * - Traffic: at most 5 attempts (a traffic controller that keeps failing needs a human); an
 *   attempt may last the webhook's timeout, heartbeating while it polls or walks its aliases.
 *
 * Cancellation: activities that change something (disconnect, connect, drain, restore) are
 * cancelled with `WAIT_CANCELLATION_COMPLETED` and heartbeat, so when a run is aborted or
 * cancelled its compensation starts only after the step under way has finished or stopped — it
 * never restores traffic while a drain is still moving it, nor reads the store while a
 * disconnect is still in flight. A step whose outcome stays unknown (its worker died) counts as
 * possibly done; the confirmation rule then finds out. Reads are abandoned at once (`TRY_CANCEL`).
 * - Hooks: one call, bounded by the hook's timeout on the worker; retried only when its worker is
 *   lost. Abandoned at once when cancelled (`TRY_CANCEL`): a call changes nothing of the store.
 * - Notifications: one attempt per activity attempt, retried from 2 s up to 30 s apart for at most
 *   10 minutes, in the background (workflows/run-notifications.ts); a refusal no retry cures
 *   (`NotificationUndeliverable`) stops at once.
 * - Canary: a few attempts, because crypto on a just-reconnected store can briefly fail while
 *   KMS catches up (eventual consistency).
 */
import {
  ActivityCancellationType,
  proxyActivities,
  workflowInfo,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { AUDIT_NON_RETRYABLE_TYPES, NON_RETRYABLE_FAILURE_TYPES } from '../src/domain/errors';
import { kmsTaskQueue } from '../src/domain/kms-budget';
import { NOTIFICATION_FAILURE_TYPES } from '../src/domain/notifications';
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

/** For steps that change something: the workflow waits until they have really stopped. */
const MUTATION: Pick<ActivityOptions, 'cancellationType' | 'heartbeatTimeout'> = {
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  // Longer than one KMS or HTTP request may take (10 s): the steps beat between requests.
  heartbeatTimeout: '20 seconds',
};

/**
 * @param safe the run's `interruption-safety` decision (workflows/patches.ts): runs started before
 *   it keep the options they started with (TRY_CANCEL everywhere), so their histories replay.
 */
export function activitiesFor(request: ResolvedMaintenanceRequest, safe = true) {
  const mutation: Pick<ActivityOptions, 'cancellationType' | 'heartbeatTimeout'> = safe ? MUTATION : {};
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
  const traffic: ActivityOptions = {
    // A webhook controller may take up to its timeout to report; aliases take seconds.
    startToCloseTimeout: trafficStepMs + 60_000,
    scheduleToCloseTimeout: 5 * (trafficStepMs + 60_000),
    retry: { ...KMS_RETRY, maximumAttempts: 5 },
  };
  return {
    describe: proxyActivities<Activities>(onKmsQueue(kmsCall(5 * 60_000))),
    disconnect: proxyActivities<Activities>(onKmsQueue({ ...kmsCall(disconnectMs), ...mutation })),
    connect: proxyActivities<Activities>(
      onKmsQueue({
        ...kmsCall(connectMs),
        ...mutation,
        startToCloseTimeout: disconnectMs + 30_000,
        heartbeatTimeout: Math.max(20_000, waitHeartbeatTimeoutMs(request.pollIntervalMs)),
      }),
    ),
    waitDisconnected: proxyActivities<Activities>(wait(disconnectMs)),
    waitConnected: proxyActivities<Activities>(wait(connectMs)),
    settle: proxyActivities<Activities>(wait(Math.max(disconnectMs, connectMs))),
    confirm: proxyActivities<Activities>(wait(request.confirmSettleMs + 2 * 60_000)),
    /** Plan and verify: reads. */
    traffic: proxyActivities<Activities>({
      ...traffic,
      heartbeatTimeout: safe ? MUTATION.heartbeatTimeout : '30 seconds',
    }),
    /** Drain and restore: they move traffic. */
    trafficChange: proxyActivities<Activities>({
      ...traffic,
      ...(safe ? MUTATION : { heartbeatTimeout: '30 seconds' }),
    }),
    canary: proxyActivities<Activities>({
      ...kmsCall(2 * 60_000),
      retry: { ...KMS_RETRY, maximumAttempts: 5 },
    }),
    /** One check of every gate, each with its own timeout (src/gates). */
    gate: proxyActivities<Activities>({
      startToCloseTimeout: GATE_CHECK_MS,
      scheduleToCloseTimeout: 5 * GATE_CHECK_MS,
      retry: { ...KMS_RETRY, maximumAttempts: 3 },
    }),
    /** Checks the gates until open, a changed answer or `untilMs`: a read, abandoned at once when cancelled. */
    awaitGates: (untilMs: number) => {
      const overallMs =
        Math.max(0, untilMs - Date.now()) + (request.gates?.checkEveryMs ?? 60_000) + 2 * GATE_CHECK_MS;
      return proxyActivities<Activities>({
        startToCloseTimeout: overallMs,
        scheduleToCloseTimeout: overallMs + 3 * GATE_CHECK_MS,
        // The wait beats every few seconds, also while a check is under way.
        heartbeatTimeout: '30 seconds',
        retry: KMS_RETRY,
      });
    },
    /**
     * One hook call (docs/hooks.md). The hook's own timeout (worker-side, at most 1 min) bounds
     * its attempts; these bound a lost worker. A second attempt only follows a lost attempt: the
     * activity reports a hook that did not answer instead of failing.
     */
    hook: proxyActivities<Activities>({
      startToCloseTimeout: HOOK_CALL_MS,
      scheduleToCloseTimeout: 2 * HOOK_CALL_MS + 10_000,
      retry: { ...KMS_RETRY, maximumAttempts: 2 },
    }),
    /** One readiness check: a Describe and each probe's own timeout. */
    probe: proxyActivities<Activities>({
      startToCloseTimeout: probeCheckMs(request),
      scheduleToCloseTimeout: 5 * probeCheckMs(request),
      retry: { ...KMS_RETRY, maximumAttempts: 5 },
    }),
    /** Checks until ready, a changed answer or `untilMs`: a read, abandoned at once when cancelled. */
    awaitReadiness: (untilMs: number) => {
      const overallMs =
        Math.max(0, untilMs - Date.now()) +
        (request.probes?.checkEveryMs ?? 30_000) +
        2 * probeCheckMs(request);
      return proxyActivities<Activities>({
        startToCloseTimeout: overallMs,
        scheduleToCloseTimeout: overallMs + 5 * probeCheckMs(request),
        heartbeatTimeout: probeCheckMs(request),
        retry: KMS_RETRY,
      });
    },
  };
}

/** A fleet's own hooks (`beforeFleet`, `afterFleet`): one call each, as a store's. */
export function fleetHookActivities() {
  return proxyActivities<Activities>({
    startToCloseTimeout: HOOK_CALL_MS,
    scheduleToCloseTimeout: 2 * HOOK_CALL_MS + 10_000,
    retry: { ...KMS_RETRY, maximumAttempts: 2 },
  });
}

/** The longest one hook call may take: the longest hook timeout (1 min) and some slack. */
const HOOK_CALL_MS = 75_000;

/** The longest one check of every gate may take (they run side by side, each bounded). */
const GATE_CHECK_MS = 90_000;

/** The longest one check may take without a heartbeat: the probe's timeout, plus a Describe. */
function probeCheckMs(request: ResolvedMaintenanceRequest): number {
  return (request.probes?.timeoutMs ?? 10_000) + 30_000;
}

/** Audit batches written in the background (workflows/run-audit.ts). */
export const backgroundAuditActivities = proxyActivities<Activities>({
  // A batch fails within seconds, so a failing sink shows in `status` while it fails.
  startToCloseTimeout: '5 seconds',
  scheduleToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '2 seconds',
    maximumAttempts: 4,
    nonRetryableErrorTypes: [...AUDIT_NON_RETRYABLE_TYPES],
  },
});

/** How runs started before background audit writes waited for each batch (kept for their replay). */
export const legacyAuditActivities = proxyActivities<Activities>({
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

/** How long one notification is tried before it counts as failed (docs/notifications.md). */
export const NOTIFICATION_DELIVERY_MS = 10 * 60_000;

/** Notification deliveries, in the background (workflows/run-notifications.ts). */
export const notificationActivities = proxyActivities<Activities>({
  // One attempt: a destination's timeout (at most 1 min) and some slack.
  startToCloseTimeout: '75 seconds',
  scheduleToCloseTimeout: NOTIFICATION_DELIVERY_MS,
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [NOTIFICATION_FAILURE_TYPES.undeliverable],
  },
});

/** PREFLIGHT's check that the request's destinations exist on the worker. */
export const notificationCheckActivities = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES] },
});
