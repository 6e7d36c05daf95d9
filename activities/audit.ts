/**
 * The `audit` activity: appends a batch of a run's events to the configured sink. The sink is
 * idempotent on (workflowId, runId, seq), so a retry after a crash adds nothing twice.
 *
 * A sink refuses an event that looks like it carries a secret or that it cannot store faithfully
 * (and then writes nothing of the batch). Retrying would be refused forever, so the activity
 * stores an `audit.refused` marker in the event's place — same seq, so the chain stays whole; the
 * refused action and the offending members' paths, never their values — writes the batch, and
 * reports what it set aside. Only a writer bug (a hole in the sequence) or a misconfigured sink
 * is a final failure; anything else (the sink is down) is retried, and the workflow writes the
 * events again with its next batch.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  AuditConfigError,
  AuditEventInvalidError,
  AuditSecretRefusedError,
  AuditSequenceGapError,
  type RefusedEventRef,
} from '../src/audit/errors';
import type { AuditSink } from '../src/audit/sink';
import type { MetricsRecorder } from '../src/metrics/recorder';
import { RUNNER_ACTOR, type AuditEvent } from '../src/domain/audit-event';
import { AUDIT_FAILURE_TYPES } from '../src/domain/errors';
import { CUSTOM_KEY_STORE_ID_PATTERN } from '../src/domain/request';

/** The action of the marker that stands in for a refused event. */
export const REFUSED_MARKER_ACTION = 'audit.refused';

/** What the activity set aside: which event, and why (never its content). */
export interface RefusedAuditEvent {
  readonly seq: number;
  readonly action: string;
  readonly reason: string;
  readonly paths: readonly string[];
}

export interface AuditAnswer {
  /** Events newly stored (markers included). */
  readonly written: number;
  readonly refused: readonly RefusedAuditEvent[];
}

function refusedRef(
  err: unknown,
): { ref: RefusedEventRef; reason: string; paths: readonly string[] } | undefined {
  if (err instanceof AuditSecretRefusedError && err.event) {
    return { ref: err.event, reason: 'it looks like it carries a secret', paths: err.paths };
  }
  if (err instanceof AuditEventInvalidError && err.event) {
    // The message names the problem (e.g. an unpaired surrogate), not the content.
    return {
      ref: err.event,
      reason: err.message.replace(/^audit event \S+ seq \d+ refused: /, ''),
      paths: [],
    };
  }
  return undefined;
}

function marker(event: AuditEvent, reason: string, paths: readonly string[]): AuditEvent {
  const storeId = event.detail.customKeyStoreId;
  return {
    schemaVersion: event.schemaVersion,
    workflowId: event.workflowId,
    runId: event.runId,
    seq: event.seq,
    at: event.at,
    phase: event.phase,
    action: REFUSED_MARKER_ACTION,
    actor: RUNNER_ACTOR,
    detail: {
      ...(typeof storeId === 'string' && CUSTOM_KEY_STORE_ID_PATTERN.test(storeId)
        ? { customKeyStoreId: storeId }
        : {}),
      refusedAction: event.action,
      reason,
      paths: [...paths],
    },
    outcome: 'refused',
  };
}

function activityFailure(err: unknown): ApplicationFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof AuditSequenceGapError) {
    return ApplicationFailure.nonRetryable(message, AUDIT_FAILURE_TYPES.sequenceGap);
  }
  if (err instanceof AuditConfigError) {
    return ApplicationFailure.nonRetryable(message, AUDIT_FAILURE_TYPES.misconfigured);
  }
  return ApplicationFailure.retryable(message, AUDIT_FAILURE_TYPES.writeFailed);
}

export function createAuditActivities(deps: {
  readonly auditSink: AuditSink;
  /** The worker's metrics (never throwing): a batch the sink did not take is counted by type. */
  readonly metrics?: MetricsRecorder | undefined;
}) {
  async function audit(events: readonly AuditEvent[]): Promise<AuditAnswer> {
    let batch = [...events];
    const refused: RefusedAuditEvent[] = [];
    // Each pass replaces one refused event by its marker, so this ends within the batch's length.
    for (;;) {
      try {
        return { written: await deps.auditSink.append(batch), refused };
      } catch (err) {
        const found = refusedRef(err);
        const index = found
          ? batch.findIndex(
              (e) =>
                e.workflowId === found.ref.workflowId &&
                e.runId === found.ref.runId &&
                e.seq === found.ref.seq,
            )
          : -1;
        const event = batch[index];
        if (!found || !event || event.action === REFUSED_MARKER_ACTION) {
          const failure = activityFailure(err);
          deps.metrics?.auditWriteFailure(failure.type ?? AUDIT_FAILURE_TYPES.writeFailed);
          throw failure;
        }
        refused.push({ seq: event.seq, action: event.action, reason: found.reason, paths: found.paths });
        batch = batch.map((e, i) => (i === index ? marker(e, found.reason, found.paths) : e));
      }
    }
  }
  return { audit };
}
