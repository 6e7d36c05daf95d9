/**
 * `patched()` ids. Each guards a change that alters the commands a run issues, so that runs
 * started by an older worker (histories without the marker) replay with the old behaviour and
 * new runs get the new one. The run decides once, at its start, and keeps that decision for its
 * whole life. Never rename or reuse an id; remove a guard only once no run that started before it
 * can still be open (the longest run is `maxWindow` plus the timeouts, at most about 9 days) — and
 * then keep the new branch.
 */
export const PATCHES = {
  /**
   * Interruption safety, one set of changes introduced together:
   * - audit batches are written in the background (workflows/run-audit.ts): a phase change no
   *   longer waits for its batch (before: up to two minutes of retries per phase);
   * - steps that change something (disconnect, connect, drain, restore) are cancelled with
   *   WAIT_CANCELLATION_COMPLETED and heartbeat (before: TRY_CANCEL, compensation ran beside them);
   * - "back" is confirmed by reads that agree across `confirmSettle` (VERIFYING), with a
   *   reconnect when they do not (before: one Describe that said CONNECTED was believed);
   * - compensation restores traffic after any drain that may have been accepted, and any failure
   *   while compensating ends NEEDS_ATTENTION (before: an unanswered webhook drain was never
   *   undone, and such a failure escaped as a generic workflow failure);
   * - a cancelled run is classified by its scope, not by the shape of the error it surfaced.
   */
  interruptionSafety: 'interruption-safety-v1',
  /**
   * Webhook controllers live in the worker's configuration: a request names one
   * (`drain.controller`) and a request with `drain.url` is refused. Runs started before keep
   * validating their request with the URL form (the worker calls such a URL only when it is a
   * configured controller's).
   */
  webhookControllersOnWorker: 'webhook-controllers-on-worker-v1',
  /**
   * A fleet's `namePattern` is a glob; `/regex/` is refused (one can take the worker exponential
   * time). Fleets started before keep validating with the old form (their stores were selected
   * when they started; the pattern is never matched again).
   */
  fleetGlobsOnly: 'fleet-globs-only-v1',
  /**
   * A run reads the store once more after traffic is restored, so its result reports the store as
   * KMS sees it at the end (`store.lastObservedState`, a `kms.describe` audit event in RESTORING),
   * not as VERIFYING last saw it before the restore. Runs started before end without that read.
   */
  finalReadAfterRestore: 'final-read-after-restore-v1',
} as const;
