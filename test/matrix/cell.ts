/**
 * One cell of the interruption matrix: a whole maintenance run on the real dev server, against a
 * simulator of its own (realistic eventual consistency, a slow call in flight in the target
 * phase), interrupted in that phase by an abort, a Temporal cancellation, a SIGKILL of its worker
 * or a failing KMS call — then judged against the ground truth (the simulator's store, ListAliases,
 * the traffic controller's record), never against the run's own belief.
 *
 * The dimensions a cell does not fix (store type, traffic provider, consistency lag, what kind of
 * failure) come from fast-check: `cellArbitrary` for property runs (seeded, shrinking), and
 * `exampleCell` for a rotation that covers every store type and provider across the phases.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import fc from 'fast-check';
import { expect, inject } from 'vitest';
import { JsonlAuditSink, verifyAuditFile, type AuditKey } from '../../src/audit';
import { newTestAuditKey } from '../support/audit-key';
import { maintenanceWorkflowId, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../../src/domain/names';
import { PHASES, type Phase } from '../../src/domain/phases';
import type { MaintenanceRequest } from '../../src/domain/request';
import type { DrainSpecInput } from '../../src/domain/traffic';
import type { MaintenanceResult, MaintenanceStatus } from '../../src/domain/status';
import { createKmsClient, kmsClientProvider } from '../../src/kms/client';
import {
  SimulatorControl,
  startKmsSimulator,
  type RunningSimulator,
  type SimFaultInput,
} from '../../src/sim';
import { createMaintenanceWorker } from '../../src/worker';
import type { keyStoreMaintenance } from '../../workflows/maintenance';
import { abortUpdate, approveUpdate, endWindowNowUpdate, statusQuery } from '../../workflows/messages';
import { expectReportMatchesTruth, groundTruth, type GroundTruth } from '../support/ground-truth';
import { REGION, TEST_CREDENTIALS } from '../support/maintenance-env';
import type { TestTemporal } from '../support/temporal';
import {
  startController,
  testWebhookControllers,
  webhookEnvironment,
  type Controller,
} from '../support/traffic-controller';
import { NO_WEBHOOK_CONTROLLERS } from '../../src/traffic/webhook-controllers';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import {
  FAILURES,
  INTERRUPTIONS,
  PROVIDERS,
  STORE_TYPES,
  type Cell,
  type Interruption,
  type Provider,
} from './dimensions';
import { recordMatrixCell } from './record';

export * from './dimensions';

/** How long the slow call of a phase takes, so the interruption lands while it is in flight. */
const SLOW_MS = 2_500;
const SECRET = 'whsec-matrix-7d2e9a41c0b3f65e8a12';
/** Phases where abort still has something to stop (the workflow's own list). */
const ABORTABLE = new Set<Phase>([
  'PREFLIGHT',
  'AWAITING_APPROVAL',
  'DRAINING',
  'DISCONNECTING',
  'WAITING_DISCONNECTED',
  'IN_WINDOW',
]);

function providersFor(phase: Phase): readonly Provider[] {
  // With provider none nothing happens in RESTORING, so there is no moment to interrupt.
  return phase === 'RESTORING' ? ['alias', 'webhook'] : PROVIDERS;
}

export function cellArbitrary(phase: Phase, interruption: Interruption): fc.Arbitrary<Cell> {
  return fc.record({
    phase: fc.constant(phase),
    interruption: fc.constant(interruption),
    storeType: fc.constantFrom(...STORE_TYPES),
    provider: fc.constantFrom(...providersFor(phase)),
    lagMs: fc.constantFrom(500, 1_000, 2_000),
    failure: fc.constantFrom(...FAILURES),
  });
}

/** A deterministic rotation: across the phases of one interruption, every type and provider. */
export function exampleCell(phase: Phase, interruption: Interruption): Cell {
  const p = PHASES.indexOf(phase);
  const k = INTERRUPTIONS.indexOf(interruption);
  const providers = providersFor(phase);
  return {
    phase,
    interruption,
    storeType: STORE_TYPES[(p + k) % STORE_TYPES.length] ?? 'AWS_CLOUDHSM',
    provider: providers[(p + k) % providers.length] ?? 'alias',
    lagMs: 1_000,
    failure: FAILURES[(p + k) % FAILURES.length] ?? 'burst',
  };
}

export function describeCell(cell: Cell): string {
  const failure = cell.interruption === 'kms-failure' ? ` ${cell.failure}` : '';
  return `${cell.interruption}${failure} in ${cell.phase} (${cell.storeType}, drain ${cell.provider}, lag ${cell.lagMs} ms)`;
}

