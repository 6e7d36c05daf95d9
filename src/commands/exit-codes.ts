/**
 * The CLI's exit codes. Scripts and schedulers branch on them, so they never change meaning.
 */
export const EXIT = {
  ok: 0,
  /** A command failed for a reason other than those below (unreachable server, I/O error). */
  error: 1,
  /** Usage error: unknown command or flag, malformed value, missing required input. */
  usage: 2,
  /** A waited-for run ended CANCELLED. */
  cancelled: 3,
  /** A waited-for run ended FAILED. */
  failed: 4,
  /** A waited-for run ended NEEDS_ATTENTION: the store did not come back. */
  needsAttention: 5,
  /** `audit verify` found a broken chain. */
  auditBroken: 6,
  /**
   * A waited-for run ended COMPLETED, but its audit trail is incomplete: the sink refused events
   * (markers stand in their place) or some were never written. The store is fine; the trail is not.
   */
  auditIncomplete: 7,
  /** `doctor` found a check that failed (or could not run one because an earlier one failed). */
  doctorFailed: 8,
} as const;

/** An error whose message is for the operator as-is, with the exit code to use. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
