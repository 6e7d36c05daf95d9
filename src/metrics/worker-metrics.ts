/**
 * The worker's Prometheus metrics: one prom-client registry per worker process, every series
 * prefixed `keystore_maint_` (docs/monitoring.md lists each with its meaning and labels).
 *
 * Labels stay low-cardinality on purpose: outcome, phase, operation, probe, status, gate kind —
 * never a store id, a workflow id or an error message, which would make a series per run and grow
 * without bound. Which store is offline is a question for Temporal (`keystore-maint list
 * --phase IN_WINDOW`, the Web UI), not for Prometheus.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { END_STATES, type EndState, type RunPhase } from '../domain/phases';
import type { RunEnded } from '../domain/run-metrics';
import type { OpenRunsReader } from './open-runs';
import type { KmsCallOutcome, MetricsRecorder, MetricsSource } from './recorder';

export const METRIC_PREFIX = 'keystore_maint_';

/** Every series this module defines, by its full name (histograms add _bucket, _sum, _count). */
export const METRIC_NAMES = {
  runsEnded: `${METRIC_PREFIX}runs_ended_total`,
  phaseDuration: `${METRIC_PREFIX}phase_duration_seconds`,
  offline: `${METRIC_PREFIX}offline_seconds`,
  kmsCalls: `${METRIC_PREFIX}kms_calls_total`,
  kmsBudgetWait: `${METRIC_PREFIX}kms_budget_wait_seconds`,
  probeResults: `${METRIC_PREFIX}probe_results_total`,
  gateChecks: `${METRIC_PREFIX}gate_checks_total`,
  auditWriteFailures: `${METRIC_PREFIX}audit_write_failures_total`,
  notificationDeliveries: `${METRIC_PREFIX}notification_deliveries_total`,
  sourceErrors: `${METRIC_PREFIX}metrics_source_errors_total`,
  storesDisconnected: `${METRIC_PREFIX}stores_disconnected`,
  storesOfflinePastWindow: `${METRIC_PREFIX}stores_offline_past_window`,
  offlinePastWindowSeconds: `${METRIC_PREFIX}offline_past_window_seconds`,
  visibilityLastSuccess: `${METRIC_PREFIX}visibility_last_success_timestamp_seconds`,
} as const;

