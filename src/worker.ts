/**
 * The keystore-maint worker: runs the maintenance workflows and their activities on a task queue
 * (`keystore-maintenance`, or `KEYSTORE_MAINT_TASK_QUEUE`).
 *
 * Workflow code comes from a prebuilt bundle when one is given (production: bundled at build
 * time, so start-up does no bundling), otherwise it is bundled from `workflows/` at start.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { DEFAULT_TASK_QUEUE } from './domain/names';

export interface MaintenanceWorkerOptions {
  readonly connection: NativeConnection;
  readonly namespace: string;
  readonly taskQueue: string;
  readonly deps: ActivityDeps;
  /** Path of a bundle made by `bundleWorkflowCode`; bundles `workflows/` at start when omitted. */
  readonly workflowBundlePath?: string;
  readonly identity?: string;
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

export async function createMaintenanceWorker(options: MaintenanceWorkerOptions): Promise<Worker> {
  const workflowSource = options.workflowBundlePath
    ? { workflowBundle: { codePath: options.workflowBundlePath } }
    : { workflowsPath: workflowsPath() };
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities(options.deps),
    ...workflowSource,
    ...(options.identity ? { identity: options.identity } : {}),
    shutdownGraceTime: '10 seconds',
    ...options.tuning,
  });
}
