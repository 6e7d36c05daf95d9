/**
 * The benchmark's worker, in a process of its own so that its peak RSS is measured alone: the
 * production worker (`createMaintenanceWorker`: the workflow worker and the `-kms` queue's
 * worker, one KMS budget gate) with the JSON Lines audit sink, talking to the simulator.
 *
 * Started by bench/run.ts with `fork` (IPC). Settings from the environment:
 *   TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_BUNDLE (prebuilt workflow bundle:
 *   the maintenance workflows, or bench/bare-workflow.ts's), BENCH_KMS_ENDPOINT, BENCH_BUDGET_RPS,
 *   BENCH_AUDIT_FILE.
 * Sends `{ ready: true }` once polling; answers `'stats'` with the gate's counters; stops on
 * `'stop'` (or SIGTERM).
 */
import { NO_WEBHOOK_CONTROLLERS } from '../src/traffic/webhook-controllers';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { JsonlAuditSink } from '../src/audit';
import { kmsClientProvider } from '../src/kms/client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../src/local-stack';
import { createMaintenanceWorker, kmsGateFor } from '../src/worker';

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench worker: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address: setting('TEMPORAL_ADDRESS') });
  const kmsBudget = { budgetRps: Number(setting('BENCH_BUDGET_RPS')), workers: 1 };
  // Made here (not inside the worker) so that its counters can be reported.
  const kmsGate = kmsGateFor(kmsBudget);
  const auditSink = new JsonlAuditSink(setting('BENCH_AUDIT_FILE'));
  const worker = await createMaintenanceWorker({
    connection,
    namespace: setting('TEMPORAL_NAMESPACE'),
    taskQueue: setting('BENCH_TASK_QUEUE'),
    workflowBundlePath: setting('BENCH_BUNDLE'),
    kmsBudget,
    deps: {
      kms: kmsClientProvider({ endpoint: setting('BENCH_KMS_ENDPOINT'), credentials: LOCAL_CREDENTIALS }),
      kmsGate,
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
    if (message === 'stats') process.send?.({ gate: kmsGate?.snapshot() });
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
