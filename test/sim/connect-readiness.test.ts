/**
 * ConnectCustomKeyStore consults the backing CloudHSM cluster or XKS proxy, as KMS does: through
 * the real `@aws-sdk/client-kms`, with the cluster and the proxy steered through the control API.
 * The outcome is decided when the connect delay runs out; injected connect outcomes win; a
 * connected store stays connected whatever happens to its backing afterwards.
 */
import { ConnectCustomKeyStoreCommand, DisconnectCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import type { SimStoreInput, SimXksProxyPatch } from '../../src/sim';
import { kmsError, useSimulator, waitFor } from './helpers';

const h = useSimulator({ consistencyLagMs: 0, quotaRps: 0, storeLimit: 0 });

async function disconnectedStore(input: Omit<SimStoreInput, 'ConnectionState'>, connectDelayMs = 50) {
  return h.control.createStore({ ...input, ConnectionState: 'DISCONNECTED', connectDelayMs });
}

/** Connects and waits for the connect to end; returns the true state and code. */
async function connect(storeId: string): Promise<[string, string | undefined]> {
  await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
  const store = await waitFor(
    () => h.control.getStore(storeId),
    (s) => s.ConnectionState !== 'CONNECTING',
  );
  return [store.ConnectionState, store.ConnectionErrorCode];
}

async function disconnect(storeId: string): Promise<void> {
  await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: storeId }));
  await waitFor(
    () => h.control.getStore(storeId),
    (s) => s.ConnectionState === 'DISCONNECTED',
  );
}

describe('CloudHSM key stores', () => {
  it('connect to their healthy default cluster', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect(await connect(store.CustomKeyStoreId)).toEqual(['CONNECTED', undefined]);
  });

  it('fail with CLUSTER_NOT_FOUND when the cluster is gone', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    await h.control.deleteCluster(store.CloudHsmClusterId ?? '');
    expect(await connect(store.CustomKeyStoreId)).toEqual(['FAILED', 'CLUSTER_NOT_FOUND']);
  });

  it('are refused with CloudHsmClusterNotActiveException while the cluster is not ACTIVE', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const clusterId = store.CloudHsmClusterId ?? '';
    for (const state of ['DEGRADED', 'UNINITIALIZED', 'UPDATE_IN_PROGRESS'] as const) {
      await h.control.setClusterState(clusterId, state);
      const error = await kmsError(
        h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId })),
      );
      expect(error).toMatchObject({ name: 'CloudHsmClusterNotActiveException', status: 400 });
      expect(error.message).toContain(state);
      expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('DISCONNECTED');
    }
    await h.control.setClusterState(clusterId, 'ACTIVE');
    expect(await connect(store.CustomKeyStoreId)).toEqual(['CONNECTED', undefined]);
  });

  it('fail with INSUFFICIENT_CLOUDHSM_HSMS without an ACTIVE HSM, and connect with one', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const clusterId = store.CloudHsmClusterId ?? '';
    const [a, b] = (await h.control.getCluster(clusterId)).Hsms;
    await h.control.setHsmState(clusterId, a?.HsmId ?? '', 'DEGRADED');
    await h.control.removeHsm(clusterId, b?.HsmId ?? '');
    expect(await connect(store.CustomKeyStoreId)).toEqual(['FAILED', 'INSUFFICIENT_CLOUDHSM_HSMS']);
    await disconnect(store.CustomKeyStoreId);
    await h.control.setHsmState(clusterId, a?.HsmId ?? '', 'ACTIVE');
    expect(await connect(store.CustomKeyStoreId)).toEqual(['CONNECTED', undefined]);
  });

  it('are decided when the connect delay runs out, not when it starts', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' }, 400);
    const clusterId = store.CloudHsmClusterId ?? '';
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    for (const hsm of (await h.control.getCluster(clusterId)).Hsms) {
      await h.control.setHsmState(clusterId, hsm.HsmId, 'DELETE_IN_PROGRESS');
    }
    const ended = await waitFor(
      () => h.control.getStore(store.CustomKeyStoreId),
      (s) => s.ConnectionState !== 'CONNECTING',
    );
    expect([ended.ConnectionState, ended.ConnectionErrorCode]).toEqual([
      'FAILED',
      'INSUFFICIENT_CLOUDHSM_HSMS',
    ]);
  });

  it('let an injected connect outcome win over the cluster', async () => {
    const store = await disconnectedStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      connectOutcome: { failWith: 'USER_LOGGED_IN', times: 2 },
    });
    const clusterId = store.CloudHsmClusterId ?? '';
    await h.control.deleteCluster(clusterId);
    expect(await connect(store.CustomKeyStoreId)).toEqual(['FAILED', 'USER_LOGGED_IN']);
    await disconnect(store.CustomKeyStoreId);
    await h.control.putCluster({ ClusterId: clusterId, State: 'DEGRADED' });
    expect(await connect(store.CustomKeyStoreId)).toEqual(['FAILED', 'USER_LOGGED_IN']);
  });

  it('stay CONNECTED when the cluster goes away afterwards', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect(await connect(store.CustomKeyStoreId)).toEqual(['CONNECTED', undefined]);
    await h.control.deleteCluster(store.CloudHsmClusterId ?? '');
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
  });
});