// -------------------------------------------------------------------------------------------------
// The cell's world

interface World {
  readonly sim: RunningSimulator;
  readonly control: SimulatorControl;
  readonly kms: KMSClient;
  readonly storeId: string;
  readonly aliases: readonly { readonly name: string; readonly original: string }[];
  readonly fallbackKeyId: string;
  readonly controller: Controller | undefined;
  readonly taskQueue: string;
  readonly auditFile: string;
  readonly auditKey: AuditKey;
  startWorker(): Promise<void>;
  killWorker(): Promise<void>;
  close(): Promise<void>;
}

let counter = 0;

async function world(cell: Cell, temporal: TestTemporal): Promise<World> {
  const sim = await startKmsSimulator({
    port: 0,
    region: REGION,
    connectDelayMs: cell.phase === 'WAITING_CONNECTED' ? SLOW_MS : 300,
    disconnectDelayMs: cell.phase === 'WAITING_DISCONNECTED' ? SLOW_MS : 200,
    consistencyLagMs: cell.lagMs,
    quotaRps: 0,
  });
  const control = new SimulatorControl(sim.url);
  const kms = createKmsClient({ region: REGION, endpoint: sim.url, credentials: TEST_CREDENTIALS });
  const store = await control.createStore({
    CustomKeyStoreType: cell.storeType,
    ConnectionState: 'CONNECTED',
  });
  const storeId = store.CustomKeyStoreId;
  const aliases: { name: string; original: string }[] = [];
  let fallbackKeyId = '';
  if (cell.provider === 'alias') {
    fallbackKeyId = (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '';
    for (const name of ['alias/orders', 'alias/ledger']) {
      const key = await kms.send(
        new CreateKeyCommand(
          cell.storeType === 'EXTERNAL_KEY_STORE'
            ? { Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: storeId, XksKeyId: `xks-${name.slice(6)}` }
            : { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: storeId },
        ),
      );
      const original = key.KeyMetadata?.KeyId ?? '';
      await kms.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: original }));
      aliases.push({ name, original });
    }
  }
  const controller = cell.provider === 'webhook' ? await startController(SECRET) : undefined;
  const taskQueue = `matrix-${process.pid}-${++counter}-${storeId.slice(-5)}`;
  const auditFile = join(mkdtempSync(join(tmpdir(), 'matrix-audit-')), 'audit.jsonl');
  const auditKey = newTestAuditKey();

  let inProcess: { worker: Worker; running: Promise<void>; sink: JsonlAuditSink } | undefined;
  let child: WorkerProcess | undefined;
  const startWorker = async () => {
    if (cell.interruption === 'sigkill') {
      child = await startWorkerProcess({
        KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
        AWS_ENDPOINT_URL_KMS: sim.url,
        AWS_REGION: REGION,
        KEYSTORE_MAINT_AUDIT_FILE: auditFile,
        KEYSTORE_MAINT_AUDIT_KEY_FILE: auditKey.file,
        ...(controller ? webhookEnvironment(controller) : {}),
      });
      return;
    }
    const sink = new JsonlAuditSink(auditFile, { key: auditKey.key });
    const worker = await createMaintenanceWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundlePath: inject('workflowBundlePath'),
      deps: {
        kms: kmsClientProvider({ endpoint: sim.url, stsEndpoint: sim.url, credentials: TEST_CREDENTIALS }),
        auditSink: sink,
        defaultRegion: REGION,
        webhookControllers: controller ? testWebhookControllers([controller]) : NO_WEBHOOK_CONTROLLERS,
      },
    });
    inProcess = { worker, running: worker.run(), sink };
  };
  const stopWorker = async () => {
    if (child) await child.kill('SIGTERM');
    if (inProcess) {
      inProcess.worker.shutdown();
      await inProcess.running;
      await inProcess.sink.close();
    }
    child = undefined;
    inProcess = undefined;
  };
  await startWorker();
  return {
    sim,
    control,
    kms,
    storeId,
    aliases,
    fallbackKeyId,
    controller,
    taskQueue,
    auditFile,
    auditKey: auditKey.key,
    startWorker,
    killWorker: async () => {
      await child?.kill('SIGKILL');
      child = undefined;
    },
    close: async () => {
      await stopWorker().catch(() => undefined);
      await controller?.close();
      kms.destroy();
      await sim.stop();
    },
  };
}

