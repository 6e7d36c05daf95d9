/**
 * Readiness probes on the real dev server, against the simulator's XKS proxy stand-in and
 * CloudHSM endpoint, which the simulated KMS also consults when it connects a store. Every
 * assertion about the store reads the simulator: its state and its call log (was Connect ever
 * called?), never the run's own belief.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { CreateCustomKeyStoreCommand, UpdateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceStatus } from '../../src/domain/status';
import { kmsClientProvider } from '../../src/kms/client';
import { xksProxies } from '../../src/probes/xks-proxies';
import { statusQuery, endWindowNowUpdate } from '../../workflows/messages';
import {
  REGION,
  TEST_CREDENTIALS,
  callCount,
  callsFor,
  connectedStore,
  eventually,
  outcomeOf,
  rejectionOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { CLOSED_PORT_URL } from '../probes/support';
import { withKillableWorker } from '../support/worker-process';
import { fleetClient, fleetRequest, uniqueFleetName } from '../fleet/support';

const SECRET = randomBytes(32).toString('base64');
const ACCESS_KEY_ID = 'KEYSTOREMAINTPROBETEST234';

let env: MaintenanceEnv;
const secretFile = `${process.env.TMPDIR ?? '/tmp'}/xks-probe-secret-${randomUUID()}`;
// The pair a rotation test rewrites while its run holds, as a mounted secret is updated.
const rotatingKeyFile = `${process.env.TMPDIR ?? '/tmp'}/xks-probe-rotating-key-${randomUUID()}`;
const rotatingSecretFile = `${process.env.TMPDIR ?? '/tmp'}/xks-probe-rotating-secret-${randomUUID()}`;

beforeAll(async () => {
  writeFileSync(secretFile, SECRET);
  writeFileSync(rotatingKeyFile, ACCESS_KEY_ID);
  writeFileSync(rotatingSecretFile, SECRET);
  // The worker's credential points at the stand-in; its endpoint is filled in once the simulator runs.
  const holder: { config?: ReturnType<typeof xksProxies> } = {};
  env = await startMaintenanceEnv(
    {},
    {
      xksProxies: {
        get: (name) => holder.config?.get(name),
        get names() {
          return holder.config?.names ?? [];
        },
      },
    },
  );
  holder.config = xksProxies(
    {
      proxies: {
        'test-xks': { accessKeyId: ACCESS_KEY_ID, secretFile, endpoint: `${env.sim.url}/_xks/${PROXY_HOST}` },
        'rotating-xks': {
          accessKeyIdFile: rotatingKeyFile,
          secretFile: rotatingSecretFile,
          endpoint: `${env.sim.url}/_xks/${PROXY_HOST}`,
        },
        'wrong-key': {
          accessKeyId: 'KEYSTOREMAINTOTHERKEY2345',
          secretFile,
          endpoint: `${env.sim.url}/_xks/${PROXY_HOST}`,
        },
        // A proxy behind a VPC endpoint service: KMS reaches it, the worker does not (nothing listens).
        'vpc-xks': {
          accessKeyId: ACCESS_KEY_ID,
          secretFile,
          endpoint: CLOSED_PORT_URL,
        },
      },
    },
    { allowHttp: true },
  );
}, 60_000);

afterAll(async () => {
  await env?.close();
});

const PROXY_HOST = `xks-probe-${randomUUID().slice(0, 8)}.example.com`;
let pathCounter = 0;

/** An external key store whose proxy credential the test (and the worker) knows, CONNECTED. */
async function xksStore(
  connectivity: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE' = 'PUBLIC_ENDPOINT',
): Promise<string> {
  const kms = kmsClientProvider({ endpoint: env.sim.url, credentials: TEST_CREDENTIALS })({ region: REGION });
  const out = await kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: `xks-${randomUUID().slice(0, 8)}`,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyConnectivity: connectivity,
      ...(connectivity === 'VPC_ENDPOINT_SERVICE'
        ? {
            XksProxyVpcEndpointServiceName: `com.amazonaws.vpce.${REGION}.vpce-svc-${randomBytes(9).toString('hex').slice(0, 17)}`,
          }
        : {}),
      // KMS wants a VPC endpoint service, and its proxy endpoint, used by one store in the Region.
      XksProxyUriEndpoint:
        connectivity === 'VPC_ENDPOINT_SERVICE'
          ? `https://vpc-${randomUUID().slice(0, 8)}.${PROXY_HOST}`
          : `https://${PROXY_HOST}`,
      XksProxyUriPath: `/p${++pathCounter}/kms/xks/v1`,
      XksProxyAuthenticationCredential: { AccessKeyId: ACCESS_KEY_ID, RawSecretAccessKey: SECRET },
    }),
  );
  const id = out.CustomKeyStoreId ?? '';
  await env.control.patchStore(id, { ConnectionState: 'CONNECTED' });
  // KMS is eventually consistent, and so is the simulator: wait until Describe shows it.
  await eventually(
    async () => (await env.control.getStore(id)).visibleConnectionState === 'CONNECTED',
    'the new store to read CONNECTED',
  );
  return id;
}

