/**
 * A scenario's own world: a KMS simulator (faults are global to a simulator, so scenarios that
 * run at the same time must not share one), a task queue, a worker in a child process that can
 * be killed with SIGKILL, a JSON Lines audit trail, and a store with two aliases and a canary key.
 * After the run, `checkRun` verifies everything the suite promises.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  ListAliasesCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { Client, Connection } from '@temporalio/client';
import { expect, inject } from 'vitest';
import { verifyAuditFile, type AuditKey } from '../../src/audit';
import { newTestAuditKey } from '../support/audit-key';
import { createMaintenanceClient, type MaintenanceClient } from '../../src/client';
import type { MaintenanceRequest } from '../../src/domain/request';
import type { MaintenanceResult } from '../../src/domain/status';
import { createKmsClient } from '../../src/kms/client';
import {
  SimulatorControl,
  startKmsSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/sim';
import {
  DEFAULT_CONFIRM_SETTLE,
  DEFAULT_CONSISTENCY_LAG_MS,
  MUTATING_OPERATIONS,
  REGION,
  TEST_CREDENTIALS,
} from '../support/maintenance-env';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';

export interface ScenarioWorld {
  readonly sim: RunningSimulator;
  readonly control: SimulatorControl;
  readonly kms: KMSClient;
  readonly client: MaintenanceClient;
  readonly taskQueue: string;
  readonly auditFile: string;
  /** The key that seals the trail (the worker's KEYSTORE_MAINT_AUDIT_KEY_FILE). */
  readonly auditKey: AuditKey;
  readonly storeId: string;
  readonly aliases: readonly { readonly name: string; readonly original: string }[];
  readonly fallbackKeyId: string;
  readonly canaryKeyId: string;
  worker: WorkerProcess | undefined;
  startWorker(extraEnv?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  /** A request with short timings, alias drain and the canary. */
  request(overrides?: Partial<MaintenanceRequest>): MaintenanceRequest;
  close(): Promise<void>;
}

let counter = 0;

export async function scenarioWorld(
  options: { sim?: SimulatorOptions; store?: Record<string, unknown>; temporalAddress?: string } = {},
): Promise<ScenarioWorld> {
  const sim = await startKmsSimulator({
    port: 0,
    region: REGION,
    connectDelayMs: 300,
    disconnectDelayMs: 200,
    consistencyLagMs: DEFAULT_CONSISTENCY_LAG_MS,
    quotaRps: 0,
    // The concurrency scenario loads one account-Region with 30 stores, more than KMS's 10, to
    // put its quotas under the most pressure one worker can meet; the limit itself is tested in
    // test/sim.
    storeLimit: 0,
    ...options.sim,
  });
  const control = new SimulatorControl(sim.url);
  const kms = createKmsClient({ region: REGION, endpoint: sim.url, credentials: TEST_CREDENTIALS });
  const store = await control.createStore({
    CustomKeyStoreType: 'AWS_CLOUDHSM',
    ConnectionState: 'CONNECTED',
    ...options.store,
  });
  const storeId = store.CustomKeyStoreId;
  const external = store.CustomKeyStoreType === 'EXTERNAL_KEY_STORE';
  let xksKeys = 0;
  const keyIn = async () =>
    (
      await kms.send(
        new CreateKeyCommand(
          external
            ? { Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: `xks-key-${++xksKeys}` }
            : { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId },
        ),
      )
    ).KeyMetadata?.KeyId ?? '';
  const fallbackKeyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
  const canaryKeyId = await keyIn();
  const aliases: { name: string; original: string }[] = [];
  for (const name of ['alias/orders', 'alias/ledger']) {
    const original = await keyIn();
    await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: original }));
    aliases.push({ name, original });
  }
  const address = options.temporalAddress ?? inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const taskQueue = `scenario-${process.pid}-${++counter}-${storeId.slice(-5)}`;
  const client = await createMaintenanceClient({
    client: new Client({ connection, namespace: inject('temporalNamespace') }),
    taskQueue,
    region: REGION,
  });
  const auditFile = join(mkdtempSync(join(tmpdir(), 'scenario-audit-')), 'audit.jsonl');
  const auditKey = newTestAuditKey();
  const world: ScenarioWorld = {
    sim,
    control,
    kms,
    client,
    taskQueue,
    auditFile,
    auditKey: auditKey.key,
    storeId,
    aliases,
    fallbackKeyId,
    canaryKeyId,
    worker: undefined,
    async startWorker(extraEnv = {}) {
      world.worker = await startWorkerProcess({
        TEMPORAL_ADDRESS: address,
        KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
        AWS_ENDPOINT_URL_KMS: sim.url,
        AWS_REGION: REGION,
        KEYSTORE_MAINT_AUDIT_FILE: auditFile,
        KEYSTORE_MAINT_AUDIT_KEY_FILE: auditKey.file,
        ...extraEnv,
      });
      return world.worker;
    },
    request: (overrides = {}) => ({
      customKeyStoreId: storeId,
      window: { duration: '2s' },
      reason: 'reliability scenario',
      requestedBy: 'scenario-suite',
      pollInterval: '200ms',
      timeouts: { disconnect: '2m', connect: '2m' },
      confirmSettle: DEFAULT_CONFIRM_SETTLE,
      canaryKeyId,
      drain: { provider: 'alias', aliases: aliases.map((a) => a.name), fallbackKeyId },
      ...overrides,
    }),
    async close() {
      await world.worker?.kill('SIGTERM');
      await connection.close();
      kms.destroy();
      await sim.stop();
    },
  };
  return world;
}

