/**
 * The Prometheus gate against a real Prometheus (test/support/prometheus.ts): an alerting rule on
 * a metric the test controls fires and resolves, and the gate follows it — in both modes, the
 * alerts API and an instant query. Plus what a gate does with a source it cannot ask.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateResult, ResolvedPrometheusGate } from '../../src/domain/gates';
import { gatesConfig, type GatesConfig } from '../../src/gates/config';
import { freePort } from '../../src/temporal/free-port';
import { checkPrometheusGate } from '../../src/gates/prometheus';
import {
  FIRING_ALERT,
  PENDING_ALERT,
  startTestPrometheus,
  TEST_METRIC,
  type TestPrometheus,
} from '../support/prometheus';

let prometheus: TestPrometheus;
let config: GatesConfig;

beforeAll(async () => {
  prometheus = await startTestPrometheus();
  config = gatesConfig({ prometheus: { main: { url: prometheus.url } } }, { allowHttp: true });
});
afterAll(async () => {
  await prometheus?.stop();
});

const alerts = (
  filter: { alertname?: string; labels?: Record<string, string> } = {},
): ResolvedPrometheusGate => ({
  source: 'main',
  mode: 'alerts',
  alertname: filter.alertname,
  labels: filter.labels ?? {},
});
const query = (text: string): ResolvedPrometheusGate => ({ source: 'main', mode: 'query', query: text });

/** Checks until `done` holds (Prometheus scrapes and evaluates every second), at most 30 s. */
async function checkUntil(
  gate: ResolvedPrometheusGate,
  done: (r: GateResult) => boolean,
): Promise<GateResult> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const result = await checkPrometheusGate(config, gate);
    if (done(result)) return result;
    if (Date.now() > deadline)
      throw new Error(`gate never reached the expected verdict: ${JSON.stringify(result)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('alerts mode, against a real Prometheus', () => {
  it('is open while nothing fires, blocked while the alert fires, open again once it resolves', async () => {
    prometheus.setErrors(0);
    // Open, and not merely unanswered: Prometheus answered with no matching alert.
    const quiet = await checkUntil(alerts({ alertname: FIRING_ALERT }), (r) => r.open);
    expect(quiet).toMatchObject({ kind: 'prometheus', name: `main alerts{alertname="${FIRING_ALERT}"}` });
    expect(quiet.evidence).toMatchObject({ source: 'main', mode: 'alerts', firingCount: 0 });

    prometheus.setErrors(3);
    const firing = await checkUntil(alerts({ alertname: FIRING_ALERT }), (r) => !r.open);
    expect(firing.error).toBeUndefined();
    expect(firing.reason).toMatch(new RegExp(`^alert ${FIRING_ALERT} firing since \\d{4}-\\d\\d-\\d\\dT`));
    expect(firing.evidence).toMatchObject({
      firingCount: 1,
      firing: [
        {
          alertname: FIRING_ALERT,
          labels: { alertname: FIRING_ALERT, severity: 'page', team: 'payments', service: 'payments' },
        },
      ],
    });

    prometheus.setErrors(0);
    const resolved = await checkUntil(alerts({ alertname: FIRING_ALERT }), (r) => r.open);
    expect(resolved.evidence).toMatchObject({ firingCount: 0 });
  });

  it('matches labels, and a pending alert does not block', async () => {
    prometheus.setErrors(1);
    await checkUntil(alerts({ labels: { severity: 'page' } }), (r) => !r.open);
    const pending = await checkPrometheusGate(config, alerts({ alertname: PENDING_ALERT }));
    expect(pending.open).toBe(true);
    expect(pending.evidence).toMatchObject({ firingCount: 0, pendingCount: 1 });
    const otherTeam = await checkPrometheusGate(config, alerts({ labels: { team: 'orders' } }));
    expect(otherTeam.open).toBe(true);
    const everything = await checkPrometheusGate(config, alerts());
    expect(everything).toMatchObject({ open: false, name: 'main alerts{}' });
    prometheus.setErrors(0);
    await checkUntil(alerts(), (r) => r.open);
  });
});

describe('query mode, against a real Prometheus', () => {
  it('is blocked while the query returns a series and open when it returns none', async () => {
    const gate = query(`${TEST_METRIC} > 0`);
    prometheus.setErrors(0);
    await checkUntil(gate, (r) => r.open);
    prometheus.setErrors(5);
    const blocked = await checkUntil(gate, (r) => !r.open);
    expect(blocked.reason).toMatch(
      new RegExp(
        `^query returned 1 series: ${TEST_METRIC}\\{instance="127\\.0\\.0\\.1:\\d+",job="gate-test",service="payments"\\}$`,
      ),
    );
    expect(blocked.evidence).toMatchObject({ seriesCount: 1, series: [{ value: '5' }] });
    prometheus.setErrors(0);
    await checkUntil(gate, (r) => r.open);
  });

  it('refuses a query that cannot say "blocked", and reports Prometheus’s own error', async () => {
    const scalar = await checkPrometheusGate(config, query('1'));
    expect(scalar).toMatchObject({ open: false });
    expect(scalar.error).toMatch(/returns a scalar, not an instant vector/);
    const broken = await checkPrometheusGate(config, query('sum(('));
    expect(broken).toMatchObject({ open: false });
    expect(broken.error).toMatch(/^answered HTTP 400 \(bad_data: /);
  });
});

describe('sources the gate cannot ask', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-prom-gate-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('blocks on a source the worker does not have, naming the configured ones', async () => {
    const result = await checkPrometheusGate(config, { ...alerts(), source: 'elsewhere' });
    expect(result.open).toBe(false);
    expect(result.reason).toMatch(
      /Prometheus source "elsewhere" is not one this worker may ask \(configured: main\)/,
    );
  });

  it('blocks when the server cannot be reached', async () => {
    const port = await freePort();
    const closed = gatesConfig(
      { prometheus: { gone: { url: `http://127.0.0.1:${port}` } } },
      { allowHttp: true },
    );
    const result = await checkPrometheusGate(closed, { ...alerts(), source: 'gone' });
    expect(result).toMatchObject({ open: false, reason: 'cannot be checked: ECONNREFUSED' });
  });

  it('sends the bearer token from its file, keeps it out of the evidence, and blocks without it', async () => {
    const seen: (string | undefined)[] = [];
    const fake = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { alerts: [] } }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', () => resolve()));
    const address = fake.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const tokenFile = join(dir, 'token');
    const withToken = gatesConfig(
      { prometheus: { secured: { url: `http://127.0.0.1:${port}/prom`, bearerTokenFile: tokenFile } } },
      { allowHttp: true },
    );
    try {
      const missing = await checkPrometheusGate(withToken, { ...alerts(), source: 'secured' });
      expect(missing.open).toBe(false);
      expect(missing.reason).toContain(`file ${tokenFile} is missing or empty`);
      expect(seen).toEqual([]);

      writeFileSync(tokenFile, 'tok-0123456789abcdef0123\n');
      const result = await checkPrometheusGate(withToken, { ...alerts(), source: 'secured' });
      expect(result.open).toBe(true);
      expect(seen).toEqual(['Bearer tok-0123456789abcdef0123']);
      expect(JSON.stringify(result)).not.toContain('tok-0123456789abcdef0123');
    } finally {
      fake.close();
      fake.closeAllConnections();
    }
  });
});
