/**
 * The worker's metrics end to end: a real worker on the real dev server runs a maintenance against
 * the simulator while a real Prometheus scrapes its `/metrics` every second and evaluates the
 * alerting rules of docs/monitoring/alerts.yml; the test reads what Prometheus stored through its
 * HTTP API. Then the rule: metrics that fail — a sink recorder that throws, a visibility
 * endpoint that never answers — change neither a run's outcome nor its timing, and say so in
 * `metrics_source_errors_total`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEnded } from '../../src/domain/run-metrics';
import type { RunPhase } from '../../src/domain/phases';
import { OpenRuns, temporalVisibility } from '../../src/metrics/open-runs';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server';
import { WorkerMetrics } from '../../src/metrics/worker-metrics';
import { projectRoot } from '../../src/util/project-root';
import {
  connectedStore,
  eventually,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import {
  promtoolBinary,
  queryPrometheus,
  startTestPrometheus,
  type TestPrometheus,
} from '../support/prometheus';

const MONITORING = join(projectRoot(), 'docs', 'monitoring');
const ALERTS = join(MONITORING, 'alerts.yml');

let env: MaintenanceEnv;
let metrics: WorkerMetrics;
let server: MetricsServer;
let prometheus: TestPrometheus;

beforeAll(async () => {
  metrics = new WorkerMetrics();
  env = await startMaintenanceEnv({}, { worker: { metrics } });
  metrics.watchOpenRuns(
    new OpenRuns({
      visibility: temporalVisibility(env.temporal.client),
      taskQueue: env.taskQueue,
      cacheMs: 500,
      onError: (source) => metrics.sourceError(source),
    }),
  );
  server = await startMetricsServer({ metrics, host: '127.0.0.1', port: 0 });
  prometheus = await startTestPrometheus({
    scrapeTargets: [{ job: 'keystore-maint', targets: [`127.0.0.1:${server.port}`] }],
    ruleFiles: [ALERTS],
  });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await server?.close();
  await env?.close();
});

/** One number from Prometheus: the single sample of `expr`, or undefined when there is none. */
async function promValue(expr: string): Promise<number | undefined> {
  const samples = await queryPrometheus(prometheus.url, expr);
  return samples[0]?.value;
}

describe('a real Prometheus scrapes a worker during a maintenance', () => {
  it('sees the store go offline during the window and come back, the run end, and the KMS calls', async () => {
    const tq = env.taskQueue;
    const offline = `max(keystore_maint_stores_disconnected{task_queue="${tq}"})`;
    await eventually(
      async () => (await promValue(offline)) === 0,
      'Prometheus to scrape the gauge at 0',
      30_000,
    );

    const id = await connectedStore(env.control);
    const handle = await env.start({ ...env.request(id), window: { duration: '8s' } });
    const during = await eventually(
      async () => {
        const value = await promValue(offline);
        return value !== undefined && value >= 1 ? value : undefined;
      },
      'Prometheus to see the store offline',
      30_000,
    );
    expect(during).toBe(1);
    expect(await promValue(`max(keystore_maint_stores_offline_past_window{task_queue="${tq}"})`)).toBe(0);

    // Another replica, or this worker restarted with empty memory, reports the same: the gauge
    // comes from Temporal, not from what a process saw.
    const replica = new WorkerMetrics();
    replica.watchOpenRuns(
      new OpenRuns({
        visibility: temporalVisibility(env.temporal.client),
        taskQueue: tq,
        onError: (source) => replica.sourceError(source),
      }),
    );
    expect(await replica.render()).toContain(`keystore_maint_stores_disconnected{task_queue="${tq}"} 1\n`);

    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    await eventually(
      async () => (await promValue(offline)) === 0,
      'Prometheus to see the store back',
      30_000,
    );

    const completed = await eventually(
      async () => {
        const value = await promValue('sum(keystore_maint_runs_ended_total{outcome="COMPLETED"})');
        return value !== undefined && value >= 1 ? value : undefined;
      },
      'runs_ended_total{outcome="COMPLETED"} to increase',
      30_000,
    );
    expect(completed).toBe(1);
    const ok = (operation: string) =>
      promValue(`sum(keystore_maint_kms_calls_total{operation="${operation}",outcome="ok"})`);
    expect(await ok('DisconnectCustomKeyStore')).toBeGreaterThanOrEqual(1);
    expect(await ok('ConnectCustomKeyStore')).toBeGreaterThanOrEqual(1);
    expect(await ok('DescribeCustomKeyStores')).toBeGreaterThanOrEqual(1);
    expect(await promValue('sum(keystore_maint_kms_budget_wait_seconds_count)')).toBeGreaterThanOrEqual(3);
    expect(
      await promValue('sum(keystore_maint_phase_duration_seconds_count{phase="IN_WINDOW"})'),
    ).toBeGreaterThanOrEqual(1);
    // The window alone was 8 s; the whole outage is longer, and the run's own timeline agrees.
    const offlineSum = await promValue('sum(keystore_maint_offline_seconds_sum)');
    const timeline = result.timeline;
    const disconnectedAt = Date.parse(timeline.find((s) => s.phase === 'DISCONNECTING')?.startedAt ?? '');
    const confirmedAt = Date.parse(timeline.filter((s) => s.phase === 'VERIFYING').at(-1)?.endedAt ?? '');
    expect(offlineSum).toBeCloseTo((confirmedAt - disconnectedAt) / 1000, 1);
    expect(offlineSum).toBeGreaterThan(8);
    expect(await promValue('sum(keystore_maint_metrics_source_errors_total)')).toBe(0);

    // The alerting rules of docs/monitoring/alerts.yml were loaded and evaluate on this data.
    const rules = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const group = rules.data.groups.find((g) => g.name === 'keystore-maint');
    expect(group?.rules.map((r) => [r.name, r.health, r.lastError ?? ''])).toEqual(
      group?.rules.map((r) => [r.name, 'ok', '']),
    );
    expect(group?.rules.length).toBe(6);
  }, 120_000);

  it("has a dashboard and alerts whose every query Prometheus parses and names only the worker's series", async () => {
    const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const alertsText = readFileSync(ALERTS, 'utf8');
    const known = await knownSeries();
    const used = new Set([...exprs.join('\n').matchAll(/keystore_maint_[a-z0-9_]+/g)].map((m) => m[0]));
    for (const m of alertsText.matchAll(/keystore_maint_[a-z0-9_]+/g)) used.add(m[0]);
    expect([...used].filter((name) => !known.has(name))).toEqual([]);
    for (const expr of exprs) {
      // Prometheus parses it (and answers), or says why not.
      await expect(queryPrometheus(prometheus.url, expr)).resolves.toBeInstanceOf(Array);
    }
  });

  it('has alerting rules that promtool accepts and whose unit tests pass', () => {
    const promtool = promtoolBinary();
    const check = execFileSync(promtool, ['check', 'rules', ALERTS], { encoding: 'utf8' });
    expect(check).toMatch(/SUCCESS: 6 rules found/);
    const tested = execFileSync(promtool, ['test', 'rules', join(MONITORING, 'alerts.test.yml')], {
      encoding: 'utf8',
    });
    expect(tested).toMatch(/SUCCESS/);
  });
});