describe('external key stores', () => {
  const cases: [string, SimXksProxyPatch, [string, string | undefined]][] = [
    ['unreachable', { failure: { mode: 'unreachable' } }, ['FAILED', 'XKS_PROXY_NOT_REACHABLE']],
    ['too slow for KMS', { failure: { mode: 'timeout', delayMs: 250 } }, ['FAILED', 'XKS_PROXY_TIMED_OUT']],
    ['slow but in time', { failure: { mode: 'timeout', delayMs: 100 } }, ['CONNECTED', undefined]],
    ['answering junk', { failure: { mode: 'invalidResponse' } }, ['FAILED', 'XKS_PROXY_INVALID_RESPONSE']],
    ['denying access', { failure: { mode: 'accessDenied' } }, ['FAILED', 'XKS_PROXY_ACCESS_DENIED']],
    [
      'with no ACTIVE external key manager',
      { ekmFleetDetails: [{ healthStatus: 'DEGRADED' }, { healthStatus: 'UNAVAILABLE' }] },
      ['FAILED', 'XKS_PROXY_NOT_REACHABLE'],
    ],
    [
      'with one ACTIVE external key manager of three',
      {
        ekmFleetDetails: [
          { healthStatus: 'UNAVAILABLE' },
          { healthStatus: 'ACTIVE' },
          { healthStatus: 'DEGRADED' },
        ],
      },
      ['CONNECTED', undefined],
    ],
  ];

  for (const [name, patch, expected] of cases) {
    it(`behind a proxy ${name}: ${expected.filter(Boolean).join(' ')}`, async () => {
      const store = await disconnectedStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
      await h.control.setXksProxyHealth(store.CustomKeyStoreId, patch);
      expect(await connect(store.CustomKeyStoreId)).toEqual(expected);
    });
  }

  it('connect behind a healthy proxy, and stay CONNECTED when it fails afterwards', async () => {
    const store = await disconnectedStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
    expect(await connect(store.CustomKeyStoreId)).toEqual(['CONNECTED', undefined]);
    await h.control.setXksProxyHealth(store.CustomKeyStoreId, { failure: { mode: 'unreachable' } });
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
  });

  it('let an injected connect outcome win over the proxy', async () => {
    const store = await disconnectedStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      connectOutcome: { failWith: 'INVALID_CREDENTIALS' },
    });
    await h.control.setXksProxyHealth(store.CustomKeyStoreId, { failure: { mode: 'unreachable' } });
    expect(await connect(store.CustomKeyStoreId)).toEqual(['FAILED', 'INVALID_CREDENTIALS']);
  });
});
