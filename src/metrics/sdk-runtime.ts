/**
 * The Temporal SDK's own metrics (worker task slots, poll and schedule-to-start latencies,
 * workflow task failures, sticky cache), exported by its Rust core on a Prometheus endpoint of
 * its own. They are configured on the process-wide `Runtime`, which exists once per process and
 * is created by the first connection or worker: so this runs before any of them, in the worker
 * command only (tests, the demo and the local stack install their own Runtime).
 *
 * The core's defaults are kept (prefix `temporal_`, durations in milliseconds, no `_total`
 * suffix), so Temporal's published SDK dashboards and alerts work unchanged.
 */
import { Runtime } from '@temporalio/worker';

export function installSdkMetricsRuntime(bindAddress: string): void {
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress } } } });
}
