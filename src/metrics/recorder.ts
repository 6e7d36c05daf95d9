/**
 * What the worker's code records, as one interface: activities call the first group, the
 * workflow sink the second. `WorkerMetrics` (worker-metrics.ts) is the Prometheus one;
 * `NO_METRICS` records nothing (a worker started without metrics).
 *
 * The rule (docs/monitoring.md): no side channel may extend an outage. A recorder must never
 * throw into an activity or a sink, and never wait; `neverThrowing` makes any recorder so, and
 * `createMaintenanceWorker` applies it to whatever it is given.
 */
import type { RunMetricsSinks } from '../domain/run-metrics';

/** How one custom-key-store call ended, as `kms_calls_total{outcome}` counts it. */
export type KmsCallOutcome =
  /** Answered without an error. */
  | 'ok'
  /** Refused by KMS's request quota (ThrottlingException and its kin). */
  | 'throttled'
  /** CustomKeyStoreInvalidStateException: the caller reads again and reconciles. */
  | 'invalid_state'
  /** Another error Temporal retries (KMS internal, timeouts, network, 5xx). */
  | 'retryable_error'
  /** An error no retry cures (access denied, not found, invalid input). */
  | 'error'
  /** Never sent: the activity was cancelled while the call waited for the KMS budget. */
  | 'not_sent';

/** Where the metrics themselves failed, as `metrics_source_errors_total{source}` counts it. */
export type MetricsSource =
  /** Counting runs through Temporal visibility, for the `stores_disconnected` gauge. */
  | 'visibility'
  /** The `status` query of an offline run, for the past-the-window gauges. */
  | 'workflow_query'
  /** Recording a fact a workflow sent through its sink. */
  | 'sink'
  /** Recording a fact an activity reported. */
  | 'activity';

type RunSink = RunMetricsSinks['keystoreMaintMetrics'];

export interface MetricsRecorder {
  kmsCall(operation: string, outcome: KmsCallOutcome): void;
  /** Seconds a call waited at the worker's KMS budget gate before it was sent. */
  kmsBudgetWait(operation: string, seconds: number): void;
  probeResult(probe: string, status: string): void;
  gateCheck(kind: string, open: boolean): void;
  /** An audit batch the sink did not take (`type`: the activity's failure type). */
  auditWriteFailure(type: string): void;
  /** One notification attempt to a destination: delivered, failed (retried or final), or skipped by its filter. */
  notificationDelivery(destination: string, outcome: 'sent' | 'failed' | 'skipped'): void;
  phaseEnded: RunSink['phaseEnded'];
  runEnded: RunSink['runEnded'];
  sourceError(source: MetricsSource): void;
}

export const NO_METRICS: MetricsRecorder = {
  kmsCall: () => undefined,
  kmsBudgetWait: () => undefined,
  probeResult: () => undefined,
  gateCheck: () => undefined,
  auditWriteFailure: () => undefined,
  notificationDelivery: () => undefined,
  phaseEnded: () => undefined,
  runEnded: () => undefined,
  sourceError: () => undefined,
};

/**
 * The recorder with every method made safe: an exception is swallowed and counted as a source
 * error (`sink` for the workflow's facts, `activity` for the rest) and logged once per method,
 * so a broken recorder is visible without touching the run that called it.
 */
export function neverThrowing(
  recorder: MetricsRecorder,
  log: (message: string) => void = (message) => console.warn(message),
): MetricsRecorder {
  const warned = new Set<string>();
  const fail = (method: string, source: MetricsSource, err: unknown) => {
    try {
      recorder.sourceError(source);
    } catch {
      // Nothing left to count with; the log line below is the signal.
    }
    if (warned.has(method)) return;
    warned.add(method);
    try {
      log(
        `keystore-maint metrics: recording ${method} failed (${err instanceof Error ? err.message : String(err)}); the run is unaffected, metrics_source_errors_total{source="${source}"} counts further failures`,
      );
    } catch {
      // A logger that throws is not the run's problem either.
    }
  };
  const guard =
    <A extends unknown[]>(method: string, source: MetricsSource, fn: (...args: A) => void) =>
    (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        fail(method, source, err);
      }
    };
  return {
    kmsCall: guard('kmsCall', 'activity', (op: string, outcome: KmsCallOutcome) =>
      recorder.kmsCall(op, outcome),
    ),
    kmsBudgetWait: guard('kmsBudgetWait', 'activity', (op: string, seconds: number) =>
      recorder.kmsBudgetWait(op, seconds),
    ),
    probeResult: guard('probeResult', 'activity', (probe: string, status: string) =>
      recorder.probeResult(probe, status),
    ),
    gateCheck: guard('gateCheck', 'activity', (kind: string, open: boolean) =>
      recorder.gateCheck(kind, open),
    ),
    auditWriteFailure: guard('auditWriteFailure', 'activity', (type: string) =>
      recorder.auditWriteFailure(type),
    ),
    notificationDelivery: guard(
      'notificationDelivery',
      'activity',
      (destination: string, outcome: 'sent' | 'failed' | 'skipped') =>
        recorder.notificationDelivery(destination, outcome),
    ),
    phaseEnded: guard('phaseEnded', 'sink', (...args: Parameters<RunSink['phaseEnded']>) =>
      recorder.phaseEnded(...args),
    ),
    runEnded: guard('runEnded', 'sink', (...args: Parameters<RunSink['runEnded']>) =>
      recorder.runEnded(...args),
    ),
    sourceError: guard('sourceError', 'activity', (source: MetricsSource) => recorder.sourceError(source)),
  };
}
