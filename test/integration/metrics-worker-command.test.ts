/**
 * `keystore-maint worker` with metrics, as an operator starts it: a child process configured by
 * the environment only. It says where it serves them, serves keystore-maint's series on
 * KEYSTORE_MAINT_METRICS_PORT and the Temporal SDK's on KEYSTORE_MAINT_SDK_METRICS_ADDRESS (its
 * own process, so the SDK's Runtime is installed before any connection, as in production), keeps
 * running when the metrics port is taken, and refuses port 0 before connecting to anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/temporal/free-port';
import { projectRoot } from '../../src/util/project-root';
import { uniqueName } from '../support/temporal';

interface Started {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function startWorkerCommand(env: NodeJS.ProcessEnv): Started {
  const root = projectRoot();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli.ts'), 'worker'], {
    cwd: root,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      KEYSTORE_MAINT_TASK_QUEUE: uniqueName('metrics-cmd'),
      KEYSTORE_MAINT_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      KEYSTORE_MAINT_AUDIT_SINK: 'stdout',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDMETRICSCOMMAND',
      AWS_SECRET_ACCESS_KEY: 'metrics-command',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitForOutput(
  started: Started,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(started.output());
    if (match) return match;
    if (started.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the worker did not print ${String(pattern)}; it printed:\n${started.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function text(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  expect(response.status).toBe(200);
  return response.text();
}

describe('keystore-maint worker with metrics', () => {
  it("serves its own series and the Temporal SDK's, says where, and stops cleanly", async () => {
    const [port, sdkPort] = [await freePort(), await freePort()];
    const worker = startWorkerCommand({
      KEYSTORE_MAINT_METRICS_PORT: String(port),
      KEYSTORE_MAINT_METRICS_HOST: '127.0.0.1',
      KEYSTORE_MAINT_SDK_METRICS_ADDRESS: `127.0.0.1:${sdkPort}`,
    });
    await waitForOutput(worker, /keystore-maint worker: task queue /);
    expect(worker.output()).toContain(
      `keystore-maint worker: metrics on http://127.0.0.1:${port}/metrics (and /healthz)`,
    );
    expect(worker.output()).toContain(
      `keystore-maint worker: Temporal SDK metrics on http://127.0.0.1:${sdkPort}/metrics`,
    );

    const ours = await text(`http://127.0.0.1:${port}/metrics`);
    expect(ours).toMatch(/^keystore_maint_runs_ended_total\{outcome="NEEDS_ATTENTION"\} 0$/m);
    expect(ours).toMatch(/^keystore_maint_stores_disconnected\{task_queue="metrics-cmd-[0-9a-f]+"\} 0$/m);
    expect(ours).toMatch(/^keystore_maint_process_resident_memory_bytes \d+/m);
    expect(await text(`http://127.0.0.1:${port}/healthz`)).toBe('ok\n');

    // The SDK's core exports once its workers poll; its series are its own, prefixed temporal_.
    let sdk = '';
    for (let i = 0; i < 50 && !/^temporal_/m.test(sdk); i++) {
      sdk = await text(`http://127.0.0.1:${sdkPort}/metrics`);
      if (!/^temporal_/m.test(sdk)) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(sdk).toMatch(/^temporal_\w+/m);
    expect(sdk).not.toMatch(/keystore_maint_/);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('keystore-maint worker: stopped');
  }, 120_000);

  it('keeps running without the endpoint when the metrics port is taken, and says so', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const worker = startWorkerCommand({
        KEYSTORE_MAINT_METRICS_PORT: String(port),
        KEYSTORE_MAINT_METRICS_HOST: '127.0.0.1',
      });
      await waitForOutput(worker, /keystore-maint worker: task queue /);
      expect(worker.output()).toContain(
        `keystore-maint worker: ERROR: cannot serve metrics on 127.0.0.1:${port}: listen EADDRINUSE`,
      );
      expect(worker.child.exitCode).toBeNull();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('refuses KEYSTORE_MAINT_METRICS_PORT=0 at start with the fix', async () => {
    const worker = startWorkerCommand({ KEYSTORE_MAINT_METRICS_PORT: '0' });
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toContain(
      'KEYSTORE_MAINT_METRICS_PORT=0: port 0 would let the system pick a port that no Prometheus scrape configuration can name',
    );
  }, 60_000);
});
