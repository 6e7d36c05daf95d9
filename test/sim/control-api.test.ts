/** Options, profiles, the control API's shapes and errors, and a clean stop(). */
import { DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { request } from 'node:http';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  SimulatorControl,
  SimulatorControlError,
  SimulatorOptionsError,
  startKmsSimulator,
  type SimulatorOptions,
} from '../../src/sim';
import { kmsClient, useSimulator } from './helpers';

const h = useSimulator({ quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

async function controlFetch(path: string, init: RequestInit = {}) {
  const response = await fetch(`${h.sim.url}${path}`, init);
  const json: unknown = await response.json();
  return { status: response.status, json, requestId: response.headers.get('x-amzn-requestid') };
}

describe('startKmsSimulator options', () => {
  it.each([
    ['port', { port: -1 }],
    ['port', { port: 70000 }],
    ['account', { account: '1234' }],
    ['region', { region: 'Mars' }],
    ['profile', { profile: 'slow' }],
    ['connectDelayMs', { connectDelayMs: -5 }],
    ['consistencyLagMs', { consistencyLagMs: 1.5 }],
    ['quotaRps', { quotaRps: -1 }],
    ['log', { log: 'stdout' }],
    ['colour', { colour: 'red' }],
  ])('rejects a bad %s, naming it', async (option, options) => {
    const error = await startKmsSimulator(options as SimulatorOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorOptionsError);
    expect(error).toMatchObject({ option });
    expect(String(error)).toContain(`"${option}"`);
  });

  it('fails clearly when the port is taken', async () => {
    await expect(startKmsSimulator({ port: h.sim.port })).rejects.toThrow(/EADDRINUSE/);
  });

  it('uses CloudHSM-like minutes in the realistic profile, overridable globally and per store', async () => {
    const sim = await startKmsSimulator({ port: 0, profile: 'realistic', disconnectDelayMs: 5000 });
    try {
      const control = new SimulatorControl(sim.url);
      const hsm = await control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', consistencyLagMs: 0 });
      const xks = await control.createStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
      expect((await control.getStore(hsm.CustomKeyStoreId)).timings).toEqual({
        connectDelayMs: 12 * 60_000,
        disconnectDelayMs: 5000,
        consistencyLagMs: 0,
      });
      expect((await control.getStore(xks.CustomKeyStoreId)).timings).toEqual({
        connectDelayMs: 3 * 60_000,
        disconnectDelayMs: 5000,
        consistencyLagMs: 5000,
      });
      expect(await control.config()).toMatchObject({
        profile: 'realistic',
        quotaRps: 5,
        overrides: { disconnectDelayMs: 5000 },
      });
    } finally {
      await sim.stop();
    }
  });

  it('uses the fast profile by default', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect((await h.control.getStore(store.CustomKeyStoreId)).timings).toEqual({
      connectDelayMs: 2000,
      disconnectDelayMs: 1000,
      consistencyLagMs: 500,
    });
  });
});

describe('control API', () => {
  it('answers health and shows a store as Describe lists it, plus details', async () => {
    expect(await h.control.health()).toEqual({ ok: true });
    const created = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'shown',
      connectDelayMs: 1234,
    });
    expect(Object.keys(created).sort()).toEqual([
      'CloudHsmClusterId',
      'ConnectionState',
      'CreationDate',
      'CustomKeyStoreId',
      'CustomKeyStoreName',
      'CustomKeyStoreType',
      'TrustAnchorCertificate',
    ]);
    expect(created).toMatchObject({
      CustomKeyStoreName: 'shown',
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'CONNECTED',
    });
    expect(created.CustomKeyStoreId).toMatch(/^cks-[0-9a-f]{17}$/);
    expect(new Date(created.CreationDate).toISOString()).toBe(created.CreationDate);
    expect(created.CloudHsmClusterId).toMatch(/^cluster-[2-7a-z]{11}$/);
    const { CustomKeyStores } = await h.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(CustomKeyStores?.[0]).toMatchObject({ ...created, CreationDate: new Date(created.CreationDate) });
    const details = await h.control.getStore(created.CustomKeyStoreId);
    expect(details).toMatchObject({
      ...created,
      visibleConnectionState: 'CONNECTED',
      timings: { connectDelayMs: 1234, disconnectDelayMs: 1000, consistencyLagMs: 500 },
      timingOverrides: { connectDelayMs: 1234 },
      pendingTransition: null,
      connectOutcome: null,
      keyCount: 0,
    });
  });

  it('patches store timings and the global configuration', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
    const patched = await h.control.patchStore(store.CustomKeyStoreId, {
      connectDelayMs: 10,
      disconnectDelayMs: 20,
      consistencyLagMs: 30,
      connectOutcome: { failWith: 'XKS_PROXY_ACCESS_DENIED', times: 3 },
    });
    expect(patched.timings).toEqual({ connectDelayMs: 10, disconnectDelayMs: 20, consistencyLagMs: 30 });
    expect(patched.connectOutcome).toEqual({ failWith: 'XKS_PROXY_ACCESS_DENIED', times: 3 });
    const cleared = await h.control.patchStore(store.CustomKeyStoreId, {
      connectDelayMs: null,
      connectOutcome: null,
    });
    expect(cleared.timings.connectDelayMs).toBe(2000);
    expect(cleared.connectOutcome).toBeNull();
    await h.control.patchConfig({ connectDelayMs: 777, quotaRps: 9 });
    expect((await h.control.getStore(store.CustomKeyStoreId)).timings.connectDelayMs).toBe(777);
    expect(await h.control.config()).toMatchObject({ quotaRps: 9, overrides: { connectDelayMs: 777 } });
    await h.control.reset();
    expect(await h.control.config()).toMatchObject({ quotaRps: 0, profile: 'fast' });
  });

  it.each([
    ['CustomKeyStoreType', { CustomKeyStoreType: 'FILE_CABINET' }],
    ['ConnectionErrorCode', { CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionState: 'FAILED' }],
    ['ConnectionErrorCode', { CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionErrorCode: 'NETWORK_ERRORS' }],
    [
      'ConnectionErrorCode',
      {
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        ConnectionState: 'FAILED',
        ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT',
      },
    ],
    ['ConnectionState', { CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionState: 'connected' }],
    ['connectDelayMs', { CustomKeyStoreType: 'AWS_CLOUDHSM', connectDelayMs: -1 }],
    [
      'CloudHsmClusterId',
      { CustomKeyStoreType: 'EXTERNAL_KEY_STORE', CloudHsmClusterId: 'cluster-abcdefghijk' },
    ],
    [
      'connectOutcome.failWith',
      { CustomKeyStoreType: 'AWS_CLOUDHSM', connectOutcome: { failWith: 'XKS_PROXY_TIMED_OUT' } },
    ],
    ['nickname', { CustomKeyStoreType: 'AWS_CLOUDHSM', nickname: 'x' }],
  ])('refuses a malformed store with a 400 naming %s', async (field, body) => {
    const { status, json } = await controlFetch('/_sim/stores', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: 'InvalidRequest', field });
  });

  it('answers bad JSON, unknown routes, unknown ids and wrong methods properly', async () => {
    expect(await controlFetch('/_sim/stores', { method: 'POST', body: '{' })).toMatchObject({
      status: 400,
      json: { error: 'InvalidJson' },
    });
    expect((await controlFetch('/_sim/nothing')).status).toBe(404);
    expect(await controlFetch('/_sim/stores/cks-00000000000000000')).toMatchObject({
      status: 404,
      json: { error: 'StoreNotFound' },
    });
    const patchMissing = await h.control
      .patchStore('cks-00000000000000000', { connectDelayMs: 1 })
      .catch((e: unknown) => e);
    expect(patchMissing).toBeInstanceOf(SimulatorControlError);
    expect(patchMissing).toMatchObject({ status: 404 });
    expect((await controlFetch('/_sim/health', { method: 'DELETE' })).status).toBe(405);
    expect((await controlFetch('/_sim/health')).requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports uniqueness clashes as 409 naming the field', async () => {
    await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', CustomKeyStoreName: 'twin' });
    const error = await h.control
      .createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', CustomKeyStoreName: 'twin' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, field: 'CustomKeyStoreName' });
  });
});

