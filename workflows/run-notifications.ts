/**
 * A run's notifications (docs/notifications.md), and how they reach their destinations without
 * ever holding up the run.
 *
 * Entering a phase that has an event (`notifyEventFor`) schedules one delivery per destination
 * and moves on: the deliveries run **in the background**, in a non-cancellable scope (an abort or
 * a cancellation must still be told), each retried with backoff for up to ten minutes
 * (workflows/activity-options.ts). A destination that is slow or down can therefore never keep a
 * disconnected store offline longer. When the run ends (the store back, or reported), it waits
 * for the deliveries still under way, at most that long, before it returns.
 *
 * Each event is delivered once per destination: the workflow schedules it once (its id is the
 * run and the audit sequence number of the phase change, stable in replay), and every retry of
 * that delivery carries the same id for receivers to deduplicate on. What became of each
 * delivery is audited (`notification.sent`, `notification.failed`) and counted in `status`.
 */
import { CancellationScope } from '@temporalio/workflow';
import type { AuditOutcome } from '../src/domain/audit-event';
import {
  notifyEventFor,
  type NotificationEvent,
  type NotificationsStatus,
  type ResolvedNotify,
} from '../src/domain/notifications';
import type { RunPhase } from '../src/domain/phases';
import { notificationActivities } from './activity-options';
import { rootApplicationFailure, rootMessage } from './failures';

type Audit = (
  action: string,
  detail: Record<string, unknown>,
  outcome: AuditOutcome,
  actor?: string,
  error?: { type: string; message: string },
) => void;

/** The facts of the event that the run knows when it enters the phase. */
export type EventFacts = Omit<NotificationEvent, 'eventId' | 'event'>;

export class RunNotifications {
  private readonly underWay: Promise<void>[] = [];
  private sent = 0;
  private failed = 0;
  private skipped = 0;
  private pending = 0;
  private lastProblem: string | undefined;

  constructor(
    /** The request's `notify`, once the request is valid; undefined: nothing is ever sent. */
    private readonly spec: () => ResolvedNotify | undefined,
    private readonly audit: Audit,
  ) {}

  /** Called on entering `phase`, after its audit event (number `seq`) is recorded. */
  phaseEntered(
    phase: RunPhase,
    seq: number,
    workflowId: string,
    runId: string,
    facts: () => EventFacts,
  ): void {
    const spec = this.spec();
    const event = notifyEventFor(phase);
    if (!spec || !event || !spec.events.includes(event)) return;
    const full: NotificationEvent = { eventId: `${workflowId}/${runId}/${seq}`, event, ...facts() };
    for (const destination of spec.to) this.deliver(destination, full);
  }

  /** At the end of the run: waits for the deliveries under way (each bounded by its retry policy). */
  async settle(): Promise<void> {
    await Promise.all(this.underWay);
  }

  report(): NotificationsStatus | undefined {
    if (!this.spec()) return undefined;
    return {
      sent: this.sent,
      failed: this.failed,
      skipped: this.skipped,
      pending: this.pending,
      ...(this.lastProblem ? { lastProblem: this.lastProblem } : {}),
    };
  }

  private deliver(destination: string, event: NotificationEvent): void {
    this.pending++;
    const detail = { destination, event: event.event, eventId: event.eventId };
    const delivery = CancellationScope.nonCancellable(() =>
      notificationActivities.deliverNotification({ destination, event }),
    ).then(
      (outcome) => {
        this.pending--;
        if (outcome.delivered) {
          this.sent++;
          this.audit(
            'notification.sent',
            { ...detail, kind: outcome.kind, attempt: outcome.attempt, receipt: outcome.receipt },
            'ok',
          );
        } else {
          this.skipped++;
        }
      },
      (err: unknown) => {
        this.pending--;
        this.failed++;
        const message = rootMessage(err);
        this.lastProblem = `${event.event} to "${destination}" was not delivered: ${message}`;
        this.audit('notification.failed', detail, 'failed', undefined, {
          type: rootApplicationFailure(err)?.type ?? 'NotificationNotDelivered',
          message,
        });
      },
    );
    this.underWay.push(delivery);
  }
}
