/**
 * `npm run bench`: fleet maintenance and performance benchmarks (not a test). Writes
 * bench/results/latest.md (tables, each target with its value and whether it is met),
 * bench/results/latest.json (the raw numbers) and bench/results/calls-per-second.svg.
 *
 * Everything runs on this machine: a Temporal dev server of its own, the KMS simulator (in this
 * process) serving many accounts and Regions with STS, and, per scenario, a fresh worker process
 * (bench/worker.ts) whose peak RSS is read from /proc. KMS's real quotas and the real default
 * budget are kept (5 and 4 requests per second per account, Region and operation), and so is
 * KMS's limit of 10 stores per account-Region; only time is scaled down (connects of 300 ms,
 * disconnects of 200 ms, windows and confirmation settles of 1 s, polls every 500 ms), so that an
 * organisation's fleet fits in minutes.
 *
 * Scenarios, on one server:
 *   (a) a fleet of 500 stores over 50 account-Regions (10 accounts × 5 Regions, 10 stores each,
 *       reached through an execution role in each account), one `locations` fleet with
 *       maxConcurrency 500, run three ways, each with a fresh worker:
 *       - keystore-maint as it is (budget per account, Region and operation; shared polling);
 *       - the single-budget design before it, emulated (bench/worker.ts `RegionBudgetGate`: one
 *         window per Region for every account and operation; the `-kms` queue dispatched at half
 *         the budget by the server; no shared polling). It is run last, and stopped after
 *         BENCH_SINGLE_BUDGET_CAP_S if not done, its wall time then extrapolated from its progress;
 *       - a bare Temporal fleet (bench/bare-workflow.ts) making the same KMS calls through the same
 *         roles: the lower bound of Temporal's own overhead;
 *   (s) a polling sweep: 1, 5 and 10 stores per account-Region over 10 account-Regions, with
 *       transitions long enough (2 s and 4 s) for waits to overlap: Describe calls per store-minute
 *       of waiting;
 *   (h) history events of single runs with windows of 5 s and 60 s and connects of 1 s and 20 s;
 *   (d) what one cached run costs the worker's memory: 200 runs (20 accounts, through their
 *       roles) waiting for approval, of keystore-maint and of a bare workflow, beside an idle
 *       worker.
 *
 * Environment: BENCH_ACCOUNTS (default 10), BENCH_SINGLE_BUDGET_CAP_S (default 180; 0 skips the
 * single-budget fleet), BENCH_BARE (default 1; 0 skips the bare fleet), BENCH_SWEEP (default
 * "1,5,10"; empty skips it), BENCH_HISTORY (default 1; 0 skips (h)), BENCH_MEMORY (default 1; 0
 * skips (d)), BENCH_OUT (default bench/results); BENCH_NODE_FLAGS and BENCH_MAX_CACHED_WORKFLOWS
 * tune the worker.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { SharedPollerStats } from '../activities/shared-poller';
import { createMaintenanceClient } from '../src/client';
import { parseDuration } from '../src/domain/duration';
import type { FleetRequest, FleetStatus } from '../src/domain/fleet';
import { FleetClient } from '../src/fleet-client';
import type { GateStats } from '../src/kms/rate-limit';
import { LOCAL_REGION } from '../src/local-stack';
import { SimulatorControl, startKmsSimulator } from '../src/sim';
import { startDevServer } from '../src/temporal/dev-server';
import { projectRoot } from '../src/util/project-root';
import { bareRunWorkflowId, type BareStore, type benchBareFleet } from './bare-workflow';
import {
  callStats,
  mapLimit,
  maxOverlap,
  peakRssMiB,
  quotaBound,
  rssMiB,
  runHistory,
  summary,
  waitPolling,
  type CallStats,
  type QuotaBound,
  type RunHistory,
  type WaitPolling,
} from './measure';
import { writeReport } from './report';

/** The simulator's default account: the worker's own credentials are in it, and the roles trust it. */
const WORKER_ACCOUNT = '111122223333';

