/**
 * The keystore-maint worker: runs the maintenance workflows and their activities on a task queue
 * (`keystore-maintenance`, or `KEYSTORE_MAINT_TASK_QUEUE`), and — in the same process, started
 * and stopped with it — the short custom-key-store activities on `<taskQueue>-kms`. Every
 * custom-key-store call of the process passes one `KmsCallGate` (the KMS budget per account,
 * Region and operation, src/kms/rate-limit.ts), and the waits of the process share one
 * DescribeCustomKeyStores listing per account-Region and interval (activities/shared-poller.ts).
 *
 * Workflow code comes from a prebuilt bundle when one is given (production: bundled at build
 * time, so start-up does no bundling), otherwise it is bundled from `workflows/` at start.
 *
 * Metrics (src/metrics/, docs/monitoring.md): activities record through the recorder passed in
 * `metrics`, runs through the `keystoreMaintMetrics` workflow sink, which is registered on every
 * maintenance worker (recording nothing without `metrics`) so that no worker logs calls to an
 * unknown sink. Either way the recorder is made never-throwing first.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from '@temporalio/activity';
import { Worker, type NativeConnection, type WorkerOptions, type WorkerPlugin } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { SharedDescribePoller } from '../activities/shared-poller';
import { kmsTaskQueue } from './domain/kms-budget';
import { DEFAULT_TASK_QUEUE } from './domain/names';
import { NO_METRICS, neverThrowing, type MetricsRecorder } from './metrics/recorder';
import { runMetricsSinks } from './metrics/workflow-sinks';
import { TRACING_WORKFLOW_MODULES, tracedBundlePath, tracingSinks, type Tracing } from './tracing';
import { OpenTelemetryActivityInboundInterceptor } from '@temporalio/interceptors-opentelemetry';
import {
  KmsCallGate,
  kmsBudgetFromEnvironment,
  kmsQueueActivitiesPerSecond,
  validateKmsBudget,
  workerCallsPerSecond,
  type KmsBudget,
} from './kms/rate-limit';

export interface MaintenanceWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly deps: ActivityDeps;
  /** Path of a bundle made by `bundleWorkflowCode`; bundles `workflows/` at start when omitted. */
  readonly workflowBundlePath?: string;
  readonly identity?: string;
  /**
   * The KMS budget (default: `KEYSTORE_MAINT_KMS_BUDGET_RPS`, default 4, and
   * `KEYSTORE_MAINT_KMS_WORKERS`, default 1). `{ budgetRps: 0, workers: 1 }` turns it off.
   */
  readonly kmsBudget?: KmsBudget;
  /**
   * Waits read through one shared listing per account-Region (default true, or
   * `KEYSTORE_MAINT_SHARED_POLLING=0` to turn it off): see activities/shared-poller.ts.
   */
  readonly sharedPolling?: boolean;
  /**
   * Where the worker's activities and runs record metrics (src/metrics/worker-metrics.ts); tests
   * pass their own. Default: nothing is recorded.
   */
  readonly metrics?: MetricsRecorder;
  /**
   * OpenTelemetry tracing (src/tracing.ts); default: off. The workflow interceptors are in every
   * bundle either way, and their sink is registered either way (dropping spans when off).
   */
  readonly tracing?: Tracing;
  /** Extra worker options (tuning, interceptors, sinks). */
  readonly tuning?: Partial<
    Pick<
      WorkerOptions,
      | 'maxConcurrentActivityTaskExecutions'
      | 'maxConcurrentWorkflowTaskExecutions'
      | 'maxCachedWorkflows'
      | 'shutdownGraceTime'
    >
  >;
}

export function taskQueueFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  return env.KEYSTORE_MAINT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE;
}

/** `workflows/index.ts` under tsx or vitest, `dist/workflows/index.js` when compiled. */
export function workflowsPath(): string {
  const base = join(__dirname, '..', 'workflows');
  for (const candidate of ['index.ts', 'index.js']) {
    const path = join(base, candidate);
    if (existsSync(path)) return path;
  }
  throw new Error(`the workflow sources were not found under ${base}`);
}

/** `KEYSTORE_MAINT_SHARED_POLLING`: on unless `0`, `false` or `off`. */
export function sharedPollingFromEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.KEYSTORE_MAINT_SHARED_POLLING?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === '1' || raw === 'true' || raw === 'on') return true;
  if (raw === '0' || raw === 'false' || raw === 'off') return false;
  throw new Error(
    `KEYSTORE_MAINT_SHARED_POLLING="${env.KEYSTORE_MAINT_SHARED_POLLING ?? ''}" is not understood: use 1 (the default) or 0`,
  );
}