function drainSpec(cell: Cell, w: World): DrainSpecInput {
  switch (cell.provider) {
    case 'none':
      // DRAINING with provider none changes nothing; its settle is the moment to interrupt.
      return cell.phase === 'DRAINING' ? { provider: 'none', settle: '3s' } : { provider: 'none' };
    case 'alias':
      return { provider: 'alias', aliases: w.aliases.map((a) => a.name), fallbackKeyId: w.fallbackKeyId };
    case 'webhook':
      return { provider: 'webhook', controller: w.controller?.name ?? 'missing', timeout: '30s' };
  }
}

function request(cell: Cell, w: World): MaintenanceRequest {
  // VERIFYING lasts the confirmation: a settle long enough to interrupt.
  const settleMs = cell.lagMs + 500 + (cell.phase === 'VERIFYING' ? SLOW_MS : 0);
  return {
    customKeyStoreId: w.storeId,
    window: { duration: '5m' },
    maxWindow: '10m',
    reason: `interruption matrix: ${describeCell(cell)}`,
    requestedBy: 'interruption-matrix',
    pollInterval: '200ms',
    timeouts: { disconnect: '2m', connect: '2m' },
    confirmSettle: `${settleMs}ms`,
    drain: drainSpec(cell, w),
    ...(cell.phase === 'AWAITING_APPROVAL' ? { approval: { required: true, timeout: '5m' } } : {}),
  };
}

// -------------------------------------------------------------------------------------------------
// Holding a phase open, and breaking a call in it

/** Faults that make the target phase's own call slow (armed before the run, or on reaching `at`). */
function holds(cell: Cell, w: World): { at: Phase | 'start'; arm: () => Promise<void> }[] {
  const fault = (f: SimFaultInput) => () => w.control.addFault(f);
  switch (cell.phase) {
    case 'PREFLIGHT':
      return [
        { at: 'start', arm: fault({ operation: 'DescribeCustomKeyStores', latencyMs: SLOW_MS, count: 1 }) },
      ];
    case 'DRAINING':
      if (cell.provider === 'alias')
        return [{ at: 'start', arm: fault({ operation: 'UpdateAlias', latencyMs: SLOW_MS / 2, count: 2 }) }];
      if (cell.provider === 'webhook')
        return [
          {
            at: 'start',
            arm: () => Promise.resolve(void (w.controller && (w.controller.postDelayMs = SLOW_MS))),
          },
        ];
      return [];
    case 'DISCONNECTING':
      return [
        { at: 'start', arm: fault({ operation: 'DisconnectCustomKeyStore', latencyMs: SLOW_MS, count: 1 }) },
      ];
    case 'RECONNECTING':
      return [
        { at: 'start', arm: fault({ operation: 'ConnectCustomKeyStore', latencyMs: SLOW_MS, count: 1 }) },
      ];
    case 'RESTORING':
      if (cell.provider === 'alias')
        return [
          { at: 'VERIFYING', arm: fault({ operation: 'UpdateAlias', latencyMs: SLOW_MS / 2, count: 2 }) },
        ];
      return [
        {
          at: 'VERIFYING',
          arm: () => Promise.resolve(void (w.controller && (w.controller.postDelayMs = SLOW_MS))),
        },
      ];
    default:
      // AWAITING_APPROVAL and IN_WINDOW wait for the driver; the waits and VERIFYING are slowed
      // through the simulator's delays and the request's confirmSettle.
      return [];
  }
}

/** The call a failing-KMS cell breaks: the target phase's own, or the next one after it. */
function failingOperation(cell: Cell): string {
  switch (cell.phase) {
    case 'PREFLIGHT':
    case 'WAITING_DISCONNECTED':
    case 'WAITING_CONNECTED':
    case 'VERIFYING':
      return 'DescribeCustomKeyStores';
    case 'AWAITING_APPROVAL':
    case 'DRAINING':
      return cell.provider === 'alias' ? 'UpdateAlias' : 'DisconnectCustomKeyStore';
    case 'DISCONNECTING':
      return 'DisconnectCustomKeyStore';
    case 'IN_WINDOW':
    case 'RECONNECTING':
      return 'ConnectCustomKeyStore';
    case 'RESTORING':
      return 'UpdateAlias';
  }
}