async function status(id: string): Promise<MaintenanceStatus> {
  return env.temporal.client.workflow.getHandle(`keystore-maint/${REGION}/${id}`).query(statusQuery);
}

/** The run's status once it holds the store disconnected for its probes. */
function holding(id: string, what: string): Promise<MaintenanceStatus> {
  return eventually(async () => {
    const s = await status(id);
    return s.readiness?.waiting ? s : undefined;
  }, what);
}

async function connectCalls(id: string) {
  return (await callsFor(env.control, id)).filter((c) => c.operation === 'ConnectCustomKeyStore');
}

const allUnavailable = {
  ekmFleetDetails: [{ healthStatus: 'UNAVAILABLE' as const }, { healthStatus: 'UNAVAILABLE' as const }],
};

describe('xksHealth before the reconnect', () => {
  it('holds the store disconnected while the proxy is unhealthy, then connects once when it recovers', async () => {
    const id = await xksStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '2s' },
      probes: { xksHealth: { proxy: 'test-xks' }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await env.control.setXksProxyHealth(id, allUnavailable);

    const waiting = await holding(id, 'the run to hold for readiness');
    expect(waiting.readiness?.last?.probes[0]).toMatchObject({ probe: 'xksHealth', status: 'unhealthy' });
    expect(waiting.readiness?.last?.summary).toContain('0 of 2 external key managers ACTIVE');
    expect(waiting.message).toMatch(/holding .* disconnected until it is ready to connect/);
    // Several checks go by; Connect is never called into the known-bad proxy.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(await connectCalls(id)).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');

    await env.control.resetXksProxyHealth(id);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    // Ground truth: the simulator connected it, after exactly one Connect, and never went FAILED.
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const connects = await connectCalls(id);
    expect(connects.map((c) => c.outcome)).toEqual(['ok']);
    const actions = result.events.map((e) => e.action);
    expect(actions).toContain('probe.notReady');
    expect(actions.indexOf('probe.ready')).toBeLessThan(actions.indexOf('kms.connect'));
    // The health endpoint answered the worker's signed requests (the stand-in verifies SigV4).
    const health = (await env.control.calls()).filter((c) => c.operation === 'GetHealthStatus');
    expect(health.length).toBeGreaterThan(2);
    expect(health.every((c) => c.outcome === 'ok')).toBe(true);
  }, 90_000);

  it('ends NEEDS_ATTENTION with the evidence, and no Connect, when the proxy never recovers', async () => {
    const id = await xksStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '1s' },
      maxWindow: '6s',
      probes: { xksHealth: { proxy: 'test-xks' }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await env.control.setXksProxyHealth(id, allUnavailable);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.message).toMatch(/was not ready to connect by .* so it was not connected/);
    expect(result.message).toContain('0 of 2 external key managers ACTIVE');
    expect(result.readiness?.last?.probes[0]?.evidence).toMatchObject({
      activeEkms: 0,
      ekmFleetDetails: [{ healthStatus: 'UNAVAILABLE' }, { healthStatus: 'UNAVAILABLE' }],
    });
    expect(result.events.map((e) => e.action)).toContain('probe.timedOut');
    expect(await connectCalls(id)).toEqual([]);
    const store = await env.control.getStore(id);
    expect(store.ConnectionState).toBe('DISCONNECTED');
  }, 90_000);

  it('connects anyway when an operator forces it, and audits who did', async () => {
    const id = await xksStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '1s' },
      reconnectAttempts: 1,
      probes: { xksHealth: { proxy: 'test-xks' }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await env.control.setXksProxyHealth(id, allUnavailable);
    await holding(id, 'the run to hold for readiness');
    const runHandle = env.temporal.client.workflow.getHandle(`keystore-maint/${REGION}/${id}`);
    expect(await rejectionOf(runHandle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'bob' }] }))).toMatch(
      /to connect anyway, send .*"force": true/,
    );
    await runHandle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'oncall@example.com', force: true }] });
    const result = await outcomeOf(handle);
    // Connected into the unhealthy proxy, as the operator chose: the simulator says FAILED.
    expect((await connectCalls(id)).length).toBeGreaterThan(0);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.readiness?.forced?.by).toBe('oncall@example.com');
    const forced = result.events.find((e) => e.action === 'probe.forced');
    expect(forced?.actor).toBe('oncall@example.com');
    expect(result.events.find((e) => e.action === 'message.endWindowNow')?.detail).toMatchObject({
      force: true,
    });
  }, 90_000);

  it('keeps holding across a worker restart, and a Temporal cancellation still never connects into the bad proxy', async () => {
    const id = await xksStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '1s' },
      probes: { xksHealth: { proxy: 'test-xks' }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    await env.control.setXksProxyHealth(id, allUnavailable);
    await holding(id, 'the hold');
    // The worker dies and comes back: the hold goes on (the activity is retried), still no Connect.
    await env.stopWorker();
    await env.startWorker();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await status(id)).readiness?.waiting).toBeDefined();
    expect(await connectCalls(id)).toEqual([]);
    // Cancelled: compensation must bring the store back, but under the same rule.
    await handle.cancel();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await connectCalls(id)).toEqual([]);
    expect((await status(id)).readiness?.waiting).toBeDefined();
    await env.control.resetXksProxyHealth(id);
    const result = await outcomeOf(handle).catch(async () => status(id));
    expect(result.outcome ?? (await status(id)).outcome).toBe('CANCELLED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
  }, 120_000);

  it('refuses to start a store whose proxy is unhealthy, unless allowUnhealthyAtStart', async () => {
    const id = await xksStore();
    await env.control.setXksProxyHealth(id, allUnavailable);
    const refused = await outcomeOf(
      await env.start({ ...env.request(id), probes: { xksHealth: { proxy: 'test-xks' } } }),
    );
    expect(refused.outcome).toBe('FAILED');
    expect(refused.message).toMatch(/is not ready .*"allowUnhealthyAtStart": true/);
    expect(
      (await callsFor(env.control, id)).filter((c) => c.operation !== 'DescribeCustomKeyStores'),
    ).toEqual([]);

    const allowed = await env.start({
      ...env.request(id),
      probes: { xksHealth: { proxy: 'test-xks' }, allowUnhealthyAtStart: true, checkEvery: '1s' },
    });
    await holding(id, 'the hold before the connect');
    await env.control.resetXksProxyHealth(id);
    const result = await outcomeOf(allowed);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.readiness?.preflight?.ready).toBe(false);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  }, 90_000);

  it('refuses a credential the store does not use, or one the worker does not have, before touching anything', async () => {
    const id = await xksStore();
    const mismatch = await outcomeOf(
      await env.start({ ...env.request(id), probes: { xksHealth: { proxy: 'wrong-key' } } }),
    );
    expect(mismatch.outcome).toBe('FAILED');
    expect(mismatch.message).toMatch(/UpdateCustomKeyStore/);
    const missing = await outcomeOf(
      await env.start({ ...env.request(id), probes: { xksHealth: { proxy: 'nobody' } } }),
    );
    expect(missing.message).toMatch(/no XKS proxy credential named "nobody" is configured on the worker/);
    expect(
      (await callsFor(env.control, id)).filter((c) => c.operation !== 'DescribeCustomKeyStores'),
    ).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  }, 60_000);
});