describe('stop()', () => {
  it('closes keep-alive connections, clears timers and in-flight latency, and is idempotent', async () => {
    const sim = await startKmsSimulator({ port: 0, connectDelayMs: 60_000 });
    const control = new SimulatorControl(sim.url);
    const store = await control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'CONNECTING',
    });
    expect((await control.getStore(store.CustomKeyStoreId)).pendingTransition).not.toBeNull();
    await control.addFault({ operation: 'DescribeCustomKeyStores', latencyMs: 60_000 });
    const kms = kmsClient(sim.url);
    const slow = kms.send(new DescribeCustomKeyStoresCommand({})).catch((e: unknown) => e);
    // A keep-alive socket left open by a plain HTTP client.
    const agentSocketClosed = new Promise<void>((resolve) => {
      const req = request(`${sim.url}/_sim/health`, { headers: { connection: 'keep-alive' } }, (res) => {
        res.resume();
        res.on('end', () => req.socket?.on('close', () => resolve()));
      });
      req.end();
    });
    await waitUntilFaultTaken(control);
    const started = Date.now();
    await Promise.all([sim.stop(), sim.stop()]);
    await agentSocketClosed;
    await slow;
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(control.health()).rejects.toThrow();
    kms.destroy();
  });
});

/** The slow request is inside the simulator once its one-shot fault is used up. */
async function waitUntilFaultTaken(control: SimulatorControl): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await control.faults()).length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the slow request never reached the simulator');
}