async function breakCall(cell: Cell, w: World): Promise<string> {
  const webhookStep =
    cell.provider === 'webhook' && (cell.phase === 'DRAINING' || cell.phase === 'RESTORING');
  if (webhookStep && w.controller) {
    // The traffic controller is the call that fails in these phases.
    const controller = w.controller;
    switch (cell.failure) {
      case 'denied-once':
      case 'denied-persistent':
        controller.mode = 'fails';
        return 'the traffic controller reports failed';
      case 'burst':
        controller.mode = 'error500';
        setTimeout(() => (controller.mode = 'ok'), 3_000).unref();
        return 'the traffic controller answers 500 for 3 s';
      case 'after-effect':
        controller.mode = 'act-then-500';
        setTimeout(() => (controller.mode = 'ok'), 3_000).unref();
        return 'the traffic controller acts, then answers 500, for 3 s';
    }
  }
  const operation = failingOperation(cell);
  switch (cell.failure) {
    case 'denied-once':
      await w.control.addFault({ operation, errorType: 'AccessDeniedException', count: 1 });
      return `${operation} denied once`;
    case 'denied-persistent':
      await w.control.addFault({ operation, errorType: 'AccessDeniedException', probability: 1 });
      return `${operation} denied until the run ends`;
    case 'burst':
      await w.control.addFault({ operation, errorType: 'KMSInternalException', count: 3 });
      return `${operation}: 3× KMSInternalException`;
    case 'after-effect':
      await w.control.addFault({ operation, errorType: 'KMSInternalException', when: 'after', count: 1 });
      return `${operation} takes effect, then answers KMSInternalException`;
  }
}

// -------------------------------------------------------------------------------------------------
// Driving the run

type Handle = WorkflowHandle<typeof keyStoreMaintenance>;

async function status(handle: Handle): Promise<MaintenanceStatus | undefined> {
  // A query needs a worker: after a SIGKILL there is none until it is restarted.
  return handle.query(statusQuery).catch(() => undefined);
}

/**
 * Polls the run until `stop` says so, moving it along on the way: approves it and ends its window
 * when `release` allows, arms holds on reaching their phase. Returns the last status.
 */