describe('xksHealth when the proxy credential is rotated during the window', () => {
  it('holds while the store and the worker hold different credentials, and connects once both have the new one', async () => {
    const id = await xksStore();
    const handle = await env.start({
      ...env.request(id),
      // A window long enough for the rotation; the operator ends it when done.
      window: { duration: '10m' },
      maxWindow: '20m',
      probes: { xksHealth: { proxy: 'rotating-xks' }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    // The proxy's credential is rotated, and KMS is told while the store is disconnected.
    const rotated = {
      AccessKeyId: 'KEYSTOREMAINTROTATED2345',
      RawSecretAccessKey: randomBytes(32).toString('base64'),
    };
    const kms = kmsClientProvider({ endpoint: env.sim.url, credentials: TEST_CREDENTIALS })({
      region: REGION,
    });
    await kms.send(
      new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, XksProxyAuthenticationCredential: rotated }),
    );
    await env.temporal.client.workflow
      .getHandle(`keystore-maint/${REGION}/${id}`)
      .executeUpdate(endWindowNowUpdate, { args: [{ by: 'oncall@example.com' }] });

    // The worker still has the old pair: the run holds, says why, and never connects.
    const waiting = await holding(id, 'the run to hold for the credential');
    expect(waiting.readiness?.last?.probes[0]).toMatchObject({ probe: 'xksHealth', status: 'error' });
    expect(waiting.readiness?.last?.summary).toMatch(/the credential was rotated on one side only/);
    expect(waiting.readiness?.last?.probes[0]?.evidence).toMatchObject({
      storeAccessKeyId: rotated.AccessKeyId,
      workerAccessKeyId: ACCESS_KEY_ID,
    });
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await connectCalls(id)).toEqual([]);

    // The worker's mounted files get the new pair: no restart, the next check signs with it.
    writeFileSync(rotatingSecretFile, rotated.RawSecretAccessKey);
    writeFileSync(rotatingKeyFile, rotated.AccessKeyId);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
    expect(result.readiness?.last?.probes[0]?.status).toBe('healthy');
    expect(JSON.stringify(result)).not.toContain(rotated.RawSecretAccessKey);
  }, 90_000);
});

