/**
 * The worker exactly as the container image runs it: the compiled CLI
 * (`node bin/keystore-maint.js worker --workflow-bundle dist/workflow-bundle.js`) as a separate
 * process, configured only through the environment, talking to the test run's Temporal dev
 * server and to a KMS simulator through the real AWS SDK. One maintenance runs to COMPLETED; the
 * worker must not bundle at start-up, the image's health check must see it, and SIGTERM must
 * stop it cleanly — what `docker stop` and a rolling deploy rely on.
 */
import { verifyAuditFile } from '../../src/audit';
import { newTestAuditKey } from '../support/audit-key';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { maintenanceWorkflowId, WORKFLOW_TYPES } from '../../src/domain/names';
import type { MaintenanceRequest } from '../../src/domain/request';
import type { MaintenanceResult } from '../../src/domain/status';
import { SimulatorControl, startKmsSimulator, type RunningSimulator } from '../../src/sim';
import { projectRoot } from '../../src/util/project-root';

const root = projectRoot();
const CLI = join('bin', 'keystore-maint.js');
const BUNDLE = join('dist', 'workflow-bundle.js');
const REGION = 'us-east-1';

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

/** `npm run build` unless dist/ has both the CLI and the workflow bundle, newer than the sources. */
function ensureBuilt(): void {
  const outputs = [join(root, 'dist', 'src', 'cli.js'), join(root, BUNDLE)];
  const sources = Math.max(
    ...['src', 'workflows', 'activities'].map((dir) => newestMtime(join(root, dir))),
    newestMtime(join(root, 'scripts', 'bundle-workflows.ts')),
  );
  if (outputs.every((file) => existsSync(file) && statSync(file).mtimeMs >= sources)) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 280_000 });
  if (build.status !== 0) {
    throw new Error(`npm run build failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
  }
}

interface WorkerProcess {
  readonly child: ChildProcess;
  /** stdout and stderr as they arrived. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', '--workflow-bundle', BUNDLE], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

async function waitForOutput(worker: WorkerProcess, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!worker.output().includes(text)) {
    if (worker.child.exitCode !== null) {
      throw new Error(
        `the worker exited (${worker.child.exitCode}) before it was ready:\n${worker.output()}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(`the worker did not print "${text}" within ${timeoutMs} ms:\n${worker.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function healthcheck(pid: number, temporalAddress: string): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'healthcheck.js')], {
    encoding: 'utf8',
    timeout: 15_000,
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: temporalAddress,
      KEYSTORE_MAINT_HEALTHCHECK_PID: String(pid),
    },
  });
  return { status: result.status, stdout: result.stdout };
}

describe('the production worker (compiled CLI, prebuilt workflow bundle)', () => {
  const temporalAddress = inject('temporalAddress');
  const temporalNamespace = inject('temporalNamespace');
  const taskQueue = `prod-worker-${process.pid}-${Date.now().toString(36)}`;
  let dir: string;
  const auditKey = newTestAuditKey();
  let sim: RunningSimulator;
  let control: SimulatorControl;
  let worker: WorkerProcess;
  let connection: Connection;
  let auditFile: string;

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'keystore-maint-prod-worker-'));
    auditFile = join(dir, 'audit.jsonl');
    sim = await startKmsSimulator({
      port: 0,
      connectDelayMs: 300,
      disconnectDelayMs: 200,
      consistencyLagMs: 1_000,
    });
    control = new SimulatorControl(sim.url);
    // Only what the image's environment would hold: nothing inherited from the test process
    // (HOME too, so a developer's own Temporal profile cannot leak in).
    worker = startWorker({
      PATH: process.env.PATH,
      HOME: dir,
      NODE_ENV: 'production',
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: temporalNamespace,
      KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
      KEYSTORE_MAINT_AUDIT_FILE: auditFile,
      KEYSTORE_MAINT_AUDIT_KEY_FILE: auditKey.file,
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_KMS: sim.url,
      AWS_ACCESS_KEY_ID: 'keystore-maint-test-dummy',
      AWS_SECRET_ACCESS_KEY: 'keystore-maint-test-dummy-secret',
    });
    await waitForOutput(worker, `task queue ${taskQueue}`, 60_000);
    connection = await Connection.connect({ address: temporalAddress });
  }, 300_000);

  afterAll(async () => {
    if (worker?.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    await connection?.close();
    await sim?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a maintenance to COMPLETED and leaves the store CONNECTED', async () => {
    const store = await control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'CONNECTED',
    });
    const client = new Client({ connection, namespace: temporalNamespace });
    const request: MaintenanceRequest = {
      customKeyStoreId: store.CustomKeyStoreId,
      window: { duration: '2s' },
      reason: 'prod-mode test',
      requestedBy: 'ci',
      pollInterval: '200ms',
      confirmSettle: '2s',
    };
    const workflowId = maintenanceWorkflowId(REGION, store.CustomKeyStoreId);
    expect(workflowId).toBe(`keystore-maint/us-east-1/${store.CustomKeyStoreId}`);
    const handle = await client.workflow.start(WORKFLOW_TYPES.maintenance, {
      taskQueue,
      workflowId,
      args: [request],
    });

    const result = (await handle.result()) as MaintenanceResult;

    expect(result.outcome, result.message).toBe('COMPLETED');
    expect((await control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
    // The audit sink came from the environment alone (KEYSTORE_MAINT_AUDIT_FILE), sealed with the
    // key the environment named.
    const events = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes(workflowId));
    expect(events.length).toBeGreaterThan(0);
    const report = await verifyAuditFile(auditFile, { key: auditKey.key });
    expect(report).toMatchObject({ ok: true, keyed: report.events });
  });

  it('refuses to start without an audit key, naming the variable and the fix', async () => {
    const unkeyed = startWorker({
      PATH: process.env.PATH,
      HOME: dir,
      NODE_ENV: 'production',
      TEMPORAL_ADDRESS: temporalAddress,
      KEYSTORE_MAINT_TASK_QUEUE: `${taskQueue}-unkeyed`,
      KEYSTORE_MAINT_AUDIT_FILE: join(dir, 'unkeyed.jsonl'),
      AWS_REGION: REGION,
    });
    const exit = await unkeyed.exited;
    expect(exit.code).toBe(2);
    expect(unkeyed.output()).toMatch(/KEYSTORE_MAINT_AUDIT_KEY_FILE is not set: .*openssl rand -hex 32/);
  });

  it('loaded the prebuilt workflow bundle instead of bundling at start-up', () => {
    expect(worker.output()).toContain(`keystore-maint worker: task queue ${taskQueue}`);
    // The SDK logs this only when it runs webpack itself.
    expect(worker.output()).not.toContain('Workflow bundle created');
  });

  it("is healthy by the image's health check while it runs", () => {
    const pid = worker.child.pid ?? -1;
    const check = healthcheck(pid, temporalAddress);
    expect(check.status, check.stdout).toBe(0);
    expect(check.stdout).toContain(`worker pid ${pid} alive`);
  });

  it('stops gracefully on SIGTERM: exit code 0 within 15 s', async () => {
    const started = Date.now();
    worker.child.kill('SIGTERM');
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000));
    const exit = await Promise.race([worker.exited, timeout]);

    expect(exit, `no exit within 15 s:\n${worker.output()}`).not.toBe('timeout');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(worker.output()).toContain('keystore-maint worker: stopped');
  });

  it('is unhealthy by the health check once the process is gone', () => {
    const check = healthcheck(worker.child.pid ?? -1, temporalAddress);
    expect(check.status, check.stdout).toBe(1);
    expect(check.stdout).toContain('UNHEALTHY');
  });
});
