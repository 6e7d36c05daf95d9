/**
 * A real, private Prometheus server for the gate tests: started on a free local port with a
 * temporary configuration (scrape and evaluation every second) that scrapes a tiny target served
 * by the test itself, plus one rule file with alerting rules on the target's metric, so a test
 * makes an alert fire by changing a number and watches Prometheus — not a fake — report it.
 * The metrics tests add their own scrape targets (a worker's `/metrics`) and rule files (the
 * alerts of docs/monitoring/alerts.yml), and read what Prometheus stored with `queryPrometheus`.
 *
 * The binary: KEYSTORE_MAINT_TEST_PROMETHEUS when set (CI sets it from
 * scripts/ensure-prometheus.sh), otherwise the script is run here. Never skipped: a machine
 * without Prometheus fails these tests with the script's message. The server runs in its own
 * process group watched by the orphan watchdog, so even a test runner killed with SIGKILL leaves
 * no Prometheus behind; `stop()` ends it, the target and the temporary directory.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../../src/temporal/free-port';
import { watchForOrphan } from '../../src/temporal/orphan-watchdog';
import { projectRoot } from '../../src/util/project-root';

const ENV = 'KEYSTORE_MAINT_TEST_PROMETHEUS';

/** The metric the target serves; the rules alert on it. */
export const TEST_METRIC = 'keystore_maint_gate_test_errors';
/** Fires as soon as the metric is above 0 (`for: 0s`), labels severity=page, team=payments. */
export const FIRING_ALERT = 'GateTestErrors';
/** Same condition with `for: 1h`: stays `pending` for the whole test. */
export const PENDING_ALERT = 'GateTestSlowBurn';

const RULES = `groups:
  - name: gate-test
    interval: 1s
    rules:
      - alert: ${FIRING_ALERT}
        expr: ${TEST_METRIC} > 0
        for: 0s
        labels:
          severity: page
          team: payments
        annotations:
          summary: the test target reports errors
      - alert: ${PENDING_ALERT}
        expr: ${TEST_METRIC} > 0
        for: 1h
        labels:
          severity: ticket
          team: payments
`;

export interface TestPrometheusOptions {
  /** More scrape jobs, each scraped every second: `host:port` targets of their `/metrics`. */
  readonly scrapeTargets?: readonly { readonly job: string; readonly targets: readonly string[] }[];
  /** More rule files (absolute paths), evaluated every second like the test's own. */
  readonly ruleFiles?: readonly string[];
}

export interface TestPrometheus {
  /** e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** What the target reports for `TEST_METRIC` from the next scrape on. */
  setErrors(value: number): void;
  stop(): Promise<void>;
}

/** The `prometheus` binary (and `promtool` next to it or on PATH). */
export function prometheusBinary(): string {
  const fromEnv = process.env[ENV]?.trim();
  if (fromEnv) return fromEnv;
  let output: string;
  try {
    output = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-prometheus.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 600_000,
    });
  } catch (err) {
    throw new Error(
      `${ENV} is not set and scripts/ensure-prometheus.sh failed (${String(err)}); install Prometheus or set ${ENV}.`,
      { cause: err },
    );
  }
  const binary = output.trim().split('\n').pop()?.trim() ?? '';
  if (!binary || !existsSync(binary)) {
    throw new Error(`scripts/ensure-prometheus.sh printed no prometheus binary path:\n${output}`);
  }
  process.env[ENV] = binary;
  return binary;
}

/** `promtool`, next to the prometheus binary or on PATH. */
export function promtoolBinary(binary: string = prometheusBinary()): string {
  const sibling = join(dirname(binary), 'promtool');
  return existsSync(sibling) ? sibling : 'promtool';
}

/** One instant-vector sample of a PromQL query's answer. */
export interface PrometheusSample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** Asks Prometheus's HTTP API (`/api/v1/query`) for an instant query's samples. */
export async function queryPrometheus(url: string, expr: string): Promise<PrometheusSample[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, {
    signal: AbortSignal.timeout(5_000),
  });
  const answer = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (answer.status !== 'success' || !answer.data) {
    throw new Error(`Prometheus refused ${expr}: ${answer.error ?? answer.status}`);
  }
  return answer.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

export async function startTestPrometheus(options: TestPrometheusOptions = {}): Promise<TestPrometheus> {
  const binary = prometheusBinary();
  let errors = 0;
  const target = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const body = `# TYPE ${TEST_METRIC} gauge\n${TEST_METRIC}{service="payments"} ${errors}\n`;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(body);
  });
  const targetPort = await listen(target);
  const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-prometheus-'));
  writeFileSync(join(dir, 'rules.yml'), RULES);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${join(dir, 'rules.yml')}`,
      ...(options.ruleFiles ?? []).map((file) => `  - ${JSON.stringify(file)}`),
      'scrape_configs:',
      '  - job_name: gate-test',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${targetPort}']`,
      ...(options.scrapeTargets ?? []).flatMap((job) => [
        `  - job_name: ${JSON.stringify(job.job)}`,
        '    static_configs:',
        `      - targets: [${job.targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      ]),
      '',
    ].join('\n'),
  );
  try {
    // A broken configuration fails here with promtool's words, not as a server that never starts.
    execFileSync(promtoolBinary(binary), ['check', 'config', join(dir, 'prometheus.yml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    const server = await startServer(binary, dir);
    return {
      url: server.url,
      setErrors: (value) => {
        errors = value;
      },
      stop: async () => {
        await server.stop();
        const closed = new Promise<void>((resolve) => target.close(() => resolve()));
        target.closeAllConnections();
        await closed;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    target.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Starts the server on a free port (again on another port if that one was taken meanwhile). */
function startServer(binary: string, dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  return startLocalServer(
    `Prometheus (${binary})`,
    (port) =>
      spawn(
        binary,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    (url, child) => becomesReady(url, child),
  );
}

/**
 * A test's private server process (Prometheus, moto): spawned detached by `spawnAt(port)` on a
 * free local port, in its own process group watched by the orphan watchdog, and given until
 * `ready` says so; started again on another port if that one was taken meanwhile. `stop()` ends
 * the process group and the watchdog.
 */
export async function startLocalServer(
  what: string,
  spawnAt: (port: number) => ChildProcess,
  ready: (url: string, child: ChildProcess) => Promise<boolean>,
): Promise<{ url: string; stop(): Promise<void> }> {
  let lastProblem = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawnAt(port);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    const stopWatchdog = child.pid !== undefined ? watchForOrphan(child.pid) : () => undefined;
    const url = `http://127.0.0.1:${port}`;
    const stop = () => stopProcess(child).finally(stopWatchdog);
    if (await ready(url, child)) return { url, stop };
    await stop();
    lastProblem = stderr.trim().split('\n').slice(-5).join('\n');
    if (!/address already in use/i.test(stderr)) break;
  }
  throw new Error(`${what} did not become ready:\n${lastProblem}`);
}

async function becomesReady(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** SIGTERM to the process group, then SIGKILL if it has not gone within 10 s. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid ?? 0), name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const killer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}
