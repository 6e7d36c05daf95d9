/**
 * The run's facts for the worker's metrics (phase durations, how it ended, how long the store was
 * offline), sent through the `keystoreMaintMetrics` workflow sink (src/domain/run-metrics.ts).
 *
 * Nothing here can change what a run does: a sink call produces no command (so no `patched()`),
 * returns nothing, and is wrapped so that whatever it throws stays here. Calls are skipped while
 * the workflow replays its history: the worker would drop them anyway (`callDuringReplay` is
 * false), and a replaying worker without the sink registered (a replay test) would log each one.
 */
import { proxySinks, workflowInfo } from '@temporalio/workflow';
import { offlineSeconds, RUN_METRICS_SINK, type RunMetricsSinks } from '../src/domain/run-metrics';
import { isEndState, type RunPhase } from '../src/domain/phases';
import type { PhaseSpan } from '../src/domain/status';

const sinks = proxySinks<RunMetricsSinks>();

function send(call: (sink: RunMetricsSinks[typeof RUN_METRICS_SINK]) => void): void {
  try {
    if (workflowInfo().unsafe.isReplaying) return;
    call(sinks[RUN_METRICS_SINK]);
  } catch {
    // Metrics may fail; the run must not notice. The worker counts its own sink failures.
  }
}

export class RunMetrics {
  /** Spans of the timeline already reported (or replayed past). */
  private reported = 0;

  /** Called after every change of the timeline's last span: reports what closed, and the end. */
  entered(timeline: readonly PhaseSpan[]): void {
    for (; this.reported < timeline.length; this.reported++) {
      const span = timeline[this.reported];
      if (!span || span.endedAt === undefined) break;
      if (isEndState(span.phase)) continue;
      const seconds = Math.max(0, Date.parse(span.endedAt) - Date.parse(span.startedAt)) / 1000;
      const phase: RunPhase = span.phase;
      send((sink) => sink.phaseEnded(phase, seconds));
    }
    const last = timeline[timeline.length - 1];
    if (last && isEndState(last.phase)) {
      const outcome = last.phase;
      const offline = offlineSeconds(timeline);
      send((sink) =>
        sink.runEnded({ outcome, ...(offline !== undefined ? { offlineSeconds: offline } : {}) }),
      );
    }
  }
}