/** The gate for a budget: this worker's share, or none when the budget is off. */
export function kmsGateFor(budget: KmsBudget): KmsCallGate | undefined {
  validateKmsBudget(budget);
  const share = workerCallsPerSecond(budget);
  return share > 0 ? new KmsCallGate(share) : undefined;
}

/**
 * The maintenance worker. Its `run()` also runs the `-kms` queue's worker, and stops it when it
 * stops, so callers handle one worker as before.
 */
export async function createMaintenanceWorker(options: MaintenanceWorkerOptions): Promise<Worker> {
  const workflowSource = workflowSourceFor(options.workflowBundlePath, options.tracing !== undefined);
  const budget = options.kmsBudget ?? kmsBudgetFromEnvironment();
  // A gate passed in the deps is shared with other workers of the process (e.g. a benchmark's).
  const kmsGate = options.deps.kmsGate ?? kmsGateFor(budget);
  const sharedPolling = options.sharedPolling ?? sharedPollingFromEnvironment();
  const metrics = neverThrowing(options.metrics ?? NO_METRICS);
  const poller =
    options.deps.poller ??
    (sharedPolling ? new SharedDescribePoller({ ...options.deps, kmsGate, metrics }) : undefined);
  const activities = createActivities({ ...options.deps, kmsGate, poller, metrics });
  const queueRate = kmsQueueActivitiesPerSecond(budget);
  // Both queues' activities continue the run's trace: the KMS calls are on the `-kms` queue.
  const activityInterceptors = options.tracing
    ? {
        activity: [(ctx: Context) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })],
      }
    : {};
  const kmsWorker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: kmsTaskQueue(options.taskQueue),
    activities,
    ...(queueRate !== undefined ? { maxTaskQueueActivitiesPerSecond: queueRate } : {}),
    interceptors: activityInterceptors,
    ...(options.identity ? { identity: `${options.identity}/kms` } : {}),
    shutdownGraceTime: '10 seconds',
  });
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities,
    ...workflowSource,
    sinks: { ...runMetricsSinks(metrics), ...tracingSinks(options.tracing) },
    interceptors: {
      ...activityInterceptors,
      ...(options.tracing && !options.workflowBundlePath
        ? { workflowModules: [...TRACING_WORKFLOW_MODULES] }
        : {}),
    },
    ...(options.identity ? { identity: options.identity } : {}),
    shutdownGraceTime: '10 seconds',
    plugins: [runAlongside(kmsWorker)],
    ...options.tuning,
  });
}

/**
 * The workflow code: the prebuilt bundle (the traced one beside it when tracing is on), or
 * workflows/ bundled at start. A missing traced bundle stops the worker with the fix rather than
 * running without the traces it was asked for.
 */
export function workflowSourceFor(
  bundlePath: string | undefined,
  tracing: boolean,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (!bundlePath) return { workflowsPath: workflowsPath() };
  if (!tracing) return { workflowBundle: { codePath: bundlePath } };
  const traced = tracedBundlePath(bundlePath);
  if (!existsSync(traced)) {
    throw new Error(
      `tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT) but ${traced}, the traced workflow bundle, does not exist; build both bundles with npm run bundle (npm run build), or unset KEYSTORE_MAINT_WORKFLOW_BUNDLE to bundle at start`,
    );
  }
  return { workflowBundle: { codePath: traced } };
}

/**
 * Runs `companion` for exactly as long as the worker it is attached to: started by its `run()`,
 * shut down when it stops; if the companion fails, the worker is shut down and `run()` rejects.
 */
function runAlongside(companion: Worker): WorkerPlugin {
  return {
    name: 'keystore-maint-kms-queue',
    async runWorker(worker, next) {
      let companionError: Error | undefined;
      const companionRun = companion.run().catch((err: unknown) => {
        companionError = err instanceof Error ? err : new Error(String(err));
        if (worker.getState() === 'RUNNING') worker.shutdown();
      });
      try {
        await next(worker);
      } finally {
        if (companion.getState() === 'RUNNING') companion.shutdown();
        await companionRun;
      }
      if (companionError !== undefined) throw companionError;
    },
  };
}
