/**
 * `npm run bench`: fleet maintenance and performance benchmarks (not a test). Writes
 * bench/results/latest.md (tables, each target with its value and whether it is met),
 * bench/results/latest.json (the raw numbers) and bench/results/calls-per-second.svg.
 *
 * Everything runs on this machine: a Temporal dev server of its own, the KMS simulator (in this
 * process) and, per scenario, a fresh worker process (bench/worker.ts) whose peak RSS is read
 * from /proc. Timings are scaled down (connects of 300 ms, windows of 1 s), and KMS's quota and
 * the budget are scaled up together (50 and 40 per second instead of 5 and 4), so that hundreds
 * of stores fit in minutes; the ratios the targets are about do not depend on the scale.
 *
 * Scenarios:
 *   (a) fleets of 10, 100 and 500 stores at concurrency 50, and 500 stores at concurrency 500
 *       (all in flight at once, for the worker's memory);
 *   (b) history events of single runs with windows of 5 s and 60 s and connects of 1 s and 20 s;
 *   (c) each fleet of (a) beside a bare Temporal fleet (bench/bare-workflow.ts) making the same
 *       KMS calls and as many activity calls, on the same server and worker setup;
 *   (d) what one cached run costs the worker's memory: 200 runs waiting (for approval), of
 *       keystore-maint and of a bare workflow, beside an idle worker.
 *
 * Environment: BENCH_SIZES (default "10,100,500"), BENCH_INFLIGHT (default 500; 0 skips it),
 * BENCH_HISTORY (default 1; 0 skips (b)), BENCH_MEMORY (default 1; 0 skips (d)), BENCH_OUT
 * (default bench/results); BENCH_NODE_FLAGS and BENCH_MAX_CACHED_WORKFLOWS tune the worker.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createMaintenanceClient } from '../src/client';
import { parseDuration } from '../src/domain/duration';
import { FleetClient } from '../src/fleet-client';
import type { GateStats } from '../src/kms/rate-limit';
import { LOCAL_REGION } from '../src/local-stack';
import { SimulatorControl, startKmsSimulator } from '../src/sim';
import { startDevServer } from '../src/temporal/dev-server';
import { projectRoot } from '../src/util/project-root';
import type { benchBareFleet } from './bare-workflow';
import {
  callStats,
  mapLimit,
  maxOverlap,
  peakRssMiB,
  rssMiB,
  runHistory,
  summary,
  type CallStats,
  type RunHistory,
} from './measure';
import { writeReport } from './report';

export const SETTINGS = {
  region: LOCAL_REGION,
  quotaRps: 50,
  budgetRps: 40,
  connectDelayMs: 300,
  disconnectDelayMs: 200,
  consistencyLagMs: 0,
  window: '1s',
  /** The window of the all-in-flight fleet (its children start over several seconds). */
  inflightWindow: '60s',
  pollInterval: '500ms',
  concurrency: 50,
} as const;

export interface FleetMeasure {
  readonly label: string;
  readonly kind: 'keystore-maint' | 'bare';
  readonly stores: number;
  readonly concurrency: number;
  readonly wallMs: number;
  readonly calls: CallStats;
  readonly callsPerStore: number;
  /** Total calls ÷ budget: no schedule within the budget can be faster. */
  readonly quotaBoundMs: number;
  readonly runsNotCompleted: number;
  readonly runsFailedByThrottling: number;
  readonly throttledSurfaced: number;
  readonly peakRssMiB: number | undefined;
  readonly maxInFlight: number;
  readonly events: { min: number; max: number; mean: number };
  readonly activities: { min: number; max: number; mean: number };
  readonly continuedAsNew: number;
  readonly gate: GateStats | undefined;
}

export interface HistoryMeasure {
  readonly window: string;
  readonly connectDelayMs: number;
  readonly events: number;
  readonly polls: number;
  readonly wallMs: number;
  readonly outcome: string;
}

