/**
 * `npm run bench:probes`: what readiness probes are worth (not a test). A seeded series of
 * maintenance runs in which the store's backing system is unhealthy when the window ends — an XKS
 * proxy whose external key managers are all UNAVAILABLE, or a CloudHSM cluster without an ACTIVE
 * HSM — and recovers a random time later. The same series runs twice, without probes and with
 * them, on one dev server and one simulator, side by side.
 *
 * Measured from the simulator, never from the runs' own reports:
 * - connect attempts that ended FAILED: transitions of the store's true state into FAILED, read
 *   every 50 ms from the simulator's control API;
 * - offline time: from the store's true state leaving CONNECTED to its return to CONNECTED.
 *
 * A run without probes that ends NEEDS_ATTENTION leaves its store FAILED. The series then plays
 * the operator who reacts at once: as soon as the run has ended and the backing system is
 * healthy, Disconnect, wait for DISCONNECTED, Connect (what docs/operations.md tells them to do).
 * So the offline time without probes is a lower bound: a real operator is paged first.
 *
 * Time is scaled down as in every benchmark here: connects of 2 s, disconnects of 1 s (real ones
 * take minutes: up to 20 on CloudHSM), recoveries 2–12 s after the window ends.
 *
 * Environment: BENCH_PROBES_RUNS (default 12: 6 XKS, 6 CloudHSM), BENCH_SEED (default 18),
 * BENCH_OUT (default bench/results).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  DisconnectCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import type { MaintenanceRequest } from '../src/domain/request';
import { kmsClientProvider } from '../src/kms/client';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startLocalStack, type LocalStack } from '../src/local-stack';
import { xksProxies, type XksProxies } from '../src/probes/xks-proxies';
import { projectRoot } from '../src/util/project-root';

const RUNS = Number(process.env.BENCH_PROBES_RUNS ?? 12);
const SEED = Number(process.env.BENCH_SEED ?? 18);
const OUT = process.env.BENCH_OUT ?? join(projectRoot(), 'bench', 'results');
const ACCESS_KEY_ID = 'KEYSTOREMAINTBENCHPROBES2';
const SECRET = randomBytes(32).toString('base64');

/** mulberry32: a small seeded generator, so the series is the same each time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  readonly index: number;
  readonly type: 'EXTERNAL_KEY_STORE' | 'AWS_CLOUDHSM';
  /** How long after the window's end the backing system recovers. */
  readonly recoverAfterMs: number;
}

interface Measured {
  readonly case: Case;
  readonly probes: boolean;
  readonly outcome: string;
  readonly failedConnects: number;
  readonly offlineMs: number;
  readonly operatorRecovery: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const random = seeded(SEED);
  const cases: Case[] = Array.from({ length: RUNS }, (_, index) => ({
    index,
    type: index % 2 === 0 ? 'EXTERNAL_KEY_STORE' : 'AWS_CLOUDHSM',
    recoverAfterMs: Math.round(2_000 + random() * 10_000),
  }));
  const dir = mkdtempSync(join(tmpdir(), 'bench-probes-'));
  const secretFile = join(dir, 'xks-secret');
  writeFileSync(secretFile, SECRET);
  const holder: { proxies?: XksProxies } = {};
  const stack = await startLocalStack({
    auditFile: join(dir, 'audit.jsonl'),
    // Every store in one account-Region, more than KMS's 10: the limit is not what is measured.
    simulator: { connectDelayMs: 2_000, disconnectDelayMs: 1_000, consistencyLagMs: 500, storeLimit: 0 },
    xksProxies: { get: (name) => holder.proxies?.get(name), names: ['bench-xks'] },
  });
  try {
    holder.proxies = xksProxies(
      {
        proxies: {
          'bench-xks': {
            accessKeyId: ACCESS_KEY_ID,
            secretFile,
            endpoint: `${stack.sim.url}/_xks/bench-xks.example.com`,
          },
        },
      },
      { allowHttp: true },
    );
    // Created one by one: CreateCustomKeyStore has KMS's quota of 5 per second too.
    const stores = new Map<string, string>();
    for (const c of cases) {
      for (const probes of [false, true]) {
        stores.set(`${c.index}/${probes}`, await createStore(stack, c, probes));
        await sleep(250);
      }
    }
    const results: Measured[] = [];
    // Both series at once, one pair per case: same load, same moments.
    await Promise.all(
      cases.flatMap((c) => [
        runCase(stack, c, false, stores.get(`${c.index}/false`) ?? '').then(
          (m) => results.push(m),
          (err: unknown) => {
            throw new Error(`case ${c.index} (${c.type}) without probes: ${String(err)}`, { cause: err });
          },
        ),
        runCase(stack, c, true, stores.get(`${c.index}/true`) ?? '').then(
          (m) => results.push(m),
          (err: unknown) => {
            throw new Error(`case ${c.index} (${c.type}) with probes: ${String(err)}`, { cause: err });
          },
        ),
      ]),
    );
    report(results);
  } finally {
    await stack.stop();
  }
}

