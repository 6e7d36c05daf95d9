/**
 * The worker's metrics without Temporal: configuration, the offline time a run reports, the
 * never-throwing recorder, the visibility gauges' cache, timeout and failure handling, the KMS call
 * outcomes, and the HTTP endpoint.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { countedKmsCall } from '../../activities/kms-call';
import type { PhaseSpan } from '../../src/domain/status';
import { offlineSeconds } from '../../src/domain/run-metrics';
import {
  MetricsConfigError,
  metricsEndpointFromEnvironment,
  sdkMetricsAddressFromEnvironment,
} from '../../src/metrics/config';
import { OpenRuns, offlineRunsQuery, type RunsVisibility } from '../../src/metrics/open-runs';
import { neverThrowing, NO_METRICS, type MetricsSource } from '../../src/metrics/recorder';
import { MetricsServerError, startMetricsServer } from '../../src/metrics/server';
import { WorkerMetrics } from '../../src/metrics/worker-metrics';

/** The value of one series in exposition text, or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics configuration', () => {
  it('is off without KEYSTORE_MAINT_METRICS_PORT and binds 0.0.0.0 by default', () => {
    expect(metricsEndpointFromEnvironment({})).toBeUndefined();
    expect(metricsEndpointFromEnvironment({ KEYSTORE_MAINT_METRICS_PORT: ' ' })).toBeUndefined();
    expect(metricsEndpointFromEnvironment({ KEYSTORE_MAINT_METRICS_PORT: '9464' })).toEqual({
      host: '0.0.0.0',
      port: 9464,
    });
    expect(
      metricsEndpointFromEnvironment({
        KEYSTORE_MAINT_METRICS_PORT: '9464',
        KEYSTORE_MAINT_METRICS_HOST: '127.0.0.1',
      }),
    ).toEqual({ host: '127.0.0.1', port: 9464 });
  });

  it('refuses port 0 and non-ports with the fix in the message', () => {
    expect(() => metricsEndpointFromEnvironment({ KEYSTORE_MAINT_METRICS_PORT: '0' })).toThrow(
      /port 0 would let the system pick a port that no Prometheus scrape configuration can name/,
    );
    for (const bad of ['-1', '65536', 'ninety', '94.64']) {
      expect(() => metricsEndpointFromEnvironment({ KEYSTORE_MAINT_METRICS_PORT: bad })).toThrow(
        MetricsConfigError,
      );
    }
  });

  it('reads the SDK exporter address and refuses one sharing the metrics port', () => {
    expect(sdkMetricsAddressFromEnvironment({})).toBeUndefined();
    expect(sdkMetricsAddressFromEnvironment({ KEYSTORE_MAINT_SDK_METRICS_ADDRESS: '0.0.0.0:9465' })).toBe(
      '0.0.0.0:9465',
    );
    expect(sdkMetricsAddressFromEnvironment({ KEYSTORE_MAINT_SDK_METRICS_ADDRESS: '[::]:9465' })).toBe(
      '[::]:9465',
    );
    expect(() => sdkMetricsAddressFromEnvironment({ KEYSTORE_MAINT_SDK_METRICS_ADDRESS: '9465' })).toThrow(
      /is not host:port; use e.g. 0.0.0.0:9465/,
    );
    expect(() =>
      sdkMetricsAddressFromEnvironment({
        KEYSTORE_MAINT_SDK_METRICS_ADDRESS: '0.0.0.0:9464',
        KEYSTORE_MAINT_METRICS_PORT: '9464',
      }),
    ).toThrow(/name the same port/);
  });
});

describe('offline seconds of a run', () => {
  const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
  const spans = (...steps: [PhaseSpan['phase'], number][]): PhaseSpan[] =>
    steps.map(([phase, start], i) => {
      const next = steps[i + 1];
      return { phase, startedAt: at(start), endedAt: at(next ? next[1] : start) };
    });

  it('runs from DISCONNECTING to the end of the confirmation that let traffic return', () => {
    const timeline = spans(
      ['PREFLIGHT', 0],
      ['DRAINING', 1],
      ['DISCONNECTING', 2],
      ['WAITING_DISCONNECTED', 3],
      ['IN_WINDOW', 5],
      ['RECONNECTING', 15],
      ['WAITING_CONNECTED', 16],
      ['VERIFYING', 20],
      ['RESTORING', 23],
      ['COMPLETED', 24],
    );
    expect(offlineSeconds(timeline)).toBe(21);
  });

  it('takes the last confirmation after a relapse, and the end when the store never came back', () => {
    const relapse = spans(
      ['DISCONNECTING', 0],
      ['IN_WINDOW', 1],
      ['RECONNECTING', 2],
      ['VERIFYING', 3],
      ['RECONNECTING', 4],
      ['WAITING_CONNECTED', 5],
      ['VERIFYING', 6],
      ['RESTORING', 9],
      ['COMPLETED', 10],
    );
    expect(offlineSeconds(relapse)).toBe(9);
    const canaryFailed = spans(['DISCONNECTING', 0], ['VERIFYING', 5], ['NEEDS_ATTENTION', 8]);
    expect(offlineSeconds(canaryFailed)).toBe(8);
    const stuck = spans(['DISCONNECTING', 0], ['WAITING_CONNECTED', 5], ['NEEDS_ATTENTION', 30]);
    expect(offlineSeconds(stuck)).toBe(30);
  });

  it('is absent for a run that never disconnected', () => {
    expect(offlineSeconds(spans(['PREFLIGHT', 0], ['DRAINING', 1], ['VERIFYING', 2], ['CANCELLED', 3]))).toBe(
      undefined,
    );
  });
});

describe('recording never fails a caller', () => {
  it('swallows what a recorder throws, counts it by source and logs once per method', async () => {
    const metrics = new WorkerMetrics();
    const broken = Object.assign(Object.create(metrics) as WorkerMetrics, {
      runEnded: () => {
        throw new Error('broken runEnded');
      },
      kmsCall: () => {
        throw new Error('broken kmsCall');
      },
    });
    const logged: string[] = [];
    const safe = neverThrowing(broken, (m) => logged.push(m));
    expect(() => safe.runEnded({ outcome: 'COMPLETED' })).not.toThrow();
    expect(() => safe.runEnded({ outcome: 'COMPLETED' })).not.toThrow();
    expect(() => safe.kmsCall('ConnectCustomKeyStore', 'ok')).not.toThrow();
    const text = await metrics.render();
    expect(sample(text, 'keystore_maint_metrics_source_errors_total{source="sink"}')).toBe(2);
    expect(sample(text, 'keystore_maint_metrics_source_errors_total{source="activity"}')).toBe(1);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/recording runEnded failed \(broken runEnded\); the run is unaffected/);
  });

  it('counts KMS call outcomes without changing what the call answers or throws', async () => {
    const metrics = new WorkerMetrics();
    await expect(countedKmsCall(metrics, 'ConnectCustomKeyStore', () => Promise.resolve(42))).resolves.toBe(
      42,
    );
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    await expect(
      countedKmsCall(metrics, 'ConnectCustomKeyStore', () => Promise.reject(throttled)),
    ).rejects.toBe(throttled);
    const invalid = Object.assign(new Error('busy'), { name: 'CustomKeyStoreInvalidStateException' });
    await expect(
      countedKmsCall(metrics, 'DescribeCustomKeyStores', () => Promise.reject(invalid)),
    ).rejects.toBe(invalid);
    const text = await metrics.render();
    const series = (op: string, outcome: string) =>
      sample(text, `keystore_maint_kms_calls_total{operation="${op}",outcome="${outcome}"}`);
    expect(series('ConnectCustomKeyStore', 'ok')).toBe(1);
    expect(series('ConnectCustomKeyStore', 'throttled')).toBe(1);
    expect(series('DescribeCustomKeyStores', 'invalid_state')).toBe(1);
    await expect(
      countedKmsCall(NO_METRICS, 'ConnectCustomKeyStore', () => Promise.resolve('x')),
    ).resolves.toBe('x');
  });
});

describe('stores offline, from visibility', () => {
  const ends: Record<string, string | undefined> = {};
  function visibility(overrides: Partial<RunsVisibility> = {}): RunsVisibility & { counts: number } {
    const v = {
      counts: 0,
      count: () => {
        v.counts++;
        return Promise.resolve(2);
      },
      list: () =>
        Promise.resolve([
          { workflowId: 'keystore-maint/us-east-1/a', runId: 'run-a' },
          { workflowId: 'keystore-maint/us-east-1/b', runId: 'run-b' },
        ]),
      windowEnd: (_id: string, runId: string) => Promise.resolve(ends[runId]),
      ...overrides,
    };
    return v;
  }

  it('asks for open runs of this task queue in an offline phase', () => {
    expect(offlineRunsQuery('keystore-maintenance')).toBe(
      "WorkflowType = 'keyStoreMaintenance' AND ExecutionStatus = 'Running' AND TaskQueue = 'keystore-maintenance' AND MaintenancePhase IN ('DISCONNECTING', 'WAITING_DISCONNECTED', 'IN_WINDOW', 'RECONNECTING', 'WAITING_CONNECTED')",
    );
    expect(() => offlineRunsQuery("q' OR 1=1")).toThrow(/quote/);
  });

  it('counts, caches for cacheMs, and works out who is past the window', async () => {
    let now = Date.parse('2030-01-01T01:00:00Z');
    ends['run-a'] = '2030-01-01T00:50:00Z'; // 600 s past
    ends['run-b'] = '2030-01-01T02:00:00Z'; // still in its window
    const v = visibility();
    const errors: MetricsSource[] = [];
    const runs = new OpenRuns({
      visibility: v,
      taskQueue: 'tq',
      cacheMs: 5_000,
      onError: (s) => errors.push(s),
      now: () => now,
    });
    const metrics = new WorkerMetrics();
    metrics.watchOpenRuns(runs);
    const text = await metrics.render();
    expect(sample(text, 'keystore_maint_stores_disconnected{task_queue="tq"}')).toBe(2);
    expect(sample(text, 'keystore_maint_stores_offline_past_window{task_queue="tq"}')).toBe(1);
    expect(sample(text, 'keystore_maint_offline_past_window_seconds{task_queue="tq"}')).toBe(600);
    await metrics.render();
    expect(v.counts).toBe(1);
    now += 6_000;
    await metrics.render();
    expect(v.counts).toBe(2);
    expect(errors).toEqual([]);
  });

  it('keeps the last values and counts the error when visibility fails, and never waits past the timeout', async () => {
    let fail: 'no' | 'throw' | 'hang' = 'no';
    let now = 0;
    const v = visibility({
      count: () => {
        if (fail === 'throw') return Promise.reject(new Error('visibility unavailable'));
        if (fail === 'hang') return new Promise<number>(() => undefined);
        return Promise.resolve(1);
      },
      list: () => Promise.resolve([{ workflowId: 'w', runId: 'run-x' }]),
      windowEnd: () => Promise.resolve(undefined),
    });
    const metrics = new WorkerMetrics();
    const runs = new OpenRuns({
      visibility: v,
      taskQueue: 'tq',
      cacheMs: 1_000,
      timeoutMs: 300,
      onError: (s) => metrics.sourceError(s),
      now: () => now,
    });
    metrics.watchOpenRuns(runs);
    expect(sample(await metrics.render(), 'keystore_maint_stores_disconnected{task_queue="tq"}')).toBe(1);

    // The error counter is written before the gauges ask, so a scrape shows the failures before
    // it; the second render (within cacheMs: no new question) shows this one.
    fail = 'throw';
    now += 2_000;
    expect(sample(await metrics.render(), 'keystore_maint_stores_disconnected{task_queue="tq"}')).toBe(1);
    const errors = sample(
      await metrics.render(),
      'keystore_maint_metrics_source_errors_total{source="visibility"}',
    );
    expect(errors).toBe(1);

    fail = 'hang';
    now += 2_000;
    const started = performance.now();
    const text = await metrics.render();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(sample(text, 'keystore_maint_stores_disconnected{task_queue="tq"}')).toBe(1);
    expect(
      sample(await metrics.render(), 'keystore_maint_metrics_source_errors_total{source="visibility"}'),
    ).toBe(2);
  });

  it('leaves the gauges absent until visibility has answered once', async () => {
    const metrics = new WorkerMetrics();
    metrics.watchOpenRuns(
      new OpenRuns({
        visibility: visibility({ count: () => Promise.reject(new Error('down')) }),
        taskQueue: 'tq',
        onError: (s) => metrics.sourceError(s),
      }),
    );
    const text = await metrics.render();
    expect(text).not.toMatch(/^keystore_maint_stores_disconnected\{/m);
    expect(text).toMatch(/^# TYPE keystore_maint_stores_disconnected gauge$/m);
  });

  it('uses the last known window end when a status query fails, and counts it', async () => {
    let now = Date.parse('2030-01-01T01:00:00Z');
    let queryFails = false;
    const errors: MetricsSource[] = [];
    const runs = new OpenRuns({
      visibility: visibility({
        count: () => Promise.resolve(1),
        list: () => Promise.resolve([{ workflowId: 'w', runId: 'run-q' }]),
        windowEnd: () =>
          queryFails
            ? Promise.reject(new Error('no worker answered'))
            : Promise.resolve('2030-01-01T00:59:00Z'),
      }),
      taskQueue: 'tq',
      cacheMs: 0,
      windowCacheMs: 0,
      onError: (s) => errors.push(s),
      now: () => now,
    });
    expect((await runs.read())?.pastWindow).toEqual({ count: 1, maxSeconds: 60 });
    queryFails = true;
    now += 60_000;
    expect((await runs.read())?.pastWindow).toEqual({ count: 1, maxSeconds: 120 });
    expect(errors).toEqual(['workflow_query']);
  });
});

describe('the metrics endpoint', () => {
  it('serves /metrics and /healthz, and says where a port is taken', async () => {
    const metrics = new WorkerMetrics();
    const server = await startMetricsServer({ metrics, host: '127.0.0.1', port: 0 });
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      expect(sample(text, 'keystore_maint_runs_ended_total{outcome="NEEDS_ATTENTION"}')).toBe(0);
      expect(await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).text()).toBe('ok\n');
      expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);

      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
      const address = taken.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      try {
        const refused = startMetricsServer({ metrics, host: '127.0.0.1', port });
        await expect(refused).rejects.toBeInstanceOf(MetricsServerError);
        await expect(refused).rejects.toThrow(`cannot serve metrics on 127.0.0.1:${port}: listen EADDRINUSE`);
      } finally {
        taken.close();
      }
    } finally {
      await server.close();
    }
  });
});
