/**
 * A complete maintenance environment for integration tests: the run's shared Temporal dev
 * server, a fresh KMS simulator on a free port, and a real worker on a task queue of its own,
 * talking to the simulator through the real `@aws-sdk/client-kms`.
 */
import { cloudWatchClientProvider } from '../../src/gates/cloudwatch';
import type { SnsClientProvider } from '../../src/notify/sns';
import type { GatesConfig } from '../../src/gates/config';
import { cloudHsmClientProvider } from '../../src/probes/cloudhsm-cluster';
import type { XksProxies } from '../../src/probes/xks-proxies';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { inject } from 'vitest';
import type { Worker } from '@temporalio/worker';
import { maintenanceWorkflowId, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../../src/domain/names';
import type { MaintenanceRequest } from '../../src/domain/request';
import type { MaintenanceResult } from '../../src/domain/status';
import { callerAccountProvider } from '../../src/kms/caller-account';
import { kmsClientProvider } from '../../src/kms/client';
import {
  SimulatorControl,
  startKmsSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/sim';
import { createMaintenanceWorker, type MaintenanceWorkerOptions } from '../../src/worker';
import type { keyStoreMaintenance } from '../../workflows/maintenance';
import { MemoryAuditSink } from './memory-audit-sink';
import type { AuditSink } from '../../src/audit/sink';
import { NO_WEBHOOK_CONTROLLERS, type WebhookControllers } from '../../src/traffic/webhook-controllers';
import { connectTestTemporal, uniqueName, type TestTemporal } from './temporal';

export const REGION = 'us-east-1';

/**
 * KMS is eventually consistent, so tests are too by default: Describe shows a change this late.
 * Requests confirm "back" across a little more than that (`confirmSettle`).
 */
export const DEFAULT_CONSISTENCY_LAG_MS = 1_000;
export const DEFAULT_CONFIRM_SETTLE = '1500ms';
export const TEST_CREDENTIALS = { accessKeyId: 'AKIDTESTKEYSTOREMAINT', secretAccessKey: 'test-secret' };

export const MUTATING_OPERATIONS = new Set([
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'UpdateCustomKeyStore',
  'DeleteCustomKeyStore',
  'UpdateAlias',
  'CreateAlias',
  'DeleteAlias',
]);

export interface MaintenanceEnv {
  readonly temporal: TestTemporal;
  readonly sim: RunningSimulator;
  readonly control: SimulatorControl;
  readonly audit: MemoryAuditSink;
  readonly taskQueue: string;
  /** The running worker (replaced by `startWorker`). */
  readonly worker: Worker;
  /** Shuts the worker down and waits until it has stopped; runs keep their state in Temporal. */
  stopWorker(): Promise<void>;
  /** Starts a new worker on the same task queue, after `stopWorker`. */
  startWorker(): Promise<void>;
  /** Starts a run under the canonical workflow id. */
  start(
    request: Partial<MaintenanceRequest> & { customKeyStoreId: string },
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof keyStoreMaintenance>>;
  /** A request with short timings, for a store. */
  request(customKeyStoreId: string, overrides?: Partial<MaintenanceRequest>): MaintenanceRequest;
  close(): Promise<void>;
}

export interface MaintenanceEnvOptions {
  /** The traffic controllers the worker may call (test/support/traffic-controller.ts). */
  readonly webhookControllers?: WebhookControllers;
  /** The XKS proxy credentials the worker's readiness probes sign with. */
  readonly xksProxies?: XksProxies;
  /** The Prometheus sources and HTTP gates the worker knows. */
  readonly gatesConfig?: GatesConfig;
  /** SNS clients for notification topics (e.g. an emulator's). */
  readonly sns?: SnsClientProvider;
  /** A real sink instead of the in-memory one (events are then in both). */
  readonly auditSink?: AuditSink;
  /**
   * The worker's KMS budget and shared polling (default: as a production worker's), and the
   * metrics it records in (default: none; workers started again by `startWorker` share them), and
   * its tracing (default: off).
   */
  readonly worker?: Pick<MaintenanceWorkerOptions, 'kmsBudget' | 'sharedPolling' | 'metrics' | 'tracing'>;
}

export async function startMaintenanceEnv(
  simOptions: SimulatorOptions = {},
  options: MaintenanceEnvOptions = {},
): Promise<MaintenanceEnv> {
  const temporal = await connectTestTemporal();
  const sim = await startKmsSimulator({
    port: 0,
    region: REGION,
    connectDelayMs: 300,
    disconnectDelayMs: 200,
    consistencyLagMs: DEFAULT_CONSISTENCY_LAG_MS,
    quotaRps: 0,
    // One env serves many tests' stores in one account and Region, more than KMS's 10; a test
    // of the limit itself passes `storeLimit`.
    storeLimit: 0,
    ...simOptions,
  });
  const control = new SimulatorControl(sim.url);
  const audit = new MemoryAuditSink(options.auditSink);
  const taskQueue = uniqueName('maint');
  const newWorker = () =>
    createMaintenanceWorker({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowBundlePath: inject('workflowBundlePath'),
      ...options.worker,
      deps: {
        kms: kmsClientProvider({ endpoint: sim.url, stsEndpoint: sim.url, credentials: TEST_CREDENTIALS }),
        callerAccount: callerAccountProvider({ stsEndpoint: sim.url, credentials: TEST_CREDENTIALS }),
        auditSink: audit,
        defaultRegion: REGION,
        webhookControllers: options.webhookControllers ?? NO_WEBHOOK_CONTROLLERS,
        ...(options.xksProxies ? { xksProxies: options.xksProxies } : {}),
        ...(options.gatesConfig ? { gatesConfig: options.gatesConfig } : {}),
        ...(options.sns ? { sns: options.sns } : {}),
        cloudWatch: cloudWatchClientProvider({
          endpoint: sim.url,
          stsEndpoint: sim.url,
          credentials: TEST_CREDENTIALS,
        }),
        cloudHsm: cloudHsmClientProvider({
          endpoint: sim.url,
          stsEndpoint: sim.url,
          credentials: TEST_CREDENTIALS,
        }),
      },
    });
  let worker = await newWorker();
  let running: Promise<void> | undefined = worker.run();

  const request = (
    customKeyStoreId: string,
    overrides: Partial<MaintenanceRequest> = {},
  ): MaintenanceRequest => ({
    customKeyStoreId,
    window: { duration: '1s' },
    reason: 'integration test',
    requestedBy: 'tester@example.com',
    pollInterval: '200ms',
    timeouts: { disconnect: '30s', connect: '30s' },
    confirmSettle: DEFAULT_CONFIRM_SETTLE,
    ...overrides,
  });

  return {
    temporal,
    sim,
    control,
    audit,
    taskQueue,
    get worker() {
      return worker;
    },
    stopWorker: async () => {
      worker.shutdown();
      await running;
      running = undefined;
    },
    startWorker: async () => {
      worker = await newWorker();
      running = worker.run();
    },
    request,
    start: async (partial) => {
      const full: MaintenanceRequest = { ...request(partial.customKeyStoreId), ...partial };
      return temporal.client.workflow.start<typeof keyStoreMaintenance>(WORKFLOW_TYPES.maintenance, {
        taskQueue,
        workflowId: maintenanceWorkflowId(full.region ?? REGION, full.customKeyStoreId, full.account),
        args: [full],
        typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.customKeyStoreId, value: full.customKeyStoreId }],
      });
    },
    close: async () => {
      if (running) {
        worker.shutdown();
        await running;
      }
      await sim.stop();
      await temporal.close();
    },
  };
}

/** A connected store of the given type, ready for maintenance. */
export async function connectedStore(
  control: SimulatorControl,
  type: 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE' = 'AWS_CLOUDHSM',
  extra: Record<string, unknown> = {},
): Promise<string> {
  const store = await control.createStore({
    CustomKeyStoreType: type,
    CustomKeyStoreName: `store-${randomUUID().slice(0, 8)}`,
    ConnectionState: 'CONNECTED',
    ...extra,
  });
  return store.CustomKeyStoreId;
}

/** The KMS calls the simulator recorded for one store, in order. */
/** The calls that name a store (not the shared poller's listings, which name none: `isListing`). */
export async function callsFor(control: SimulatorControl, customKeyStoreId: string) {
  const calls = await control.calls();
  return calls.filter((c) => JSON.stringify(c.params).includes(customKeyStoreId));
}

/** An unfiltered DescribeCustomKeyStores: it answers for every store of the account-Region. */
export function isListing(call: { operation: string; params: Record<string, unknown> }): boolean {
  return (
    call.operation === 'DescribeCustomKeyStores' &&
    call.params.CustomKeyStoreId === undefined &&
    call.params.CustomKeyStoreName === undefined
  );
}

/** How many calls of one operation the simulator recorded, whoever made them. */
export async function callCount(control: SimulatorControl, operation: string): Promise<number> {
  return (await control.calls()).filter((c) => c.operation === operation).length;
}

export function mutatingAccepted<T extends { operation: string; outcome: string }>(calls: T[]): T[] {
  return calls.filter((c) => MUTATING_OPERATIONS.has(c.operation) && c.outcome === 'ok');
}

/** The result of a run, whether it returned (COMPLETED, CANCELLED) or failed with a result. */
export async function outcomeOf(handle: WorkflowHandle): Promise<MaintenanceResult> {
  try {
    return (await handle.result()) as MaintenanceResult;
  } catch (err) {
    let node: unknown = err;
    while (node && typeof node === 'object') {
      const details = (node as { details?: unknown[] }).details;
      if (details?.[0] && typeof details[0] === 'object' && 'outcome' in details[0]) {
        return details[0] as MaintenanceResult;
      }
      node = (node as { cause?: unknown }).cause;
    }
    throw err;
  }
}

/** The message a client sees from a rejected update or failed workflow: the innermost cause's. */
export async function rejectionOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    let node: unknown = err;
    let message = err instanceof Error ? err.message : String(err);
    while (node && typeof node === 'object' && 'cause' in node && node.cause) {
      node = node.cause;
      if (node instanceof Error) message = node.message;
    }
    return message;
  }
  throw new Error('expected a rejection, but the call succeeded');
}

/** Polls `fn` until it returns a truthy value (bounded); for waiting on observable state. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The environment a CLI child process needs to reach this env's Temporal, worker and simulator. */
export function cliEnvironment(env: MaintenanceEnv): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: env.temporal.address,
    TEMPORAL_NAMESPACE: env.temporal.namespace,
    KEYSTORE_MAINT_TASK_QUEUE: env.taskQueue,
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL_KMS: env.sim.url,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    KEYSTORE_MAINT_ACTOR: 'cli-tester',
  };
}