async function createStore(stack: LocalStack, c: Case, probes: boolean): Promise<string> {
  if (c.type === 'AWS_CLOUDHSM') {
    const store = await stack.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: `bench-hsm-${c.index}-${probes ? 'probes' : 'plain'}`,
      ConnectionState: 'CONNECTED',
    });
    return store.CustomKeyStoreId;
  }
  const kms = kmsClientProvider({ endpoint: stack.sim.url, credentials: LOCAL_CREDENTIALS })({
    region: LOCAL_REGION,
  });
  const out = await kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: `bench-xks-${c.index}-${probes ? 'probes' : 'plain'}`,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyUriEndpoint: 'https://bench-xks.example.com',
      XksProxyUriPath: `/c${c.index}${probes ? 'p' : 'n'}/kms/xks/v1`,
      XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET },
    }),
  );
  const id = out.CustomKeyStoreId ?? '';
  await stack.control.patchStore(id, { ConnectionState: 'CONNECTED' });
  return id;
}

async function setHealthy(stack: LocalStack, c: Case, id: string, healthy: boolean): Promise<void> {
  if (c.type === 'EXTERNAL_KEY_STORE') {
    if (healthy) await stack.control.resetXksProxyHealth(id);
    else
      await stack.control.setXksProxyHealth(id, {
        ekmFleetDetails: [{ healthStatus: 'UNAVAILABLE' }, { healthStatus: 'UNAVAILABLE' }],
      });
    return;
  }
  const clusterId = (await stack.control.getStore(id)).CloudHsmClusterId ?? '';
  const cluster = await stack.control.getCluster(clusterId);
  for (const hsm of cluster.Hsms) {
    await stack.control.setHsmState(clusterId, hsm.HsmId, healthy ? 'ACTIVE' : 'DEGRADED');
  }
}

async function runCase(stack: LocalStack, c: Case, probes: boolean, id: string): Promise<Measured> {
  while ((await stack.control.getStore(id)).visibleConnectionState !== 'CONNECTED') await sleep(100);
  // The store's true state, every 50 ms, until the measurement ends.
  const states: { at: number; state: string }[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const state = (await stack.control.getStore(id)).ConnectionState;
      if (states.at(-1)?.state !== state) states.push({ at: Date.now(), state });
      await sleep(50);
    }
  })();
  // Read at the end; until then a failed read must not end the process unreported.
  watcher.catch(() => undefined);
  const request: MaintenanceRequest = {
    customKeyStoreId: id,
    window: { duration: '2s' },
    maxWindow: '60s',
    reason: 'bench: readiness probes',
    requestedBy: 'bench@example.com',
    pollInterval: '250ms',
    confirmSettle: '1s',
    timeouts: { disconnect: '30s', connect: '30s' },
    ...(probes
      ? {
          probes: {
            ...(c.type === 'EXTERNAL_KEY_STORE'
              ? { xksHealth: { proxy: 'bench-xks' } }
              : { cloudHsmCluster: {} }),
            checkEvery: '1s',
          },
        }
      : {}),
  };
  await stack.client.start(request);
  // Unhealthy from the middle of the window; healthy again `recoverAfterMs` after its end.
  let windowEnd: number | undefined;
  for (;;) {
    const status = await stack.client.getStatus(id);
    if (status.phase === 'IN_WINDOW' && status.window.endsAt) {
      windowEnd = Date.parse(status.window.endsAt);
      break;
    }
    await sleep(50);
  }
  await setHealthy(stack, c, id, false);
  const recovery = sleep(Math.max(0, windowEnd + c.recoverAfterMs - Date.now())).then(() =>
    setHealthy(stack, c, id, true),
  );
  const result = await stack.client.result(id);
  await recovery;
  let operatorRecovery = false;
  if ((await stack.control.getStore(id)).ConnectionState !== 'CONNECTED') {
    // The operator who reacts at once, after the backing system is healthy again.
    operatorRecovery = true;
    const kms = kmsClientProvider({ endpoint: stack.sim.url, credentials: LOCAL_CREDENTIALS })({
      region: LOCAL_REGION,
    });
    await retryThrottled(() => kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id })));
    while ((await stack.control.getStore(id)).ConnectionState !== 'DISCONNECTED') await sleep(50);
    await retryThrottled(() => kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })));
    while ((await stack.control.getStore(id)).ConnectionState !== 'CONNECTED') await sleep(50);
  }
  await sleep(200);
  watching = false;
  await watcher;
  const left = states.find((s) => s.state !== 'CONNECTED');
  const back = [...states].reverse().find((s) => s.state === 'CONNECTED');
  return {
    case: c,
    probes,
    outcome: result.outcome,
    failedConnects: states.filter((s) => s.state === 'FAILED').length,
    offlineMs: left && back && back.at > left.at ? back.at - left.at : 0,
    operatorRecovery,
  };
}