async function drive(
  handle: Handle,
  stop: (s: MaintenanceStatus) => boolean,
  release: { approve: boolean; endWindow: boolean },
  armAt: Map<string, () => Promise<void>>,
  timeoutMs: number,
): Promise<MaintenanceStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(handle);
    if (s) {
      const arm = armAt.get(s.phase);
      if (arm) {
        armAt.delete(s.phase);
        await arm();
      }
      if (stop(s) || s.outcome) return s;
      if (release.approve && s.phase === 'AWAITING_APPROVAL' && s.approval.approvedBy === undefined) {
        await handle.executeUpdate(approveUpdate, { args: [{ by: 'matrix' }] }).catch(() => undefined);
      }
      if (release.endWindow && s.phase === 'IN_WINDOW' && !s.windowEndedEarlyBy) {
        await handle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'matrix' }] }).catch(() => undefined);
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the run did not get there within ${timeoutMs} ms (last phase ${s?.phase ?? 'unknown'})`,
      );
    }
    // Every phase a cell targets is held open for seconds; polling faster only loads the machine.
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

async function finalReport(handle: Handle): Promise<MaintenanceResult> {
  try {
    return await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    let node: unknown = err;
    while (node && typeof node === 'object') {
      const details = (node as { details?: unknown[] }).details;
      if (details?.[0] && typeof details[0] === 'object' && 'outcome' in details[0]) {
        return details[0] as MaintenanceResult;
      }
      node = (node as { cause?: unknown }).cause;
    }
    // A Temporal cancellation: the run's own report is its status after compensation.
    const s = await handle.query(statusQuery);
    expect(s.outcome, `the run failed without a report: ${err.message}`).toBeDefined();
    return s as MaintenanceResult;
  }
}

export interface CellRecord {
  readonly cell: Cell;
  readonly interruption: string;
  readonly outcome: string;
  readonly temporalStatus: string;
  readonly truth: GroundTruth;
  readonly seconds: number;
}

/** Runs one cell to its end and checks it; throws (with the cell in the message) when it fails. */
export async function runCell(cell: Cell, temporal: TestTemporal): Promise<CellRecord> {
  const started = Date.now();
  const w = await world(cell, temporal);
  try {
    const armAt = new Map<string, () => Promise<void>>();
    for (const hold of holds(cell, w)) {
      if (hold.at === 'start') await hold.arm();
      else armAt.set(hold.at, hold.arm);
    }
    const target = PHASES.indexOf(cell.phase);
    const release = {
      approve: target > PHASES.indexOf('AWAITING_APPROVAL'),
      endWindow: target > PHASES.indexOf('IN_WINDOW'),
    };
    const handle: Handle = await temporal.client.workflow.start<typeof keyStoreMaintenance>(
      WORKFLOW_TYPES.maintenance,
      {
        taskQueue: w.taskQueue,
        workflowId: maintenanceWorkflowId(REGION, w.storeId),
        args: [request(cell, w)],
        typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.customKeyStoreId, value: w.storeId }],
      },
    );
    const reached = await drive(handle, (s) => s.phase === cell.phase, release, armAt, 60_000);
    expect(reached.outcome, `${describeCell(cell)}: the run ended before ${cell.phase}`).toBeUndefined();

    let interruption: string;
    let abortRefused = false;
    switch (cell.interruption) {
      case 'abort': {
        const answer = await handle
          .executeUpdate(abortUpdate, { args: [{ by: 'matrix', reason: 'interruption matrix' }] })
          .then(
            () => 'accepted',
            (err: unknown) => `refused: ${innermost(err)}`,
          );
        abortRefused = answer !== 'accepted';
        interruption = `abort ${answer}`;
        break;
      }
      case 'cancel':
        await handle.cancel();
        interruption = 'Temporal cancellation';
        break;
      case 'sigkill':
        await w.killWorker();
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await w.startWorker();
        interruption = 'worker SIGKILLed, restarted after 1 s';
        break;
      case 'kms-failure':
        interruption = await breakCall(cell, w);
        break;
    }
    await drive(handle, () => false, { approve: true, endWindow: true }, armAt, 240_000);
    const report = await finalReport(handle);
    const temporalStatus = (await handle.describe()).status.name;
    await w.control.clearFaults();
    if (w.controller) w.controller.mode = 'ok';
    const truth = await groundTruth(
      w.control,
      w.kms,
      w.storeId,
      {
        ...(cell.provider === 'alias' ? { aliases: w.aliases, fallbackKeyId: w.fallbackKeyId } : {}),
        ...(w.controller ? { controllerActions: () => w.controller?.actions() ?? [] } : {}),
      },
      SLOW_MS + 500,
    );
    const context = `${describeCell(cell)}: ${interruption}`;
    expectReportMatchesTruth(report, truth);
    expectOutcome(cell, report, temporalStatus, abortRefused, context);
    // The audit trail is whole, ends with the run's end, and holds every event of the report.
    const trail = await verifyAuditFile(w.auditFile, { key: w.auditKey });
    expect(trail.ok, `${context}: ${JSON.stringify(trail)}`).toBe(true);
    expect(report.audit.unwritten, context).toBe(0);
    expect(report.events.at(-1)?.action, context).toBe('run.ended');
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase), context).toBe(report.outcome);
    const record: CellRecord = {
      cell,
      interruption,
      outcome: report.outcome,
      temporalStatus,
      truth,
      seconds: (Date.now() - started) / 1000,
    };
    recordMatrixCell(record);
    return record;
  } finally {
    await w.close();
  }
}

/** What each interruption must end in (the invariant check decides whether it is truthful). */
function expectOutcome(
  cell: Cell,
  report: MaintenanceResult,
  temporalStatus: string,
  abortRefused: boolean,
  context: string,
): void {
  const message = `${context}: ${report.outcome} "${report.message}"`;
  switch (cell.interruption) {
    case 'abort':
      expect(abortRefused, message).toBe(!ABORTABLE.has(cell.phase));
      expect(report.outcome, message).toBe(abortRefused ? 'COMPLETED' : 'CANCELLED');
      break;
    case 'cancel':
      expect(report.outcome, message).toBe('CANCELLED');
      expect(temporalStatus, message).toBe('CANCELLED');
      break;
    case 'sigkill':
      expect(report.outcome, message).toBe('COMPLETED');
      break;
    case 'kms-failure':
      if (cell.failure === 'burst' || cell.failure === 'after-effect') {
        // Retryable, or an outcome the next read reveals: absorbed by idempotent retries.
        expect(report.outcome, message).toBe('COMPLETED');
      } else {
        expect(['COMPLETED', 'FAILED', 'NEEDS_ATTENTION'], message).toContain(report.outcome);
      }
      break;
  }
}

function innermost(err: unknown): string {
  let node: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (node && typeof node === 'object' && 'cause' in node && node.cause) {
    node = node.cause;
    if (node instanceof Error) message = node.message;
  }
  return message;
}
