/**
 * The notification activities (docs/notifications.md).
 *
 * `deliverNotification` makes one attempt per activity attempt: Temporal's retry policy is the
 * backoff (workflows/activity-options.ts), so every attempt is in the history and a worker that
 * dies mid-delivery is replaced by another. An attempt that did not get through throws a
 * retryable `NotificationNotDelivered`; one that cannot get through (no such destination, a 4xx)
 * a non-retryable `NotificationUndeliverable`. Each failed attempt is counted in the worker's
 * metrics. A destination whose own `events` filter leaves the event out is skipped, not failed.
 *
 * `checkNotificationDestinations` runs in PREFLIGHT, so a misspelt destination refuses the run
 * before anything is touched rather than failing silently in the background.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/domain/errors';
import {
  NOTIFICATION_FAILURE_TYPES,
  type DeliveryOutcome,
  type NotificationEvent,
} from '../src/domain/notifications';
import type { GatesConfig } from '../src/gates/config';
import type { MetricsRecorder } from '../src/metrics/recorder';
import { deliverOnce } from '../src/notify/deliver';
import type { SnsClientProvider } from '../src/notify/sns';

export interface NotificationActivityDeps {
  /** The destinations live in the gates file (`"notifications"`). */
  readonly gatesConfig: GatesConfig;
  readonly sns: SnsClientProvider;
  readonly metrics?: MetricsRecorder | undefined;
}

export interface DeliverNotificationInput {
  readonly destination: string;
  readonly event: NotificationEvent;
}

export function createNotificationActivities(deps: NotificationActivityDeps) {
  const config = deps.gatesConfig.notifications;

  async function deliverNotification(input: DeliverNotificationInput): Promise<DeliveryOutcome> {
    const context = Context.current();
    const destination = config.destination(input.destination);
    if (!destination) {
      deps.metrics?.notificationDelivery(input.destination, 'failed');
      throw ApplicationFailure.create({
        type: NOTIFICATION_FAILURE_TYPES.undeliverable,
        message: `no notification destination named "${input.destination}" is configured on this worker`,
        nonRetryable: true,
      });
    }
    if (!destination.events.includes(input.event.event)) {
      deps.metrics?.notificationDelivery(destination.name, 'skipped');
      return {
        delivered: false,
        kind: destination.kind,
        skipped: `"${destination.name}" takes only ${destination.events.join(', ')} (its "events" on the worker)`,
      };
    }
    const outcome = await deliverOnce(destination, input.event, {
      config,
      sns: deps.sns,
      namespace: context.info.namespace,
      allowHttp: deps.gatesConfig.allowHttp,
      signal: context.cancellationSignal,
    });
    if (context.cancellationSignal.aborted) throw new CancelledFailure('notification delivery cancelled');
    if (outcome.ok) {
      deps.metrics?.notificationDelivery(destination.name, 'sent');
      return {
        delivered: true,
        kind: destination.kind,
        attempt: context.info.attempt,
        receipt: outcome.receipt,
      };
    }
    deps.metrics?.notificationDelivery(destination.name, 'failed');
    throw ApplicationFailure.create({
      type: outcome.retryable
        ? NOTIFICATION_FAILURE_TYPES.notDelivered
        : NOTIFICATION_FAILURE_TYPES.undeliverable,
      message: `attempt ${context.info.attempt}: ${outcome.error}`,
      nonRetryable: !outcome.retryable,
    });
  }

  async function checkNotificationDestinations(names: readonly string[]): Promise<void> {
    const unknown = names.filter((n) => config.destination(n) === undefined);
    if (unknown.length === 0) return Promise.resolve();
    const known = config.destinationNames;
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.invalidRequest,
      message: `notify.to: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a notification destination of this worker; ${
        known.length ? `configured: ${known.map((n) => `"${n}"`).join(', ')}` : 'it has none'
      } ("notifications" in KEYSTORE_MAINT_GATES_FILE, docs/notifications.md)`,
      nonRetryable: true,
      details: [{ problems: unknown.map((n) => `notify.to: "${n}" is not configured on the worker`) }],
    });
  }

  return { deliverNotification, checkNotificationDestinations };
}