/** Waits until the run reports `phase` (the worker must be alive to answer the query). */
export async function waitForPhase(world: ScenarioWorld, phase: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await world.client.getStatus(world.storeId).catch(() => undefined);
    if (status?.phase === phase) return;
    if (status?.outcome) throw new Error(`the run ended ${status.outcome} before reaching ${phase}`);
    if (Date.now() > deadline) throw new Error(`the run did not reach ${phase} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function aliasTargets(kms: KMSClient): Promise<Map<string, string | undefined>> {
  const out = await kms.send(new ListAliasesCommand({ Limit: 1000 }));
  return new Map((out.Aliases ?? []).map((a) => [a.AliasName ?? '', a.TargetKeyId]));
}

export interface RunExpectation {
  readonly outcome: MaintenanceResult['outcome'];
  readonly storeState: string;
  /** Whether aliases must be back on their originals (else: still on the fallback). */
  readonly aliasesRestored: boolean;
  /** Exactly how many accepted mutating calls of each kind. */
  readonly accepted: Readonly<Record<string, number>>;
}

/** Checks store, aliases, audit chain, result, timeline and the call log; returns a summary. */
export async function checkRun(
  world: ScenarioWorld,
  result: MaintenanceResult,
  want: RunExpectation,
): Promise<string> {
  expect(result.outcome).toBe(want.outcome);
  const store = await world.control.getStore(world.storeId);
  expect(store.ConnectionState).toBe(want.storeState);
  const targets = await aliasTargets(world.kms);
  for (const alias of world.aliases) {
    expect(targets.get(alias.name), alias.name).toBe(
      want.aliasesRestored ? alias.original : world.fallbackKeyId,
    );
  }
  const audit = await verifyAuditFile(world.auditFile, { key: world.auditKey });
  expect(audit.ok, JSON.stringify(audit)).toBe(true);
  expect(audit.events).toBe(result.events.length);
  const phases = result.timeline.map((s) => s.phase);
  expect(phases[0]).toBe('PREFLIGHT');
  expect(phases[phases.length - 1]).toBe(want.outcome);
  const calls = await world.control.calls();
  const accepted: Record<string, number> = {};
  for (const call of calls) {
    // CreateAlias is the world's own set-up, not the run's doing.
    if (
      call.outcome === 'ok' &&
      MUTATING_OPERATIONS.has(call.operation) &&
      call.operation !== 'CreateAlias'
    ) {
      accepted[call.operation] = (accepted[call.operation] ?? 0) + 1;
    }
  }
  expect(accepted).toEqual(want.accepted);
  return `${result.outcome}; store ${store.ConnectionState}; aliases ${want.aliasesRestored ? 'restored exactly' : 'still on fallback'}; audit chain intact (${audit.events} events); accepted ${Object.entries(
    accepted,
  )
    .map(([op, n]) => `${n}× ${op.replace('CustomKeyStore', '')}`)
    .join(', ')}`;
}

export const HAPPY_ACCEPTED = { DisconnectCustomKeyStore: 1, ConnectCustomKeyStore: 1, UpdateAlias: 4 };
