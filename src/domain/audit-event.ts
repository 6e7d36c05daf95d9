/**
 * The audit event: one record of something a maintenance run did or was told. The workflow keeps
 * them in its timeline (returned by `status` and in the result) and writes them through the
 * `audit` activity to a sink; sinks add the hash chain (`prevHash`, `hash`) on top.
 *
 * Events never carry secrets: no credentials, webhook secrets, plaintext or data keys.
 */

/** Bump when a field changes meaning; readers accept every version they know. */
export const AUDIT_SCHEMA_VERSION = 1;

export type AuditOutcome = 'ok' | 'failed' | 'refused' | 'skipped' | 'info';

export interface KmsCallDetail {
  /** KMS operation, e.g. `DisconnectCustomKeyStore`. */
  readonly operation: string;
  /** The AWS request id (`x-amzn-RequestId`) of the call, when a call was made. */
  readonly requestId?: string;
  readonly result?: string;
}

export interface AuditEvent {
  readonly schemaVersion: number;
  readonly workflowId: string;
  readonly runId: string;
  /** 1, 2, 3, ... within one run; with workflowId and runId the idempotency key of a write. */
  readonly seq: number;
  /** ISO-8601 time from the workflow clock (deterministic, replay-safe). */
  readonly at: string;
  /** The run's phase when the event happened. */
  readonly phase: string;
  /** What happened, e.g. `phase.entered`, `kms.disconnect`, `wait.completed`, `message.extendWindow`. */
  readonly action: string;
  /** Who: the requester, the sender of a message, or `keystore-maint` for the runner itself. */
  readonly actor: string;
  readonly detail: Readonly<Record<string, unknown>> & { readonly kms?: KmsCallDetail };
  readonly outcome: AuditOutcome;
  readonly error?: { readonly type: string; readonly message: string };
}

/** An event as a sink stores it: chained to the previous event of the same run. */
export interface ChainedAuditEvent extends AuditEvent {
  /** `hash` of the previous event of this run; the empty string for seq 1. */
  readonly prevHash: string;
  /**
   * `hash` of the record stored just before this one in the same sink (any run); the empty string
   * for the first. Links the runs, so a whole run deleted from the middle is seen. Absent in
   * records written before it existed.
   */
  readonly sinkPrev?: string;
  /** The audit key's id when `hash` is an HMAC-SHA256 under that key (src/audit/audit-key.ts). */
  readonly keyId?: string;
  /**
   * HMAC-SHA256 under the audit key (with `keyId`), else SHA-256, hex, over the canonical JSON of
   * the record without `hash`.
   */
  readonly hash: string;
}

export const RUNNER_ACTOR = 'keystore-maint';
