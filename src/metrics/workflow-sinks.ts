/**
 * The worker end of the `keystoreMaintMetrics` workflow sink (src/domain/run-metrics.ts,
 * workflows/run-metrics.ts): the facts a run sends out of the workflow sandbox, recorded in the
 * worker's metrics.
 *
 * The SDK awaits sink functions before it completes the workflow task, so these stay synchronous
 * and do nothing but record in memory. `callDuringReplay: false`: a replaying worker (after a
 * restart or a cache eviction) does not count again what another worker already counted live.
 */
import type { InjectedSinks } from '@temporalio/worker';
import { RUN_METRICS_SINK, type RunMetricsSinks } from '../domain/run-metrics';
import type { MetricsRecorder } from './recorder';

/** `recorder` should already be `neverThrowing` (the SDK would only log what it throws). */
export function runMetricsSinks(recorder: MetricsRecorder): InjectedSinks<RunMetricsSinks> {
  return {
    [RUN_METRICS_SINK]: {
      phaseEnded: {
        fn: (_info, phase, seconds) => recorder.phaseEnded(phase, seconds),
        callDuringReplay: false,
      },
      runEnded: { fn: (_info, ended) => recorder.runEnded(ended), callDuringReplay: false },
    },
  };
}
