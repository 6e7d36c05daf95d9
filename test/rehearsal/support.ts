/**
 * What the rehearsal tests share: a client of the rehearsal cluster, the KMS simulator, and
 * keystore-maint workers started from the built package exactly as the image's entrypoint starts
 * them (`node bin/keystore-maint.js worker`, configured by the environment).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { expect, inject } from 'vitest';
import type { MaintenanceRequest } from '../../src/domain/request';
import { SimulatorControl, startKmsSimulator } from '../../src/sim';
import { callsFor, connectedStore, mutatingAccepted } from '../support/maintenance-env';
import { spawnUntilReady, type WorkerProcess as SpawnedProcess } from '../support/worker-process';
import { projectRoot } from '../../src/util/project-root';

export const REGION = 'us-east-1';

export interface Cluster {
  readonly client: Client;
  readonly address: string;
  readonly namespace: string;
  close(): Promise<void>;
}

export async function connectCluster(): Promise<Cluster> {
  const address = inject('rehearsalAddress');
  const namespace = inject('rehearsalNamespace');
  const connection = await Connection.connect({ address });
  return {
    client: new Client({ connection, namespace }),
    address,
    namespace,
    close: () => connection.close(),
  };
}

export interface Sim {
  readonly url: string;
  readonly control: SimulatorControl;
  stop(): Promise<void>;
}

/** The KMS simulator with realistic timing (eventual consistency on) and KMS's real quota. */
export async function startSim(): Promise<Sim> {
  const sim = await startKmsSimulator({
    port: 0,
    region: REGION,
    connectDelayMs: 500,
    disconnectDelayMs: 300,
    consistencyLagMs: 1_000,
    quotaRps: 5,
    storeLimit: 0,
  });
  return { url: sim.url, control: new SimulatorControl(sim.url), stop: () => sim.stop() };
}

let auditDir: string | undefined;
function sharedAuditDir(): string {
  auditDir ??= mkdtempSync(join(tmpdir(), 'rehearsal-audit-'));
  return auditDir;
}

/** A replica; `kill` sends SIGKILL by default: the process is gone mid-step, as when a node dies. */
export interface WorkerProcess extends SpawnedProcess {
  readonly name: string;
}

export interface WorkerOptions {
  readonly name: string;
  readonly taskQueue: string;
  readonly sim: Sim;
  /** The workflow bundle (default: the built package's dist/workflow-bundle.js). */
  readonly bundle?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts a worker as the image does and waits until it polls. */
export async function startWorker(options: WorkerOptions): Promise<WorkerProcess> {
  const root = projectRoot();
  const worker = await spawnUntilReady(
    process.execPath,
    [join(root, 'bin', 'keystore-maint.js'), 'worker'],
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      TEMPORAL_ADDRESS: inject('rehearsalAddress'),
      TEMPORAL_NAMESPACE: inject('rehearsalNamespace'),
      KEYSTORE_MAINT_TASK_QUEUE: options.taskQueue,
      KEYSTORE_MAINT_WORKFLOW_BUNDLE: options.bundle ?? join(root, 'dist', 'workflow-bundle.js'),
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL_KMS: options.sim.url,
      AWS_ENDPOINT_URL_STS: options.sim.url,
      AWS_ACCESS_KEY_ID: 'AKIAREHEARSAL0000000',
      AWS_SECRET_ACCESS_KEY: 'rehearsal-secret-key',
      KEYSTORE_MAINT_AUDIT_SINK: 'file',
      // One trail for every replica, as a deployment shares one: a run's batches may be written
      // by any of them, and each continues the run's sequence.
      KEYSTORE_MAINT_AUDIT_FILE: join(sharedAuditDir(), 'audit.jsonl'),
      KEYSTORE_MAINT_AUDIT_UNKEYED: '1',
      KEYSTORE_MAINT_KMS_BUDGET_RPS: '4',
      KEYSTORE_MAINT_KMS_WORKERS: '2',
      ...options.env,
    },
    'keystore-maint worker: task queue',
  );
  return { name: options.name, ...worker };
}

/** A request with the rehearsal's timings (short window, 500 ms polls, a settle above KMS's lag). */
export function rehearsalRequest(
  store: string,
  window: string,
  reason = 'production rehearsal',
): MaintenanceRequest {
  return {
    customKeyStoreId: store,
    window: { duration: window },
    reason,
    requestedBy: 'rehearsal@example.com',
    pollInterval: '500ms',
    timeouts: { disconnect: '2m', connect: '2m' },
    confirmSettle: '1500ms',
  };
}

/** A CONNECTED CloudHSM store in the simulator, named `<prefix>-<random>` (fleets select by prefix). */
export function rehearsalStore(sim: Sim, prefix: string): Promise<string> {
  return connectedStore(sim.control, 'AWS_CLOUDHSM', {
    CustomKeyStoreName: `${prefix}-${randomUUID().slice(0, 8)}`,
  });
}

export function uniqueQueue(prefix: string): string {
  return `${prefix}-${Math.random().toString(16).slice(2, 10)}`;
}

/** Ground truth of a store maintained once: CONNECTED, after exactly one Disconnect and one Connect. */
export async function expectWentDownOnce(control: SimulatorControl, id: string): Promise<void> {
  expect((await control.getStore(id)).ConnectionState).toBe('CONNECTED');
  expect(mutatingAccepted(await callsFor(control, id)).map((c) => c.operation)).toEqual([
    'DisconnectCustomKeyStore',
    'ConnectCustomKeyStore',
  ]);
}
