/**
 * Errors the audit library raises to its callers (the `audit` activity, the CLI). Each message
 * says what happened, to what, and what to do; `code` is stable for code that matches on it.
 */
export class AuditError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The audit configuration (environment) is invalid. */
export class AuditConfigError extends AuditError {
  constructor(message: string) {
    super('AuditConfigInvalid', message);
  }
}

/** Which event a refusal is about (never its content). */
export interface RefusedEventRef {
  readonly workflowId: string;
  readonly runId: string;
  readonly seq: number;
  readonly action: string;
}

/** An event handed to `append` is not a valid audit event; nothing of the batch was written. */
export class AuditEventInvalidError extends AuditError {
  constructor(
    message: string,
    /** The event, when it could be identified; the `audit` activity sets it aside by this. */
    readonly event?: RefusedEventRef,
  ) {
    super('AuditEventInvalid', message);
  }
}

/** An event carries something that looks like a secret; nothing of the batch was written. */
export class AuditSecretRefusedError extends AuditError {
  constructor(
    message: string,
    /** Paths (e.g. `detail.credential.RawSecretAccessKey`) of the offending members; never their values. */
    readonly paths: readonly string[],
    readonly event?: RefusedEventRef,
  ) {
    super('AuditSecretRefused', message);
  }
}

/**
 * An append would leave a hole in a run's sequence: events before it were never stored. Retrying
 * the same batch cannot help; the writer must send the missing events first.
 */
export class AuditSequenceGapError extends AuditError {
  /** `where`: the sink's description, or undefined for a hole inside the batch itself. */
  constructor(
    readonly workflowId: string,
    readonly runId: string,
    readonly expectedSeq: number,
    readonly actualSeq: number,
    where: string | undefined,
  ) {
    const missing = describeRange(expectedSeq, actualSeq - 1);
    super(
      'AuditSequenceGap',
      where === undefined
        ? `audit batch refused: for run ${workflowId}/${runId} it jumps from seq ${expectedSeq - 1} to ` +
            `${actualSeq}, leaving out ${missing}. A batch must hold consecutive events; this is a bug in the writer.`
        : `audit append to ${where} refused: run ${workflowId}/${runId} expects seq ${expectedSeq} next but the ` +
            `batch continues with seq ${actualSeq}, so event(s) ${missing} would be lost. The trail may have been ` +
            `rotated or replaced, or this worker points at another trail than before: check the audit ` +
            `configuration; if those events are gone for good, record that by hand and do not rewrite the trail.`,
    );
  }
}

/** One batch holds two different events with the same `(workflowId, runId, seq)`. */
export class AuditSequenceConflictError extends AuditError {
  constructor(message: string) {
    super('AuditSequenceConflict', message);
  }
}

/** The cross-process lock of a JSON Lines file could not be taken in time. */
export class AuditLockTimeoutError extends AuditError {
  constructor(message: string) {
    super('AuditLockTimeout', message);
  }
}

/** The JSON Lines file ends with an incomplete line; appending would bury the damage. */
export class AuditFileDamagedError extends AuditError {
  constructor(message: string) {
    super('AuditFileDamaged', message);
  }
}

/** Writing (or syncing) audit events failed; the message says whether anything may have been stored. */
export class AuditWriteError extends AuditError {
  constructor(message: string, cause?: unknown) {
    super('AuditWriteFailed', message, { cause });
  }
}

/** The sink cannot read events back (stdout). */
export class AuditSinkNotReadableError extends AuditError {
  constructor(message: string) {
    super('AuditSinkNotReadable', message);
  }
}

/** The trail to verify or export does not exist. */
export class AuditSourceNotFoundError extends AuditError {
  constructor(message: string) {
    super('AuditSourceNotFound', message);
  }
}

function describeRange(from: number, to: number): string {
  return from === to ? `seq ${from}` : `seq ${from}..${to}`;
}
