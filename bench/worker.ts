/**
 * The benchmark's worker, in a process of its own so that its peak RSS is measured alone: the
 * production worker (`createMaintenanceWorker`: the workflow worker and the `-kms` queue's
 * worker, one KMS budget gate, the shared poller) with the JSON Lines audit sink, talking to the
 * simulator and assuming execution roles through the simulator's STS.
 *
 * It can also emulate the design before budgets per (account, Region, operation): with
 * `BENCH_GATE=region`, its gate (`RegionBudgetGate`) lumps every account and operation of a
 * Region into one window, as the gate keyed by Region alone did; the benchmark pairs it with a
 * server-enforced rate on the `-kms` queue of half the budget and no shared polling, as that
 * design ran. Only the key changes: the gate's algorithm is the production one.
 *
 * Started by bench/run.ts with `fork` (IPC). Settings from the environment:
 *   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_BUNDLE (prebuilt workflow bundle:
 *   the maintenance workflows, or bench/bare-workflow.ts's), BENCH_KMS_ENDPOINT (also STS),
 *   BENCH_BUDGET_RPS, BENCH_AUDIT_FILE; optional BENCH_GATE (`key`, the default, or `region`),
 *   BENCH_QUEUE_RPS (none by default), BENCH_SHARED_POLLING (`1`, the default, or `0`),
 *   BENCH_MAX_CACHED_WORKFLOWS.
 * Sends `{ ready: true }` once polling; answers `'stats'` with the gate's and the poller's counters;
 * stops on `'stop'` (or SIGTERM).
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { SharedDescribePoller } from '../activities/shared-poller';
import { JsonlAuditSink } from '../src/audit';
import { callerAccountProvider } from '../src/kms/caller-account';
import { kmsClientProvider } from '../src/kms/client';
import {
  KmsCallGate,
  workerCallsPerSecond,
  type GateWaitOptions,
  type KmsBudget,
} from '../src/kms/rate-limit';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/local-stack';
import { NO_WEBHOOK_CONTROLLERS } from '../src/traffic/webhook-controllers';
import { createMaintenanceWorker, kmsGateFor } from '../src/worker';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench worker: ${name} is not set`);
  return value;
}

/**
 * The Region of a budget key `<account|self>/<region>/<operation>` (activities/kms-call.ts); a key
 * of another shape is kept whole, so a change of the format shows as a gate per key, not a crash.
 */
export function regionOfBudgetKey(key: string): string {
  const parts = key.split('/');
  return parts.length === 3 && parts[1] ? parts[1] : key;
}

/**
 * The single-budget design, emulated: one window per Region for every account and operation.
 * Waits are counted per Region too, so `pollSpacingMs` widens with every wait in the Region, as
 * it did when the key was the Region.
 */
export class RegionBudgetGate extends KmsCallGate {
  override run<T>(key: string, call: () => Promise<T>, options?: GateWaitOptions): Promise<T> {
    return super.run(regionOfBudgetKey(key), call, options);
  }

  override beginWait(key: string): () => void {
    return super.beginWait(regionOfBudgetKey(key));
  }

  override pollSpacingMs(key: string): number {
    return super.pollSpacingMs(regionOfBudgetKey(key));
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: setting('TEMPORAL_ADDRESS') });
  const queueRps = Number(process.env.BENCH_QUEUE_RPS ?? '0');
  const kmsBudget: KmsBudget = {
    budgetRps: Number(setting('BENCH_BUDGET_RPS')),
    workers: 1,
    ...(queueRps > 0 ? { queueRps } : {}),
  };
  // Made here (not inside the worker) so that their counters can be reported.
  const kmsGate =
    process.env.BENCH_GATE === 'region'
      ? new RegionBudgetGate(workerCallsPerSecond(kmsBudget))
      : kmsGateFor(kmsBudget);
  const endpoint = setting('BENCH_KMS_ENDPOINT');
  const kms = kmsClientProvider({ endpoint, stsEndpoint: endpoint, credentials: LOCAL_CREDENTIALS });
  const callerAccount = callerAccountProvider({ stsEndpoint: endpoint, credentials: LOCAL_CREDENTIALS });
  const sharedPolling = process.env.BENCH_SHARED_POLLING !== '0';
  const poller = sharedPolling ? new SharedDescribePoller({ kms, callerAccount, kmsGate }) : undefined;
  const auditSink = new JsonlAuditSink(setting('BENCH_AUDIT_FILE'));
  const worker = await createMaintenanceWorker({
    connection,
    namespace: setting('TEMPORAL_NAMESPACE'),
    taskQueue: setting('BENCH_TASK_QUEUE'),
    workflowBundlePath: setting('BENCH_BUNDLE'),
    kmsBudget,
    sharedPolling,
    deps: {
      kms,
      callerAccount,
      kmsGate,
      poller,
      auditSink,
      defaultRegion: LOCAL_REGION,
      webhookControllers: NO_WEBHOOK_CONTROLLERS,
    },
    tuning: {
      // A wait holds an activity slot for as long as KMS takes: 500 runs in flight need 500 slots.
      maxConcurrentActivityTaskExecutions: 1_000,
      ...(process.env.BENCH_MAX_CACHED_WORKFLOWS
        ? { maxCachedWorkflows: Number(process.env.BENCH_MAX_CACHED_WORKFLOWS) }
        : {}),
    },
  });
  process.on('message', (message) => {
    if (message === 'stats') process.send?.({ gate: kmsGate?.snapshot(), poller: poller?.snapshot() });
    if (message === 'stop' && worker.getState() === 'RUNNING') worker.shutdown();
  });
  const running = worker.run();
  process.send?.({ ready: true });
  await running;
  await auditSink.close();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