export const SETTINGS = {
  defaultRegion: LOCAL_REGION,
  regions: ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-2'],
  /** Accounts of the fleet (BENCH_ACCOUNTS), each with a store-limit's worth in every Region. */
  accounts: 10,
  storesPerTarget: 10,
  /** KMS's real quota per (account, Region, operation), and the real default budget. */
  quotaRps: 5,
  budgetRps: 4,
  connectDelayMs: 300,
  disconnectDelayMs: 200,
  consistencyLagMs: 0,
  window: '1s',
  confirmSettle: '1s',
  pollInterval: '500ms',
  maxConcurrency: 500,
  executionRole: 'KeystoreMaintExecution',
  externalId: 'keystore-maint-bench',
  singleBudget: {
    /** The server-enforced rate of the `-kms` queue in that design: half the budget. */
    queueRps: 2,
    /** Stop it after this long (BENCH_SINGLE_BUDGET_CAP_S) and extrapolate. */
    capS: 180,
  },
  sweep: {
    storesPerTarget: [1, 5, 10],
    targets: 10,
    connectDelayMs: 4_000,
    disconnectDelayMs: 2_000,
  },
  memory: { runs: 200, accounts: 20 },
} as const;

export type FleetKind = 'keystore-maint' | 'single-budget' | 'bare';

export interface FleetMeasure {
  readonly label: string;
  readonly kind: FleetKind;
  readonly stores: number;
  readonly targets: number;
  readonly concurrency: number;
  readonly concurrencyPerTarget: number;
  /** Wall time measured; for a fleet stopped at its cap, the cap. */
  readonly wallMs: number;
  /** False when the fleet was stopped at its cap before it finished. */
  readonly finished: boolean;
  /** For a fleet stopped at its cap: how far it got, and its wall time extrapolated. */
  readonly progress?: CappedProgress;
  readonly calls: CallStats;
  readonly callsPerStore: number;
  readonly quotaBound: QuotaBound;
  readonly runsCompleted: number;
  readonly runsNotCompleted: number;
  readonly runsFailedByThrottling: number;
  readonly throttledSurfaced: number;
  readonly peakRssMiB: number | undefined;
  readonly maxInFlight: number;
  readonly events: { min: number; max: number; mean: number };
  readonly activities: { min: number; max: number; mean: number };
  readonly kmsActivitiesPerRun: number;
  readonly continuedAsNew: number;
  readonly gate: GateStats | undefined;
  readonly poller: SharedPollerStats | undefined;
  readonly waiting: WaitPolling;
}

export interface CappedProgress {
  readonly runsCompleted: number;
  /** Short KMS activities (`-kms` queue) completed by the cap, and needed in all. */
  readonly kmsActivitiesDone: number;
  readonly kmsActivitiesNeeded: number;
  /** cap × needed ÷ done: the measured pace, kept to the end. */
  readonly extrapolatedWallMs: number;
  /** needed ÷ the queue's rate: what the server-enforced rate alone takes. */
  readonly queueBoundMs: number;
}

export interface SweepMeasure {
  readonly storesPerTarget: number;
  readonly targets: number;
  readonly stores: number;
  readonly wallMs: number;
  readonly runsNotCompleted: number;
  readonly throttled: number;
  readonly peakPerKey: number;
  readonly waiting: WaitPolling;
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
  readonly accounts: number;
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
  readonly settings: typeof SETTINGS & { readonly accountsUsed: number; readonly capS: number };
  readonly fleets: FleetMeasure[];
  readonly sweep: SweepMeasure[];
  readonly history: HistoryMeasure[];
  readonly memory: MemoryMeasure[];
}

const root = projectRoot();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const say = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const ms = (duration: string) => parseDuration(duration) ?? 0;

interface WorkerStats {
  readonly gate?: GateStats;
  readonly poller?: SharedPollerStats;
}

