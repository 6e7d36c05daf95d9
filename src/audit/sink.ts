/**
 * Where audit events go. The `audit` activity calls `append` with a batch of a run's events in
 * `seq` order; a sink must be idempotent on `(workflowId, runId, seq)` (an activity retried after
 * a crash appends the same batch again) and must keep each run's hash chain whole.
 */
import type { AuditEvent, ChainedAuditEvent } from '../domain/audit-event';

export interface AuditSink {
  /** Appends events not yet stored (by `(workflowId, runId, seq)`); returns how many were new. */
  append(events: readonly AuditEvent[]): Promise<number>;
  /** Every stored event of one workflow id (all its runs), in write order. */
  readWorkflow?(workflowId: string): Promise<ChainedAuditEvent[]>;
  close(): Promise<void>;
}

/**
 * A sink that can also read its trail back, for `audit export`: every sink `createAuditSink`
 * returns is one (the stdout sink answers reads with `AuditSinkNotReadableError`).
 */
export interface ReadableAuditSink extends AuditSink {
  /** Where the trail is, for messages (no passwords). */
  readonly description: string;
  readWorkflow(workflowId: string): Promise<ChainedAuditEvent[]>;
  /**
   * The workflow ids with events about one custom key store: ids ending in `/<customKeyStoreId>`
   * (the canonical `keystore-maint/<region>/<id>`) or events whose `detail.customKeyStoreId` is it.
   * In order of their first event.
   */
  findWorkflowIdsForStore(customKeyStoreId: string): Promise<string[]>;
}

/** Whether an event (stored under `workflowId`) is about the store `customKeyStoreId`. */
export function isAboutStore(
  event: { readonly workflowId: string; readonly detail: Readonly<Record<string, unknown>> },
  customKeyStoreId: string,
): boolean {
  return (
    event.workflowId.endsWith(`/${customKeyStoreId}`) || event.detail.customKeyStoreId === customKeyStoreId
  );
}