/** What one cached (waiting) run costs the worker's memory. */
export interface MemoryMeasure {
  readonly kind: 'keystore-maint' | 'bare';
  readonly baselineMiB: number;
  readonly runs: number;
  readonly withRunsMiB: number;
  readonly perRunMiB: number;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: {
    cpus: number;
    memoryGiB: number;
    node: string;
    /** 1-minute load average at the start and the end: other work on the machine skews timings. */
    loadAverage: { start: number; end: number };
  };
  readonly settings: typeof SETTINGS;
  readonly fleets: FleetMeasure[];
  readonly history: HistoryMeasure[];
  readonly memory: MemoryMeasure[];
}

const root = projectRoot();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

interface BenchWorker {
  readonly pid: number;
  stats(): Promise<GateStats | undefined>;
  /** The peak RSS seen by sampling and VmHWM, in MiB. */
  peakRss(): number | undefined;
  stop(): Promise<void>;
}

/** Compiles bench/worker.ts and what it imports to plain JavaScript, as a production worker runs. */
function compileWorker(): string {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(root, 'bench', 'tsconfig.worker.json'),
    ],
    {
      stdio: 'inherit',
    },
  );
  return join(root, 'dist', 'bench', 'bench', 'worker.js');
}

async function startWorker(script: string, env: NodeJS.ProcessEnv): Promise<BenchWorker> {
  const child: ChildProcess = fork(script, [], {
    execArgv: (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the bench worker exited during start-up (${code})`)));
  });
  const pid = child.pid ?? 0;
  let sampled = 0;
  const sampler = setInterval(() => (sampled = Math.max(sampled, rssMiB(pid) ?? 0)), 250);
  return {
    pid,
    stats: () =>
      new Promise((resolve) => {
        child.once('message', (m: { gate?: GateStats }) => resolve(m.gate));
        child.send('stats');
      }),
    peakRss: () => {
      const hwm = peakRssMiB(pid);
      return hwm === undefined && sampled === 0 ? undefined : Math.max(hwm ?? 0, sampled);
    },
    stop: async () => {
      clearInterval(sampler);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const sizes = (process.env.BENCH_SIZES ?? '10,100,500')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
  const inflight = Number(process.env.BENCH_INFLIGHT ?? '500');
  const out = process.env.BENCH_OUT ?? join(root, 'bench', 'results');
  const work = mkdtempSync(join(tmpdir(), 'keystore-maint-bench-'));

  say(
    'compiling the worker; starting a Temporal dev server, bundling the workflows, starting the KMS simulator',
  );
  const workerScript = compileWorker();
  const [server, maintenanceBundle, bareBundle] = await Promise.all([
    startDevServer({ uiPort: false }),
    bundleWorkflowCode({ workflowsPath: join(root, 'workflows', 'index.ts'), logger: quiet }),
    bundleWorkflowCode({ workflowsPath: join(root, 'bench', 'bare-workflow.ts'), logger: quiet }),
  ]);
  const bundles = { maintenance: join(work, 'maintenance.js'), bare: join(work, 'bare.js') };
  writeFileSync(bundles.maintenance, maintenanceBundle.code);
  writeFileSync(bundles.bare, bareBundle.code);
  const sim = await startKmsSimulator({
    port: 0,
    region: SETTINGS.region,
    quotaRps: SETTINGS.quotaRps,
    connectDelayMs: SETTINGS.connectDelayMs,
    disconnectDelayMs: SETTINGS.disconnectDelayMs,
    consistencyLagMs: SETTINGS.consistencyLagMs,
  });
  const control = new SimulatorControl(sim.url);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  let scenario = 0;

  const workerFor = (kind: 'maintenance' | 'bare', taskQueue: string) =>
    startWorker(workerScript, {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_BUNDLE: bundles[kind],
      BENCH_KMS_ENDPOINT: sim.url,
      BENCH_BUDGET_RPS: String(SETTINGS.budgetRps),
      BENCH_AUDIT_FILE: join(work, `audit-${taskQueue}.jsonl`),
    });

  const createStores = async (n: number, extra: Record<string, unknown> = {}) =>
    mapLimit(Array.from({ length: n }), 20, async () => {
      const store = await control.createStore({
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        ConnectionState: 'CONNECTED',
        ...extra,
      });
      return store.CustomKeyStoreId;
    });

  const measureFleet = async (
    kind: 'keystore-maint' | 'bare',
    stores: number,
    concurrency: number,
    activitiesPerRun: number,
    window: string = SETTINGS.window,
  ): Promise<FleetMeasure> => {
    const label = `${kind} ${stores} stores @ ${concurrency}${window === SETTINGS.window ? '' : `, ${window} windows`}`;
    const taskQueue = `bench-${++scenario}-${kind}-${stores}-${concurrency}`;
    say(`${label}: creating stores, starting a worker`);
    const ids = await createStores(stores);
    const worker = await workerFor(kind === 'bare' ? 'bare' : 'maintenance', taskQueue);
    try {
      await control.clearCalls();
      say(`${label}: running`);
      const t0 = Date.now();
      let children: { workflowId: string; runId?: string }[];
      let runsNotCompleted = 0;
      let runsFailedByThrottling = 0;
      let continuedAsNew = 0;
      if (kind === 'keystore-maint') {
        const fleets = new FleetClient(client, taskQueue, SETTINGS.region);
        const { workflowId } = await fleets.start(
          {
            stores: ids,
            maxConcurrency: concurrency,
            // All of them in flight at once when concurrency allows: no drain for continue-as-new.
            ...(concurrency >= stores ? { continueAsNewAfterStores: Math.min(1_000, stores) } : {}),
            request: {
              window: { duration: window },
              pollInterval: SETTINGS.pollInterval,
              timeouts: { disconnect: '10m', connect: '10m' },
            },
            requestedBy: 'bench',
            reason: 'benchmark',
          },
          { name: taskQueue },
        );
        const result = await fleets.result(workflowId);
        children = result.stores.map((s) => ({
          workflowId: s.workflowId,
          ...(s.runId ? { runId: s.runId } : {}),
        }));
        runsNotCompleted = result.stores.filter((s) => s.state !== 'COMPLETED').length;
        runsFailedByThrottling = result.stores.filter(
          (s) => s.state !== 'COMPLETED' && /throttl/i.test(s.message ?? ''),
        ).length;
        continuedAsNew = result.continuedAsNew;
      } else {
        const handle = await client.workflow.start<typeof benchBareFleet>('benchBareFleet', {
          taskQueue,
          workflowId: `bench-bare-fleet/${taskQueue}`,
          args: [
            {
              stores: ids,
              region: SETTINGS.region,
              maxConcurrency: concurrency,
              windowMs: parseDuration(window) ?? 1_000,
              pollIntervalMs: parseDuration(SETTINGS.pollInterval) ?? 500,
              activities: activitiesPerRun,
            },
          ],
        });
        const done = await handle.result();
        runsNotCompleted = stores - done;
        children = ids.map((id) => ({ workflowId: `bench-bare/${SETTINGS.region}/${id}` }));
      }
      const wallMs = Date.now() - t0;
      const gate = await worker.stats();
      const peakRss = worker.peakRss();
      say(
        `${label}: done in ${(wallMs / 1000).toFixed(1)} s; reading ${children.length} histories and the call log`,
      );
      const calls = callStats(await control.calls(), t0);
      const histories: RunHistory[] = await mapLimit(children, 16, (c) =>
        runHistory(client, c.workflowId, c.runId),
      );
      return {
        label,
        kind,
        stores,
        concurrency,
        wallMs,
        calls,
        callsPerStore: calls.total / stores,
        quotaBoundMs: (calls.total / SETTINGS.budgetRps) * 1000,
        runsNotCompleted,
        runsFailedByThrottling,
        throttledSurfaced: histories.reduce((sum, h) => sum + h.throttledAttempts + h.throttledPolls, 0),
        peakRssMiB: peakRss,
        maxInFlight: maxOverlap(histories),
        events: summary(histories.map((h) => h.events)),
        activities: summary(histories.map((h) => h.activities)),
        continuedAsNew,
        gate,
      };
    } finally {
      await worker.stop();
    }
  };

  const fleets: FleetMeasure[] = [];
  for (const stores of sizes) {
    const maint = await measureFleet('keystore-maint', stores, SETTINGS.concurrency, 0);
    fleets.push(maint);
    fleets.push(await measureFleet('bare', stores, SETTINGS.concurrency, Math.round(maint.activities.mean)));
  }
  // All at once: windows long enough that every run is still open when the last one starts.
  if (inflight > 0)
    fleets.push(await measureFleet('keystore-maint', inflight, inflight, 0, SETTINGS.inflightWindow));

  const history: HistoryMeasure[] = [];
  if (process.env.BENCH_HISTORY !== '0') {
    const taskQueue = `bench-${++scenario}-history`;
    say('history size: windows of 5 s and 60 s, connects of 1 s and 20 s (about 90 s)');
    const worker = await workerFor('maintenance', taskQueue);
    try {
      const maintenance = await createMaintenanceClient({ client, taskQueue, region: SETTINGS.region });
      const cases = [
        { window: '5s', connectDelayMs: 1_000 },
        { window: '60s', connectDelayMs: 1_000 },
        { window: '5s', connectDelayMs: 20_000 },
        { window: '60s', connectDelayMs: 20_000 },
      ];
      history.push(
        ...(await Promise.all(
          cases.map(async (c) => {
            const [id = ''] = await createStores(1, { connectDelayMs: c.connectDelayMs });
            const t0 = Date.now();
            const started = await maintenance.start({
              customKeyStoreId: id,
              window: { duration: c.window },
              pollInterval: '1s',
              timeouts: { connect: '5m', disconnect: '5m' },
              requestedBy: 'bench',
              reason: 'history size benchmark',
            });
            const result = await maintenance.result(id);
            const run = await runHistory(client, started.workflowId, started.runId);
            const polls = result.events
              .filter((e) => e.action === 'wait.completed')
              .reduce((sum, e) => sum + Number(e.detail.polls ?? 0), 0);
            return { ...c, events: run.events, polls, wallMs: Date.now() - t0, outcome: result.outcome };
          }),
        )),
      );
    } finally {
      await worker.stop();
    }
  }

  const memory: MemoryMeasure[] = [];
  if (process.env.BENCH_MEMORY !== '0') {
    const runs = 200;
    for (const kind of ['keystore-maint', 'bare'] as const) {
      const taskQueue = `bench-${++scenario}-memory-${kind}`;
      say(`memory: ${runs} waiting runs of ${kind}`);
      const worker = await workerFor(kind === 'bare' ? 'bare' : 'maintenance', taskQueue);
      try {
        await sleep(3_000);
        const baselineMiB = rssMiB(worker.pid) ?? 0;
        if (kind === 'keystore-maint') {
          const maintenance = await createMaintenanceClient({ client, taskQueue, region: SETTINGS.region });
          await mapLimit(await createStores(runs), 20, (id) =>
            maintenance.start({
              customKeyStoreId: id,
              window: { duration: SETTINGS.window },
              approval: { required: true, timeout: '1h' },
              requestedBy: 'bench',
              reason: 'memory probe',
            }),
          );
        } else {
          await mapLimit(
            Array.from({ length: runs }, (_, i) => i),
            20,
            (i) =>
              client.workflow.start('benchBareWait', {
                taskQueue,
                workflowId: `bench-wait/${taskQueue}/${i}`,
              }),
          );
        }
        const query = `TaskQueue = '${taskQueue}' AND MaintenancePhase = 'AWAITING_APPROVAL'`;
        while ((await client.workflow.count(query)).count < runs) await sleep(500);
        await sleep(3_000);
        const withRunsMiB = rssMiB(worker.pid) ?? 0;
        memory.push({ kind, baselineMiB, runs, withRunsMiB, perRunMiB: (withRunsMiB - baselineMiB) / runs });
      } finally {
        await worker.stop();
      }
    }
  }

  const results: BenchResults = {
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    machine: {
      cpus: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
    },
    settings: SETTINGS,
    fleets,
    history,
    memory,
  };
  mkdirSync(out, { recursive: true });
  await writeReport(results, out);
  say(`wrote ${join(out, 'latest.md')}, latest.json and calls-per-second.svg`);

  await connection.close();
  await sim.stop();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