/** Seconds to days: a phase lasts from well under a second (DRAINING with `none`) to hours. */
export const PHASE_BUCKETS = [
  0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400,
];
/** A whole outage: a CloudHSM reconnect alone takes up to about 20 minutes. */
export const OFFLINE_BUCKETS = [1, 10, 30, 60, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400, 172800];
/** The KMS budget: no wait at all, up to a queue of many seconds in a fleet. */
export const BUDGET_WAIT_BUCKETS = [0.005, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export interface WorkerMetricsOptions {
  /**
   * The Node.js process metrics of prom-client (memory, CPU, event-loop lag, GC), with the same
   * prefix. On in the worker command; tests leave it off, since it starts timers and observers.
   */
  readonly processMetrics?: boolean;
}

export class WorkerMetrics implements MetricsRecorder {
  readonly registry = new Registry();
  private readonly runsEnded: Counter<'outcome'>;
  private readonly phaseDuration: Histogram<'phase'>;
  private readonly offline: Histogram;
  private readonly kmsCalls: Counter<'operation' | 'outcome'>;
  private readonly kmsBudget: Histogram<'operation'>;
  private readonly probeResults: Counter<'probe' | 'status'>;
  private readonly gateChecks: Counter<'kind' | 'open'>;
  private readonly auditFailures: Counter<'type'>;
  private readonly notifications: Counter<'destination' | 'outcome'>;
  private readonly sourceErrors: Counter<'source'>;
  private watching = false;

  constructor(options: WorkerMetricsOptions = {}) {
    const registers = [this.registry];
    this.runsEnded = new Counter({
      name: METRIC_NAMES.runsEnded,
      help: 'Maintenance runs that ended, by end state (dry runs included).',
      labelNames: ['outcome'],
      registers,
    });
    // Every outcome from 0, so increase() sees the first NEEDS_ATTENTION of a worker's life.
    for (const outcome of END_STATES) this.runsEnded.inc({ outcome }, 0);
    this.phaseDuration = new Histogram({
      name: METRIC_NAMES.phaseDuration,
      help: 'How long each phase of a run lasted, observed when the phase ended.',
      labelNames: ['phase'],
      buckets: PHASE_BUCKETS,
      registers,
    });
    this.offline = new Histogram({
      name: METRIC_NAMES.offline,
      help: 'Per run: seconds from DISCONNECTING until the store was confirmed CONNECTED (or the run ended), observed when the run ended.',
      buckets: OFFLINE_BUCKETS,
      registers,
    });
    this.kmsCalls = new Counter({
      name: METRIC_NAMES.kmsCalls,
      help: 'Custom-key-store API calls (Describe/Connect/DisconnectCustomKeyStore) by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.kmsBudget = new Histogram({
      name: METRIC_NAMES.kmsBudgetWait,
      help: "Seconds a custom-key-store call waited for the worker's KMS budget before it was sent.",
      labelNames: ['operation'],
      buckets: BUDGET_WAIT_BUCKETS,
      registers,
    });
    this.probeResults = new Counter({
      name: METRIC_NAMES.probeResults,
      help: 'Readiness probe answers by probe and status.',
      labelNames: ['probe', 'status'],
      registers,
    });
    this.gateChecks = new Counter({
      name: METRIC_NAMES.gateChecks,
      help: 'Gate checks by kind and whether the gate was open.',
      labelNames: ['kind', 'open'],
      registers,
    });
    this.auditFailures = new Counter({
      name: METRIC_NAMES.auditWriteFailures,
      help: 'Audit batches the sink did not take, by the failure type the audit activity raised.',
      labelNames: ['type'],
      registers,
    });
    this.auditFailures.inc({ type: 'AuditWriteFailed' }, 0);
    this.notifications = new Counter({
      name: METRIC_NAMES.notificationDeliveries,
      help: 'Notification delivery attempts by destination and outcome (sent, failed, skipped).',
      labelNames: ['destination', 'outcome'],
      registers,
    });
    this.sourceErrors = new Counter({
      name: METRIC_NAMES.sourceErrors,
      help: 'Failures of the metrics themselves (they never affect a run), by source.',
      labelNames: ['source'],
      registers,
    });
    for (const source of ['visibility', 'workflow_query', 'sink', 'activity'] as const) {
      this.sourceErrors.inc({ source }, 0);
    }
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for a scrape. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  kmsCall(operation: string, outcome: KmsCallOutcome): void {
    this.kmsCalls.inc({ operation, outcome });
  }

  kmsBudgetWait(operation: string, seconds: number): void {
    this.kmsBudget.observe({ operation }, seconds);
  }

  probeResult(probe: string, status: string): void {
    this.probeResults.inc({ probe, status });
  }

  gateCheck(kind: string, open: boolean): void {
    this.gateChecks.inc({ kind, open: String(open) });
  }

  auditWriteFailure(type: string): void {
    this.auditFailures.inc({ type });
  }

  notificationDelivery(destination: string, outcome: 'sent' | 'failed' | 'skipped'): void {
    this.notifications.inc({ destination, outcome });
  }

  phaseEnded(phase: RunPhase, seconds: number): void {
    this.phaseDuration.observe({ phase }, seconds);
  }

  runEnded(ended: RunEnded): void {
    const outcome: EndState = ended.outcome;
    this.runsEnded.inc({ outcome });
    if (ended.offlineSeconds !== undefined) this.offline.observe(ended.offlineSeconds);
  }

  sourceError(source: MetricsSource): void {
    this.sourceErrors.inc({ source });
  }

  /**
   * The gauges computed at scrape time from Temporal visibility: stores offline because of runs
   * on `taskQueue`, and those past their window's end. Every replica of a deployment reports the
   * same numbers (aggregate with max(), never sum()). When visibility fails, the gauges keep their
   * last values (absent before the first success) and `metrics_source_errors_total` counts it.
   */
  watchOpenRuns(reader: OpenRunsReader): void {
    if (this.watching) throw new Error('watchOpenRuns: this registry already watches open runs');
    this.watching = true;
    const labels = { task_queue: reader.taskQueue };
    const registers = [this.registry];
    const disconnected = new Gauge({
      name: METRIC_NAMES.storesDisconnected,
      help: 'Stores offline because of this runner now: open runs in DISCONNECTING through WAITING_CONNECTED (from Temporal visibility; the same on every replica).',
      labelNames: ['task_queue'],
      registers,
      collect: async () => {
        const snapshot = await reader.read();
        if (snapshot) disconnected.set(labels, snapshot.disconnected);
      },
    });
    const pastWindow = new Gauge({
      name: METRIC_NAMES.storesOfflinePastWindow,
      help: "Of those, stores whose run's window end has passed while they are still offline.",
      labelNames: ['task_queue'],
      registers,
      collect: async () => {
        const snapshot = await reader.read();
        if (snapshot?.pastWindow) pastWindow.set(labels, snapshot.pastWindow.count);
      },
    });
    const pastWindowSeconds = new Gauge({
      name: METRIC_NAMES.offlinePastWindowSeconds,
      help: 'The longest time, in seconds, that a store still offline has been past its window end (0: none).',
      labelNames: ['task_queue'],
      registers,
      collect: async () => {
        const snapshot = await reader.read();
        if (snapshot?.pastWindow) pastWindowSeconds.set(labels, snapshot.pastWindow.maxSeconds);
      },
    });
    const lastSuccess = new Gauge({
      name: METRIC_NAMES.visibilityLastSuccess,
      help: 'When the gauges above were last computed from Temporal visibility (Unix seconds).',
      labelNames: ['task_queue'],
      registers,
      collect: async () => {
        const snapshot = await reader.read();
        if (snapshot) lastSuccess.set(labels, snapshot.at / 1000);
      },
    });
  }
}
