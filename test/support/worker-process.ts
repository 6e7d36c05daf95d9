/** Starting (and killing) the worker fixture as a real child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { projectRoot } from '../../src/util/project-root';
import { REGION, type MaintenanceEnv } from './maintenance-env';

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything the worker printed (stdout and stderr). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const root = projectRoot();
  return spawnUntilReady(
    process.execPath,
    ['--import', 'tsx', join(root, 'test', 'fixtures', 'worker-process.ts')],
    {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      ...env,
    },
    'WORKER_READY',
  );
}

/**
 * Spawns a worker-like process and resolves once its stdout says `ready`; rejects, with what it
 * printed, if it exits first or does not get there within `timeoutMs`.
 */
export async function spawnUntilReady(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  ready: string,
  timeoutMs = 120_000,
): Promise<WorkerProcess> {
  const child = spawn(command, args, { cwd: projectRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not get ready:\n${out}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the process exited during start-up (${code}):\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    kill: (signal = 'SIGKILL') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

/**
 * Serves the env's task queue from a worker in its own process while `body` runs, so that the
 * test can SIGKILL it mid-run (`killAndRestart`: SIGKILL, a second's pause, a new process). The
 * env's in-process worker takes the queue back afterwards.
 */
export async function withKillableWorker(
  env: MaintenanceEnv,
  body: (worker: { killAndRestart(): Promise<void> }) => Promise<void>,
): Promise<void> {
  await env.stopWorker();
  const workerEnv = {
    KEYSTORE_MAINT_TASK_QUEUE: env.taskQueue,
    AWS_ENDPOINT_URL_KMS: env.sim.url,
    AWS_REGION: REGION,
    KEYSTORE_MAINT_AUDIT_FILE: join(mkdtempSync(join(tmpdir(), 'killable-worker-')), 'audit.jsonl'),
  };
  let child: WorkerProcess | undefined;
  try {
    child = await startWorkerProcess(workerEnv);
    await body({
      killAndRestart: async () => {
        await child?.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        child = await startWorkerProcess(workerEnv);
      },
    });
  } finally {
    await child?.kill('SIGTERM');
    await env.startWorker();
  }
}