interface BenchWorker {
  readonly pid: number;
  stats(): Promise<WorkerStats>;
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
    { stdio: 'inherit' },
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
        child.once('message', (m: WorkerStats) => resolve(m));
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

/** 12-digit account ids of a series: the prefix, then 1, 2, … padded with zeros. */
function accountIds(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(12 - prefix.length, '0')}`);
}

interface PlacedStore {
  readonly customKeyStoreId: string;
  readonly account: string;
  readonly region: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const accounts = accountIds('4444', Number(process.env.BENCH_ACCOUNTS ?? SETTINGS.accounts));
  const memoryAccounts = accountIds('5555', SETTINGS.memory.accounts);
  const capS = Number(process.env.BENCH_SINGLE_BUDGET_CAP_S ?? SETTINGS.singleBudget.capS);
  const sweepSizes = (process.env.BENCH_SWEEP ?? SETTINGS.sweep.storesPerTarget.join(','))
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0 && n <= SETTINGS.storesPerTarget);
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
    account: WORKER_ACCOUNT,
    region: SETTINGS.defaultRegion,
    regions: [...SETTINGS.regions],
    quotaRps: SETTINGS.quotaRps,
    // KMS's own limit: 10 stores per account-Region, which is why the fleet spans accounts.
    storeLimit: SETTINGS.storesPerTarget,
    connectDelayMs: SETTINGS.connectDelayMs,
    disconnectDelayMs: SETTINGS.disconnectDelayMs,
    consistencyLagMs: SETTINGS.consistencyLagMs,
  });
  const control = new SimulatorControl(sim.url);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  let scenario = 0;

  const workerFor = (
    kind: 'maintenance' | 'bare',
    taskQueue: string,
    design: { gate: 'key' | 'region'; queueRps?: number; sharedPolling: boolean } = {
      gate: 'key',
      sharedPolling: true,
    },
  ) =>
    startWorker(workerScript, {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_BUNDLE: bundles[kind],
      BENCH_KMS_ENDPOINT: sim.url,
      BENCH_BUDGET_RPS: String(SETTINGS.budgetRps),
      BENCH_AUDIT_FILE: join(work, `audit-${taskQueue}.jsonl`),
      BENCH_GATE: design.gate,
      BENCH_QUEUE_RPS: String(design.queueRps ?? 0),
      BENCH_SHARED_POLLING: design.sharedPolling ? '1' : '0',
    });

  say(
    `seeding: roles in ${accounts.length + memoryAccounts.length} accounts, ${accounts.length * SETTINGS.regions.length * SETTINGS.storesPerTarget + memoryAccounts.length * SETTINGS.storesPerTarget} stores`,
  );
  for (const account of [...accounts, ...memoryAccounts]) {
    await control.createRole({
      Account: account,
      RoleName: SETTINGS.executionRole,
      TrustedAccounts: [WORKER_ACCOUNT],
      ExternalId: SETTINGS.externalId,
    });
  }
  const place = async (accts: readonly string[], regions: readonly string[]): Promise<PlacedStore[]> => {
    const slots = accts.flatMap((account) =>
      regions.flatMap((region) =>
        Array.from({ length: SETTINGS.storesPerTarget }, (_, i) => ({ account, region, i })),
      ),
    );
    return mapLimit(slots, 20, async ({ account, region, i }) => {
      const store = await control.createStore({
        Account: account,
        Region: region,
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        CustomKeyStoreName: `bench-${region}-${i}`,
        ConnectionState: 'CONNECTED',
      });
      return { customKeyStoreId: store.CustomKeyStoreId, account, region };
    });
  };
  const fleetStores = await place(accounts, SETTINGS.regions);
  const memoryStores = await place(memoryAccounts, [SETTINGS.defaultRegion]);
  const storesPerTarget = new Map<string, number>();
  for (const s of fleetStores) {
    const key = `${s.account}/${s.region}`;
    storesPerTarget.set(key, (storesPerTarget.get(key) ?? 0) + 1);
  }
  const location = {
    executionRole: SETTINGS.executionRole,
    externalId: SETTINGS.externalId,
  };
  const template = {
    window: { duration: SETTINGS.window },
    pollInterval: SETTINGS.pollInterval,
    confirmSettle: SETTINGS.confirmSettle,
    timeouts: { disconnect: '30m', connect: '30m' },
  };
  const serialMsPerStore =
    SETTINGS.disconnectDelayMs + ms(SETTINGS.window) + SETTINGS.connectDelayMs + ms(SETTINGS.confirmSettle);

  const histories = (runs: readonly { workflowId: string; runId?: string; customKeyStoreId: string }[]) =>
    mapLimit(runs, 16, (run) => runHistory(client, run).catch(() => undefined)).then((list) =>
      list.filter((h): h is RunHistory => h !== undefined),
    );

  /**
   * Runs the fleet of all `fleetStores` one way, with a fresh worker, and measures it. A `capMs`
   * stops it after that long (the single-budget design at this scale takes far longer than the
   * benchmark may); `kmsActivitiesPerRun` then says how many short KMS activities a run needs.
   */
  const measureFleet = async (
    kind: FleetKind,
    options: { capMs?: number; activitiesPerRun?: number; kmsActivitiesPerRun?: number } = {},
  ): Promise<FleetMeasure> => {
    const stores = fleetStores.length;
    const targets = storesPerTarget.size;
    const label =
      kind === 'keystore-maint'
        ? 'keystore-maint now'
        : kind === 'single-budget'
          ? 'single-budget design (emulated)'
          : 'bare Temporal fleet';
    const taskQueue = `bench-${++scenario}-${kind}`;
    say(`${label}: ${stores} stores over ${targets} account-Regions; starting a worker`);
    const worker =
      kind === 'bare'
        ? await workerFor('bare', taskQueue)
        : kind === 'single-budget'
          ? await workerFor('maintenance', taskQueue, {
              gate: 'region',
              queueRps: SETTINGS.singleBudget.queueRps,
              sharedPolling: false,
            })
          : await workerFor('maintenance', taskQueue);
    try {
      await control.clearCalls();
      say(
        `${label}: running${options.capMs ? ` (stopped after ${options.capMs / 1000} s if not done)` : ''}`,
      );
      const t0 = Date.now();
      let runs: { workflowId: string; runId?: string; customKeyStoreId: string }[];
      let runsCompleted = 0;
      let runsNotCompleted = 0;
      let runsFailedByThrottling = 0;
      let continuedAsNew = 0;
      let finished = true;
      let status: FleetStatus | undefined;
      /** Settles when the fleet workflow has closed, however it closed. */
      let ended: Promise<boolean> = Promise.resolve(true);
      let fleetWorkflowId = `bench-bare-fleet/${taskQueue}`;
      if (kind === 'bare') {
        const bareStores: BareStore[] = fleetStores.map((s) => ({ ...s, ...location }));
        const handle = await client.workflow.start<typeof benchBareFleet>('benchBareFleet', {
          taskQueue,
          workflowId: fleetWorkflowId,
          args: [
            {
              stores: bareStores,
              maxConcurrency: SETTINGS.maxConcurrency,
              windowMs: ms(SETTINGS.window),
              confirmSettleMs: ms(SETTINGS.confirmSettle),
              pollIntervalMs: ms(SETTINGS.pollInterval),
              activities: options.activitiesPerRun ?? 0,
            },
          ],
        });
        runsCompleted = await handle.result();
        runsNotCompleted = stores - runsCompleted;
        runs = bareStores.map((s) => ({
          workflowId: bareRunWorkflowId(s),
          customKeyStoreId: s.customKeyStoreId,
        }));
      } else {
        const fleets = new FleetClient(client, taskQueue);
        const request: FleetRequest = {
          locations: [{ accounts, regions: [...SETTINGS.regions], ...location }],
          maxConcurrency: SETTINGS.maxConcurrency,
          // Every store in one workflow run: no drain for continue-as-new in the measurement.
          continueAsNewAfterStores: 1_000,
          request: template,
          requestedBy: 'bench',
          reason: 'benchmark',
        };
        const { workflowId } = await fleets.start(request, { name: taskQueue });
        fleetWorkflowId = workflowId;
        // Raced on the raw handle: `FleetClient.result` falls back to a status query when the
        // workflow fails, and a query to the fleet terminated at its cap (with no worker left to
        // answer it) would keep retrying after the benchmark has closed its connection.
        ended = client.workflow
          .getHandle(workflowId)
          .result()
          .then(
            () => true,
            () => true,
          );
        const done =
          options.capMs === undefined
            ? await ended
            : await Promise.race([ended, sleep(options.capMs).then(() => false)]);
        if (done) {
          status = await fleets.result(workflowId);
        } else {
          finished = false;
          status = await fleets.status(workflowId);
        }
        runs = status.stores
          .filter((s) => s.state !== 'PENDING' && s.state !== 'SKIPPED')
          .map((s) => ({
            workflowId: s.workflowId,
            customKeyStoreId: s.customKeyStoreId,
            ...(s.runId ? { runId: s.runId } : {}),
          }));
        runsCompleted = status.stores.filter((s) => s.state === 'COMPLETED').length;
        runsNotCompleted = finished ? stores - runsCompleted : 0;
        runsFailedByThrottling = status.stores.filter(
          (s) =>
            s.state !== 'COMPLETED' &&
            s.state !== 'PENDING' &&
            s.state !== 'RUNNING' &&
            /throttl/i.test(`${s.message ?? ''} ${s.errorType ?? ''}`),
        ).length;
        continuedAsNew = status.continuedAsNew;
      }
      const wallMs = Date.now() - t0;
      const stats = await worker.stats();
      const peakRss = worker.peakRss();
      const calls = await control.calls();
      if (!finished) {
        // Stop the worker before reading histories: nothing more happens, and the cap is the cap.
        await worker.stop();
        await client.workflow
          .getHandle(fleetWorkflowId)
          .terminate('benchmark: stopped at its time cap')
          .catch(() => undefined);
        await ended;
      }
      say(
        `${label}: ${finished ? 'done' : 'stopped'} after ${(wallMs / 1000).toFixed(1)} s; reading ${runs.length} histories`,
      );
      const runHistories = await histories(runs);
      const kmsDone = runHistories.reduce((n, h) => n + h.kmsActivities.completed, 0);
      const kmsPerRun = summary(
        runHistories
          .filter((h) => h.kmsActivities.completed === h.kmsActivities.scheduled)
          .map((h) => h.kmsActivities.completed),
      ).mean;
      let progress: CappedProgress | undefined;
      if (!finished) {
        const needed = Math.round(stores * (options.kmsActivitiesPerRun ?? kmsPerRun));
        progress = {
          runsCompleted,
          kmsActivitiesDone: kmsDone,
          kmsActivitiesNeeded: needed,
          extrapolatedWallMs: kmsDone > 0 ? (wallMs * needed) / kmsDone : Number.POSITIVE_INFINITY,
          queueBoundMs: (needed / SETTINGS.singleBudget.queueRps) * 1000,
        };
      }
      const callStatsNow = callStats(calls, t0, SETTINGS.budgetRps);
      const completedHistories = finished ? runHistories : runHistories.filter((h) => h.endMs > 0);
      return {
        label,
        kind,
        stores,
        targets,
        concurrency: SETTINGS.maxConcurrency,
        concurrencyPerTarget: Math.min(SETTINGS.maxConcurrency, SETTINGS.storesPerTarget),
        wallMs,
        finished,
        ...(progress ? { progress } : {}),
        calls: callStatsNow,
        callsPerStore: callStatsNow.total / stores,
        quotaBound: quotaBound(calls, {
          budgetRps: SETTINGS.budgetRps,
          storesPerTarget,
          concurrencyPerTarget: Math.min(SETTINGS.maxConcurrency, SETTINGS.storesPerTarget),
          serialMsPerStore,
        }),
        runsCompleted,
        runsNotCompleted,
        runsFailedByThrottling,
        throttledSurfaced: runHistories.reduce((sum, h) => sum + h.throttledAttempts + h.throttledPolls, 0),
        peakRssMiB: peakRss,
        maxInFlight: maxOverlap(completedHistories),
        events: summary(completedHistories.map((h) => h.events)),
        activities: summary(completedHistories.map((h) => h.activities)),
        kmsActivitiesPerRun: kmsPerRun,
        continuedAsNew,
        gate: stats.gate,
        poller: stats.poller,
        waiting: waitPolling(calls, runHistories),
      };
    } finally {
      await worker.stop();
    }
  };

  /** Polling at 1, 5 and 10 stores per account-Region, with the production worker. */
  const measureSweep = async (perTarget: number): Promise<SweepMeasure> => {
    const targetKeys = [...storesPerTarget.keys()].slice(0, SETTINGS.sweep.targets);
    const locations = targetKeys.map((key) => {
      const [account = '', region = ''] = key.split('/');
      const ids = fleetStores
        .filter((s) => s.account === account && s.region === region)
        .slice(0, perTarget)
        .map((s) => s.customKeyStoreId);
      return { accounts: [account], regions: [region], stores: ids, ...location };
    });
    const stores = locations.reduce((n, l) => n + l.stores.length, 0);
    const taskQueue = `bench-${++scenario}-sweep-${perTarget}`;
    say(`polling sweep: ${perTarget} store(s) per account-Region over ${locations.length} account-Regions`);
    const worker = await workerFor('maintenance', taskQueue);
    try {
      await control.clearCalls();
      const t0 = Date.now();
      const fleets = new FleetClient(client, taskQueue);
      const { workflowId } = await fleets.start(
        {
          locations,
          maxConcurrency: stores,
          request: template,
          requestedBy: 'bench',
          reason: 'polling benchmark',
        },
        { name: taskQueue },
      );
      const result = await fleets.result(workflowId);
      const wallMs = Date.now() - t0;
      const calls = await control.calls();
      const runHistories = await histories(
        result.stores.map((s) => ({
          workflowId: s.workflowId,
          customKeyStoreId: s.customKeyStoreId,
          ...(s.runId ? { runId: s.runId } : {}),
        })),
      );
      const stats = callStats(calls, t0, SETTINGS.budgetRps);
      return {
        storesPerTarget: perTarget,
        targets: locations.length,
        stores,
        wallMs,
        runsNotCompleted: result.stores.filter((s) => s.state !== 'COMPLETED').length,
        throttled: stats.throttled,
        peakPerKey: stats.peakPerKey.max,
        waiting: waitPolling(calls, runHistories),
      };
    } finally {
      await worker.stop();
    }
  };

  const measureHistory = async (): Promise<HistoryMeasure[]> => {
    const taskQueue = `bench-${++scenario}-history`;
    say('history size: windows of 5 s and 60 s, connects of 1 s and 20 s (about 90 s)');
    const worker = await workerFor('maintenance', taskQueue);
    try {
      // Single runs in the worker's own account (no role), as before accounts existed.
      const maintenance = await createMaintenanceClient({
        client,
        taskQueue,
        region: SETTINGS.defaultRegion,
      });
      const cases = [
        { window: '5s', connectDelayMs: 1_000 },
        { window: '60s', connectDelayMs: 1_000 },
        { window: '5s', connectDelayMs: 20_000 },
        { window: '60s', connectDelayMs: 20_000 },
      ];
      return await Promise.all(
        cases.map(async (c) => {
          const store = await control.createStore({
            CustomKeyStoreType: 'AWS_CLOUDHSM',
            ConnectionState: 'CONNECTED',
            connectDelayMs: c.connectDelayMs,
          });
          const id = store.CustomKeyStoreId;
          const t0 = Date.now();
          const startedRun = await maintenance.start({
            customKeyStoreId: id,
            window: { duration: c.window },
            pollInterval: '1s',
            confirmSettle: SETTINGS.confirmSettle,
            timeouts: { connect: '5m', disconnect: '5m' },
            requestedBy: 'bench',
            reason: 'history size benchmark',
          });
          const result = await maintenance.result(id);
          const run = await runHistory(client, { ...startedRun, customKeyStoreId: id });
          const polls = result.events
            .filter((e) => e.action === 'wait.completed')
            .reduce((sum, e) => sum + Number(e.detail.polls ?? 0), 0);
          return { ...c, events: run.events, polls, wallMs: Date.now() - t0, outcome: result.outcome };
        }),
      );
    } finally {
      await worker.stop();
    }
  };

  const measureMemory = async (): Promise<MemoryMeasure[]> => {
    const memory: MemoryMeasure[] = [];
    const runs = Math.min(SETTINGS.memory.runs, memoryStores.length);
    for (const kind of ['keystore-maint', 'bare'] as const) {
      const taskQueue = `bench-${++scenario}-memory-${kind}`;
      say(`memory: ${runs} waiting runs of ${kind}`);
      const worker = await workerFor(kind === 'bare' ? 'bare' : 'maintenance', taskQueue);
      try {
        await sleep(3_000);
        const baselineMiB = rssMiB(worker.pid) ?? 0;
        if (kind === 'keystore-maint') {
          const maintenance = await createMaintenanceClient({
            client,
            taskQueue,
            region: SETTINGS.defaultRegion,
          });
          await mapLimit(memoryStores.slice(0, runs), 20, (s) =>
            maintenance.start({
              customKeyStoreId: s.customKeyStoreId,
              region: s.region,
              account: s.account,
              ...location,
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
        const deadline = Date.now() + 120_000;
        while ((await client.workflow.count(query)).count < runs) {
          if (Date.now() > deadline)
            throw new Error(`memory: fewer than ${runs} runs reached AWAITING_APPROVAL in 2 minutes`);
          await sleep(500);
        }
        await sleep(3_000);
        const withRunsMiB = rssMiB(worker.pid) ?? 0;
        memory.push({
          kind,
          baselineMiB,
          runs,
          accounts: kind === 'bare' ? 0 : memoryAccounts.length,
          withRunsMiB,
          perRunMiB: (withRunsMiB - baselineMiB) / runs,
        });
      } finally {
        await worker.stop();
      }
    }
    return memory;
  };

  const fleets: FleetMeasure[] = [];
  const now = await measureFleet('keystore-maint');
  fleets.push(now);
  if (process.env.BENCH_BARE !== '0') {
    fleets.push(await measureFleet('bare', { activitiesPerRun: Math.round(now.activities.mean) }));
  }

  const sweep: SweepMeasure[] = [];
  if (sweepSizes.length) {
    // Transitions long enough that the waits of one account-Region overlap, as real ones (minutes) do.
    await control.patchConfig({
      connectDelayMs: SETTINGS.sweep.connectDelayMs,
      disconnectDelayMs: SETTINGS.sweep.disconnectDelayMs,
    });
    for (const n of sweepSizes) sweep.push(await measureSweep(n));
    await control.patchConfig({
      connectDelayMs: SETTINGS.connectDelayMs,
      disconnectDelayMs: SETTINGS.disconnectDelayMs,
    });
  }

  // History and memory use other stores and their own workers; memory is read per process, so
  // they may share the machine's time.
  const [history, memory] = await Promise.all([
    process.env.BENCH_HISTORY !== '0' ? measureHistory() : Promise.resolve([]),
    process.env.BENCH_MEMORY !== '0' ? measureMemory() : Promise.resolve([]),
  ]);

  // Last: at this scale it may be stopped at its cap, leaving stores mid-run.
  if (capS > 0) {
    fleets.push(
      await measureFleet('single-budget', {
        capMs: capS * 1000,
        kmsActivitiesPerRun: now.kmsActivitiesPerRun,
      }),
    );
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
    settings: { ...SETTINGS, accountsUsed: accounts.length, capS },
    fleets,
    sweep,
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
