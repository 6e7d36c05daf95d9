/**
 * What a run tells the worker's metrics (docs/monitoring.md), shared by the workflow, which says
 * it through a Temporal workflow sink, and the worker, which turns it into Prometheus series.
 *
 * A sink call produces no command and is not made again when a worker replays the history, so
 * runs in flight keep their histories, and a fact is counted once by the worker that saw it
 * happen live (a workflow task that fails and is retried can repeat it: the SDK says sinks are
 * at-most-once only in replay, so these are counts for dashboards, not for billing). Durations
 * are computed in the workflow from its own timeline, so a phase that started on one worker and
 * ended on another after a restart is still measured from its real start.
 */
import type { EndState, RunPhase } from './phases';
import type { PhaseSpan } from './status';

/** The sink's name in `Worker.create({ sinks })` and `proxySinks()`. */
export const RUN_METRICS_SINK = 'keystoreMaintMetrics';

/**
 * The phases in which a store may be offline because of its run, from the disconnect until it
 * has been read CONNECTED again. `VERIFYING` is not among them: the store has been read CONNECTED
 * by then, and the confirmation only decides whether that read can be trusted (offline_seconds,
 * which ends at the confirmation, still counts it). The `stores_disconnected` gauge counts open
 * runs whose `MaintenancePhase` is one of these.
 */
export const OFFLINE_PHASES = [
  'DISCONNECTING',
  'WAITING_DISCONNECTED',
  'IN_WINDOW',
  'RECONNECTING',
  'WAITING_CONNECTED',
] as const satisfies readonly RunPhase[];

export function isOfflinePhase(phase: string): boolean {
  return (OFFLINE_PHASES as readonly string[]).includes(phase);
}

/** How a run ended, as the sink reports it. */
export interface RunEnded {
  readonly outcome: EndState;
  /**
   * Seconds from entering DISCONNECTING until the store was confirmed back (VERIFYING done) or
   * the run ended; absent when the run never disconnected the store.
   */
  readonly offlineSeconds?: number;
}

/** The sink's functions. Arguments are copied out of the workflow: plain data only. */
export type RunMetricsSinks = {
  [RUN_METRICS_SINK]: {
    /** A phase span closed: its phase (never an end state) and how long it lasted. */
    phaseEnded(phase: RunPhase, seconds: number): void;
    runEnded(ended: RunEnded): void;
  };
};

function ms(at: string | undefined): number | undefined {
  if (at === undefined) return undefined;
  const value = Date.parse(at);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * How long the store was offline because of this run, from its timeline: from the first
 * DISCONNECTING to the end of the last VERIFYING when the run went on to restore traffic or to
 * end other than NEEDS_ATTENTION (the confirmation held), otherwise to the end of the timeline.
 * Undefined when the run never entered DISCONNECTING.
 */
export function offlineSeconds(timeline: readonly PhaseSpan[]): number | undefined {
  const first = timeline.findIndex((span) => span.phase === 'DISCONNECTING');
  if (first < 0) return undefined;
  const start = ms(timeline[first]?.startedAt);
  const last = timeline[timeline.length - 1];
  let end = ms(last?.endedAt ?? last?.startedAt);
  for (let i = timeline.length - 1; i > first; i--) {
    const span = timeline[i];
    if (span?.phase !== 'VERIFYING') continue;
    const next = timeline[i + 1];
    if (next && next.phase !== 'NEEDS_ATTENTION' && !isOfflinePhase(next.phase)) {
      end = ms(span.endedAt) ?? end;
    }
    break;
  }
  if (start === undefined || end === undefined) return undefined;
  return Math.max(0, end - start) / 1000;
}