/** Every series name a worker with process metrics exports (histograms with their suffixes). */
async function knownSeries(): Promise<Set<string>> {
  const all = new WorkerMetrics({ processMetrics: true });
  all.watchOpenRuns({ taskQueue: 'tq', read: () => Promise.resolve(undefined) });
  const names = new Set<string>();
  for (const metric of await all.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
    }
  }
  return names;
}

/** Metrics whose every record of a run's facts throws, and of every wait for the KMS budget. */
class BrokenSinkMetrics extends WorkerMetrics {
  override kmsBudgetWait(_operation: string, _seconds: number): void {
    throw new Error('the budget histogram is broken');
  }
  override phaseEnded(_phase: RunPhase, _seconds: number): void {
    throw new Error('the phase histogram is broken');
  }
  override runEnded(_ended: RunEnded): void {
    throw new Error('the run counter is broken');
  }
}

/** Accepts TCP connections and never answers: a visibility endpoint that hangs. */
async function blackHole(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const hole: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', () => resolve()));
  const address = hole.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        hole.close(() => resolve());
      }),
  };
}

describe('metrics that fail do not touch the run', () => {
  it('recorders that throw and a visibility that never answers leave outcome and timing as they were', async () => {
    const hole = await blackHole();
    const broken = new BrokenSinkMetrics();
    const deadConnection = Connection.lazy({ address: hole.address, connectTimeout: 1_000 });
    broken.watchOpenRuns(
      new OpenRuns({
        visibility: temporalVisibility(new Client({ connection: deadConnection })),
        taskQueue: 'keystore-maint-broken',
        cacheMs: 0,
        timeoutMs: 1_000,
        onError: (source) => broken.sourceError(source),
      }),
    );
    const brokenEnv = await startMaintenanceEnv({}, { worker: { metrics: broken } });
    // Scrapes go on all through the run, as Prometheus's would.
    let scraping = true;
    let slowestScrapeMs = 0;
    const scrapes = (async () => {
      while (scraping) {
        const started = performance.now();
        await broken.render();
        slowestScrapeMs = Math.max(slowestScrapeMs, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      // The same maintenance, at the same time, on a worker with working metrics and on one with
      // broken ones.
      const [healthyId, brokenId] = await Promise.all([
        connectedStore(env.control),
        connectedStore(brokenEnv.control),
      ]);
      const timed = async (e: MaintenanceEnv, id: string) => {
        const started = Date.now();
        const result = await outcomeOf(await e.start({ ...e.request(id), window: { duration: '3s' } }));
        return { result, ms: Date.now() - started };
      };
      const [healthy, failing] = await Promise.all([timed(env, healthyId), timed(brokenEnv, brokenId)]);
      expect(failing.result.outcome).toBe('COMPLETED');
      expect(failing.result.timeline.map((s) => s.phase)).toEqual(
        healthy.result.timeline.map((s) => s.phase),
      );
      expect((await brokenEnv.control.getStore(brokenId)).ConnectionState).toBe('CONNECTED');
      expect(Math.abs(failing.ms - healthy.ms)).toBeLessThan(2_500);
      expect(slowestScrapeMs).toBeLessThan(2_500);
    } finally {
      scraping = false;
      await scrapes;
      await brokenEnv.close();
      await deadConnection.close().catch(() => undefined);
      await hole.close();
    }
    const text = await broken.render();
    const count = (source: string) =>
      Number(
        new RegExp(`^keystore_maint_metrics_source_errors_total\\{source="${source}"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    // Every phase change and the end were tried and counted as failures; none reached the run.
    expect(count('sink')).toBeGreaterThanOrEqual(10);
    expect(count('activity')).toBeGreaterThanOrEqual(3);
    expect(count('visibility')).toBeGreaterThanOrEqual(2);
    expect(text).not.toMatch(/^keystore_maint_stores_disconnected\{/m);
    expect(text).toMatch(/^keystore_maint_runs_ended_total\{outcome="COMPLETED"\} 0$/m);
    // The KMS counters, recorded by activities, still work.
    expect(text).toMatch(
      /^keystore_maint_kms_calls_total\{operation="DisconnectCustomKeyStore",outcome="ok"\} 1$/m,
    );
  }, 120_000);
});
