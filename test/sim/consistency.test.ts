/**
 * Eventual consistency: for `consistencyLagMs` after a change, DescribeCustomKeyStores shows the
 * previous ConnectionState (with its ConnectionErrorCode); new stores are visible at once; state
 * rules, keys and the control API use the true state.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EncryptCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { CLOUDHSM_CREATE, clusterId, kmsError, useSimulator, waitFor } from './helpers';

const LAG = 1000;
// CONNECTING stays visible for CONNECT ms: long enough that polling cannot miss it on a busy machine.
const CONNECT = 600;
const h = useSimulator({ connectDelayMs: CONNECT, disconnectDelayMs: 0, consistencyLagMs: LAG, quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

async function described(id: string) {
  const { CustomKeyStores } = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  const store = CustomKeyStores?.[0];
  if (!store) throw new Error(`store ${id} missing`);
  return store;
}

describe('eventual consistency of DescribeCustomKeyStores', () => {
  it('shows each state only after the lag, in order, behind the true state', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    const connectedAt = Date.now();
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await described(id)).ConnectionState).toBe('DISCONNECTED');
    const details = await h.control.getStore(id);
    expect(details).toMatchObject({ ConnectionState: 'CONNECTING', visibleConnectionState: 'DISCONNECTED' });

    const seen: string[] = [];
    let trueStateAheadOfDescribe = false;
    await waitFor(
      async () => {
        const [visible, truth] = await Promise.all([described(id), h.control.getStore(id)]);
        const state = visible.ConnectionState ?? '';
        if (seen[seen.length - 1] !== state) seen.push(state);
        if (truth.ConnectionState === 'CONNECTED' && state !== 'CONNECTED') trueStateAheadOfDescribe = true;
        return state;
      },
      (state) => state === 'CONNECTED',
      { timeoutMs: 5000 },
    );
    expect(seen).toEqual(['DISCONNECTED', 'CONNECTING', 'CONNECTED']);
    expect(trueStateAheadOfDescribe).toBe(true);
    // CONNECTED became true after the connect delay and visible a lag later.
    expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(CONNECT + LAG - 20);
  });

  it('shows the previous FAILED state with its error code after a disconnect', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'FAILED',
      ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT',
      consistencyLagMs: 800,
    });
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await h.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');
    expect(await described(id)).toMatchObject({
      ConnectionState: 'FAILED',
      ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT',
    });
    const later = await waitFor(
      () => described(id),
      (store) => store.ConnectionState !== 'FAILED',
    );
    expect(later.ConnectionState).toBe('DISCONNECTED');
    expect(later.ConnectionErrorCode).toBeUndefined();
  });

  it('shows a new store at once', async () => {
    const { CustomKeyStoreId } = await h.kms.send(
      new CreateCustomKeyStoreCommand({
        ...CLOUDHSM_CREATE,
        CustomKeyStoreName: 'fresh',
        CloudHsmClusterId: clusterId(),
      }),
    );
    expect((await described(CustomKeyStoreId ?? '')).ConnectionState).toBe('DISCONNECTED');
    const seeded = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect((await described(seeded.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
  });

  it('applies the state rules to the true state, not to what Describe shows', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'FAILED',
      ConnectionErrorCode: 'INTERNAL_ERROR',
    });
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await described(id)).ConnectionState).toBe('FAILED');
    // Describe still says FAILED (where Connect is refused), but the store is DISCONNECTED.
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await h.control.getStore(id)).ConnectionState).toBe('CONNECTING');
  });

  it('makes keys Unavailable as soon as the store truly disconnects', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const key = await h.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await described(id)).ConnectionState).toBe('CONNECTED');
    const metadata = (await h.kms.send(new DescribeKeyCommand({ KeyId: key.KeyMetadata?.KeyId })))
      .KeyMetadata;
    expect(metadata?.KeyState).toBe('Unavailable');
    const error = await kmsError(
      h.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata?.KeyId, Plaintext: Buffer.from('data') })),
    );
    expect(error.name).toBe('KMSInvalidStateException');
  });
});