/** The operator shares the account's KMS quota with every run, and tries again when throttled. */
async function retryThrottled<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ThrottlingException') || attempt >= 20) throw err;
      await sleep(300);
    }
  }
}

function report(results: Measured[]): void {
  const by = (probes: boolean, type?: Case['type']) =>
    results.filter((r) => r.probes === probes && (type === undefined || r.case.type === type));
  const sum = (list: Measured[], f: (m: Measured) => number) => list.reduce((a, m) => a + f(m), 0);
  const row = (label: string, list: Measured[]) => {
    const offline = list.map((m) => m.offlineMs / 1000).sort((a, b) => a - b);
    const mean = offline.reduce((a, b) => a + b, 0) / Math.max(1, offline.length);
    const max = offline.at(-1) ?? 0;
    const outcomes = Object.entries(
      list.reduce<Record<string, number>>(
        (acc, m) => ({ ...acc, [m.outcome]: (acc[m.outcome] ?? 0) + 1 }),
        {},
      ),
    )
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    return `| ${label} | ${list.length} | ${sum(list, (m) => m.failedConnects)} | ${list.filter((m) => m.operatorRecovery).length} | ${mean.toFixed(1)} s | ${max.toFixed(1)} s | ${outcomes} |`;
  };
  const lines = [
    `# Readiness probes: connects into FAILED and offline time`,
    '',
    `${RUNS} cases (seed ${SEED}), each run without and with probes side by side; the backing system is unhealthy from the middle of a 2 s window and recovers 2–12 s after its end. Connect 2 s, disconnect 1 s, probe every 1 s. Measured from the simulator's true store state. Without probes, a run that ends NEEDS_ATTENTION is followed by an operator who reacts at once (disconnect, connect) once the backing system is healthy: its offline time is a lower bound.`,
    '',
    '| series | runs | connects that ended FAILED | stores left for an operator | offline, mean | offline, max | outcomes |',
    '|---|---|---|---|---|---|---|',
    row('XKS, without probes', by(false, 'EXTERNAL_KEY_STORE')),
    row('XKS, with probes', by(true, 'EXTERNAL_KEY_STORE')),
    row('CloudHSM, without probes', by(false, 'AWS_CLOUDHSM')),
    row('CloudHSM, with probes', by(true, 'AWS_CLOUDHSM')),
    row('all, without probes', by(false)),
    row('all, with probes', by(true)),
    '',
    'Per case (offline seconds without → with probes):',
    '',
    ...[...new Set(results.map((r) => r.case.index))]
      .sort((a, b) => a - b)
      .map((index) => {
        const plain = results.find((r) => r.case.index === index && !r.probes);
        const probed = results.find((r) => r.case.index === index && r.probes);
        return `- case ${index} (${plain?.case.type}, recovers ${((plain?.case.recoverAfterMs ?? 0) / 1000).toFixed(1)} s after the window): ${((plain?.offlineMs ?? 0) / 1000).toFixed(1)} s, ${plain?.failedConnects} FAILED, ${plain?.outcome}${plain?.operatorRecovery ? ' + operator' : ''} → ${((probed?.offlineMs ?? 0) / 1000).toFixed(1)} s, ${probed?.failedConnects} FAILED, ${probed?.outcome}`;
      }),
    '',
  ];
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'probes.md'), lines.join('\n'));
  writeFileSync(join(OUT, 'probes.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
