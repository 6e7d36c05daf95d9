/**
 * The live heap one cached run holds, measured without the noise of RSS: the workflows run in the
 * worker's main thread (`debugMode`), so that after a full GC `heapUsed` is their live set, and
 * the difference over N runs waiting (keystore-maint's for approval) is divided by N.
 *
 *   node --expose-gc --import tsx bench/heap-per-run.ts [maintenance|traced|bare|zod] [N]
 *
 * `traced` is the maintenance bundle with OpenTelemetry's workflow interceptors, as a worker with
 * tracing on loads it (its spans dropped by the sink); `bare` waits on a condition; `zod` is the
 * bare one importing zod (bench/heap-probe/). Prints one JSON line. Used for docs/fleet.md,
 * "Memory", and docs/monitoring.md, "Traces".
 */
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { NO_METRICS } from '../src/metrics/recorder';
import { runMetricsSinks } from '../src/metrics/workflow-sinks';
import { startDevServer } from '../src/temporal/dev-server';
import { TRACING_WORKFLOW_MODULES, tracingSinks } from '../src/tracing';
import { projectRoot } from '../src/util/project-root';

const BUNDLES: Readonly<Record<string, string>> = {
  maintenance: join('workflows', 'index.ts'),
  traced: join('workflows', 'index.ts'),
  bare: join('bench', 'heap-probe', 'bare.ts'),
  zod: join('bench', 'heap-probe', 'zod.ts'),
};

function liveHeapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'maintenance';
  const runs = Number(process.argv[3] ?? 200);
  const bundle = BUNDLES[kind];
  if (!bundle) throw new Error(`unknown bundle ${kind}: use ${Object.keys(BUNDLES).join(', ')}`);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer({ uiPort: false });
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(projectRoot(), bundle),
    ...(kind === 'traced' ? { workflowInterceptorModules: [...TRACING_WORKFLOW_MODULES] } : {}),
    logger: new DefaultLogger('ERROR'),
  });
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    namespace: server.namespace,
    taskQueue: 'heap-probe',
    workflowBundle: { code },
    debugMode: true,
    // The maintenance workflow reports to this sink; registered (recording nothing) so it is not unknown.
    sinks: { ...runMetricsSinks(NO_METRICS), ...tracingSinks(undefined) },
    // The runs wait for approval before any KMS call; only these two can be scheduled before.
    activities: {
      defaultRegion: () => Promise.resolve('us-east-1'),
      audit: (events: unknown[]) => Promise.resolve({ written: events.length, refused: [] }),
    },
  });
  const running = worker.run();
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection, namespace: server.namespace });
  try {
    await sleep(3_000);
    const before = liveHeapMiB();
    for (let i = 0; i < runs; i++) {
      await client.workflow.start('keyStoreMaintenance', {
        taskQueue: 'heap-probe',
        workflowId: `heap-probe-${i}`,
        args: [
          {
            customKeyStoreId: `cks-${String(i).padStart(17, '0')}`,
            region: 'us-east-1',
            window: { duration: '1h' },
            approval: { required: true, timeout: '1h' },
            requestedBy: 'heap-probe',
            reason: 'memory per cached run',
          },
        ],
      });
    }
    await sleep(8_000);
    const after = liveHeapMiB();
    console.log(JSON.stringify({ bundle: kind, runs, liveHeapPerRunMiB: (after - before) / runs }));
  } finally {
    worker.shutdown();
    await running;
    await clientConnection.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