describe('xksHealth when the worker cannot reach a proxy behind a VPC endpoint service', () => {
  // KMS reaches the proxy through the VPC endpoint service (the simulator answers it as healthy);
  // the worker's configured endpoint refuses connections.
  const vpcProbe = (extra: Record<string, unknown> = {}) => ({
    xksHealth: { proxy: 'vpc-xks', ...extra },
    checkEvery: '1s',
    timeout: '2s',
  });

  it('says "unreachable from the worker", not unhealthy, and by default holds without a Connect until forced', async () => {
    const id = await xksStore('VPC_ENDPOINT_SERVICE');
    const refused = await outcomeOf(await env.start({ ...env.request(id), probes: vpcProbe() }));
    expect(refused.outcome).toBe('FAILED');
    expect(refused.readiness?.preflight?.probes[0]).toMatchObject({
      probe: 'xksHealth',
      status: 'unreachable',
    });
    expect(refused.message).toMatch(/unreachable from the worker \(ECONNREFUSED/);
    expect(refused.message).toMatch(/VPC_ENDPOINT_SERVICE connectivity/);
    expect(refused.message).not.toMatch(/unhealthy/);
    expect(
      (await callsFor(env.control, id)).filter((c) => c.operation !== 'DescribeCustomKeyStores'),
    ).toEqual([]);

    const handle = await env.start({
      ...env.request(id),
      window: { duration: '1s' },
      probes: { ...vpcProbe(), allowUnhealthyAtStart: true },
    });
    const waiting = await holding(id, 'the hold before the connect');
    expect(waiting.readiness?.last?.probes[0]?.status).toBe('unreachable');
    const evidence = waiting.readiness?.last?.probes[0]?.evidence;
    expect(evidence?.connectivity).toBe('VPC_ENDPOINT_SERVICE');
    expect(evidence?.vpcEndpointServiceName).toMatch(
      /^com\.amazonaws\.vpce\.us-east-1\.vpce-svc-[0-9a-f]{17}$/,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await connectCalls(id)).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');

    const runHandle = env.temporal.client.workflow.getHandle(`keystore-maint/${REGION}/${id}`);
    await runHandle.executeUpdate(endWindowNowUpdate, { args: [{ by: 'oncall@example.com', force: true }] });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
  }, 90_000);

  it('connects without holding when the request says "ifUnreachable": "connect", and audits what the probe saw', async () => {
    const id = await xksStore('VPC_ENDPOINT_SERVICE');
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        window: { duration: '1s' },
        probes: vpcProbe({ ifUnreachable: 'connect' }),
      }),
    );
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
    expect(result.readiness?.preflight).toMatchObject({ ready: true });
    expect(result.readiness?.last?.probes[0]?.status).toBe('unreachable');
    const actions = result.events.map((e) => e.action);
    expect(actions).not.toContain('probe.notReady');
    const ready = result.events.find((e) => e.action === 'probe.ready');
    expect(JSON.stringify(ready?.detail)).toMatch(/unreachable from the worker/);
    expect(actions.indexOf('probe.ready')).toBeLessThan(actions.indexOf('kms.connect'));
  }, 90_000);
});

