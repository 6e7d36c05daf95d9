/** Starting (and killing) the worker fixture as a real child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { inject } from 'vitest';
import { projectRoot } from '../../src/util/project-root';

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