describe('cloudHsmCluster before the reconnect', () => {
  async function cloudHsmStore(): Promise<{ id: string; clusterId: string; hsms: string[] }> {
    const id = await connectedStore(env.control, 'AWS_CLOUDHSM');
    const clusterId = (await env.control.getStore(id)).CloudHsmClusterId ?? '';
    const cluster = await env.control.getCluster(clusterId);
    return { id, clusterId, hsms: cluster.Hsms.map((h) => h.HsmId) };
  }

  it('holds while the cluster has no ACTIVE HSM, then connects once', async () => {
    const { id, clusterId, hsms } = await cloudHsmStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '2s' },
      probes: { cloudHsmCluster: { minActiveHsms: 1 }, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    for (const hsm of hsms) await env.control.setHsmState(clusterId, hsm, 'DEGRADED');
    const waiting = await holding(id, 'the hold for the cluster');
    expect(waiting.readiness?.last?.summary).toMatch(/0 of 2 HSMs ACTIVE/);
    expect(waiting.readiness?.last?.probes[0]?.evidence).toMatchObject({
      clusterState: 'ACTIVE',
      activeHsms: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await connectCalls(id)).toEqual([]);

    await env.control.setHsmState(clusterId, hsms[0] ?? '', 'ACTIVE');
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
    // USER_LOGGED_IN and friends cannot be probed: the evidence says so every time.
    expect(JSON.stringify(result.readiness?.last?.probes[0]?.evidence)).toMatch(/USER_LOGGED_IN/);
  }, 90_000);

  it('a worker SIGKILLed during the hold: the restarted worker holds on, no Connect, then connects once', async () => {
    const { id, clusterId, hsms } = await cloudHsmStore();
    await withKillableWorker(env, async (worker) => {
      const handle = await env.start({
        ...env.request(id),
        window: { duration: '2s' },
        // A short probe timeout keeps the heartbeat timeout, and so the wait for a lost worker, short.
        probes: { cloudHsmCluster: {}, checkEvery: '1s', timeout: '2s' },
      });
      await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
      for (const hsm of hsms) await env.control.setHsmState(clusterId, hsm, 'DEGRADED');
      await holding(id, 'the hold for the cluster');

      await worker.killAndRestart();
      const before = await callCount(env.control, 'DescribeClusters');
      // Once Temporal sees the lost heartbeat, the new worker asks the cluster again, and holds on.
      await eventually(
        async () => (await callCount(env.control, 'DescribeClusters')) > before + 1,
        'the new worker to ask again',
        90_000,
      );
      expect((await status(id)).readiness?.waiting).toBeDefined();
      expect(await connectCalls(id)).toEqual([]);
      expect((await env.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');

      await env.control.setHsmState(clusterId, hsms[0] ?? '', 'ACTIVE');
      const result = await outcomeOf(handle);
      expect(result.outcome).toBe('COMPLETED');
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
      expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
    });
  }, 180_000);

  it('ends NEEDS_ATTENTION, with no Connect, when the cluster never gets an ACTIVE HSM', async () => {
    const { id, clusterId, hsms } = await cloudHsmStore();
    const handle = await env.start({
      ...env.request(id),
      window: { duration: '1s' },
      maxWindow: '5s',
      probes: { cloudHsmCluster: {}, checkEvery: '1s' },
    });
    await eventually(async () => (await status(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    for (const hsm of hsms) await env.control.setHsmState(clusterId, hsm, 'DELETED');
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.message).toMatch(/0 of 2 HSMs ACTIVE/);
    expect(await connectCalls(id)).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');
    expect(await callCount(env.control, 'DescribeClusters')).toBeGreaterThan(2);
  }, 90_000);
});

describe('probes and the type of store', () => {
  it('a fleet template naming both probes gives each store the one for its type, and the XKS store waits for its proxy', async () => {
    const xks = await xksStore();
    const hsm = await connectedStore(env.control, 'AWS_CLOUDHSM');
    const base = fleetRequest();
    const client = fleetClient(env);
    const { workflowId } = await client.start(
      fleetRequest({
        stores: [xks, hsm],
        maxConcurrency: 2,
        request: {
          ...base.request,
          window: { duration: '2s' },
          probes: { xksHealth: { proxy: 'test-xks' }, cloudHsmCluster: {}, checkEvery: '1s' },
        },
      }),
      { name: uniqueFleetName() },
    );
    await eventually(
      async () => (await status(xks).catch(() => undefined))?.phase === 'IN_WINDOW',
      'the XKS store in its window',
    );
    await env.control.setXksProxyHealth(xks, allUnavailable);
    await holding(xks, 'the XKS store to hold');
    expect(await connectCalls(xks)).toEqual([]);

    await env.control.resetXksProxyHealth(xks);
    const result = await client.result(workflowId);
    expect(result.outcome).toBe('COMPLETED');
    for (const id of [xks, hsm]) {
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
      expect((await connectCalls(id)).map((c) => c.outcome)).toEqual(['ok']);
    }
    expect((await status(xks)).readiness?.last?.probes.map((p) => p.probe)).toEqual(['xksHealth']);
    const hsmReadiness = (await status(hsm)).readiness;
    expect(hsmReadiness?.last?.probes.map((p) => p.probe)).toEqual(['cloudHsmCluster']);
    expect(hsmReadiness?.last?.probes[0]?.evidence.clusterId).toBe(
      (await env.control.getStore(hsm)).CloudHsmClusterId,
    );
  }, 120_000);

  it('a request whose only probe is for the other type of store is refused before anything is touched', async () => {
    const hsm = await connectedStore(env.control, 'AWS_CLOUDHSM');
    const result = await outcomeOf(
      await env.start({ ...env.request(hsm), probes: { xksHealth: { proxy: 'test-xks' } } }),
    );
    expect(result.outcome).toBe('FAILED');
    expect(result.failure?.type).toBe('PreflightRefused');
    expect(result.message).toMatch(
      /the store is AWS_CLOUDHSM and the request has no probe for it; add "cloudHsmCluster"/,
    );
    expect(
      (await callsFor(env.control, hsm)).filter((c) => c.operation !== 'DescribeCustomKeyStores'),
    ).toEqual([]);
    expect((await env.control.getStore(hsm)).ConnectionState).toBe('CONNECTED');
  }, 60_000);
});
