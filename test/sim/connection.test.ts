/**
 * The connection state machine: connect and disconnect with their delays, FAILED connects with each
 * ConnectionErrorCode on demand, keys becoming Unavailable and coming back, seeded transient states.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { CONNECTION_ERROR_CODES_BY_TYPE, SimulatorControlError } from '../../src/sim';
import { kmsError, useSimulator, waitFor } from './helpers';

const h = useSimulator({ connectDelayMs: 500, disconnectDelayMs: 500, consistencyLagMs: 0, quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

async function describeStore(id: string) {
  const { CustomKeyStores } = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  const store = CustomKeyStores?.[0];
  if (!store) throw new Error(`store ${id} missing from Describe`);
  return store;
}

function waitForState(id: string, state: string, timeoutMs = 5000) {
  return waitFor(
    () => describeStore(id),
    (store) => store.ConnectionState === state,
    { timeoutMs },
  );
}

describe('connecting and disconnecting', () => {
  it('connect answers at once; the store goes CONNECTING, then CONNECTED after the connect delay', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
      connectDelayMs: 1000,
    });
    const before = Date.now();
    const response = await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect(response.$metadata.httpStatusCode).toBe(200);
    const details = await h.control.getStore(id);
    expect(details.ConnectionState).toBe('CONNECTING');
    expect(details.pendingTransition).toMatchObject({ to: 'CONNECTED' });
    expect(details.pendingTransition?.inMs).toBeLessThanOrEqual(1000);
    expect((await describeStore(id)).ConnectionState).toBe('CONNECTING');
    await waitForState(id, 'CONNECTED');
    expect(Date.now() - before).toBeGreaterThanOrEqual(1000);
  });

  it('disconnect goes DISCONNECTING, then DISCONNECTED after the disconnect delay', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      disconnectDelayMs: 1000,
    });
    const before = Date.now();
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await describeStore(id)).ConnectionState).toBe('DISCONNECTING');
    await waitForState(id, 'DISCONNECTED');
    expect(Date.now() - before).toBeGreaterThanOrEqual(1000);
  });

  it('a disconnect while CONNECTING cancels the connect', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
      disconnectDelayMs: 50,
    });
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await waitForState(id, 'DISCONNECTED');
    // Past the original connect's due time, it must still be disconnected.
    await waitFor(
      () => h.control.getStore(id),
      (store) => store.pendingTransition === null,
    );
    expect((await h.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');
  });

  it('seeded transient states move on by themselves', async () => {
    const connecting = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'CONNECTING',
      connectDelayMs: 30,
    });
    const disconnecting = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTING',
      disconnectDelayMs: 30,
    });
    await waitForState(connecting.CustomKeyStoreId, 'CONNECTED');
    await waitForState(disconnecting.CustomKeyStoreId, 'DISCONNECTED');
  });
});

describe('connect outcomes', () => {
  const cases = Object.entries(CONNECTION_ERROR_CODES_BY_TYPE).flatMap(([type, codes]) =>
    codes.map((code) => [type as 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE', code] as const),
  );

  it.each(cases)('a %s store fails to connect with %s on demand', async (type, code) => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: type,
      ConnectionState: 'DISCONNECTED',
      connectDelayMs: 20,
    });
    const patched = await h.control.patchStore(id, { connectOutcome: { failWith: code } });
    expect(patched.connectOutcome).toEqual({ failWith: code, times: 1 });
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    // The failure comes after the connect delay, through CONNECTING.
    const failed = await waitForState(id, 'FAILED');
    expect(failed.ConnectionErrorCode).toBe(code);
    expect((await h.control.getStore(id)).connectOutcome).toBeNull();
  });

  it('fails the next K connects that start a connection, then connects', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
      connectDelayMs: 200,
      disconnectDelayMs: 10,
    });
    await h.control.patchStore(id, { connectOutcome: { failWith: 'USER_LOGGED_IN', times: 2 } });
    for (let attempt = 1; attempt <= 2; attempt++) {
      await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      // A second connect while CONNECTING starts nothing and uses up no failure.
      await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      expect((await h.control.getStore(id)).connectOutcome).toEqual(
        attempt === 1 ? { failWith: 'USER_LOGGED_IN', times: 1 } : null,
      );
      expect((await waitForState(id, 'FAILED')).ConnectionErrorCode).toBe('USER_LOGGED_IN');
      await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
      const disconnected = await waitForState(id, 'DISCONNECTED');
      expect(disconnected.ConnectionErrorCode).toBeUndefined();
    }
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await waitForState(id, 'CONNECTED');
  });

  it('refuses a ConnectionErrorCode that does not belong to the store type, naming the field', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    });
    const error = await h.control
      .patchStore(id, { connectOutcome: { failWith: 'CLUSTER_NOT_FOUND' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorControlError);
    expect(error).toMatchObject({ status: 400, field: 'connectOutcome.failWith' });
  });
});

describe('keys while the store is not connected', () => {
  it('are Unavailable, and return to their previous state on reconnect', async () => {
    const { CustomKeyStoreId: id } = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      connectDelayMs: 30,
      disconnectDelayMs: 30,
    });
    const enabled = await h.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    const disabled = await h.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    await h.kms.send(new DisableKeyCommand({ KeyId: disabled.KeyMetadata?.KeyId }));
    const keyState = async (keyId: string | undefined) =>
      (await h.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;

    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    // Already DISCONNECTING: not CONNECTED, so Unavailable.
    expect(await keyState(enabled.KeyMetadata?.KeyId)).toMatchObject({
      KeyState: 'Unavailable',
      Enabled: false,
    });
    await waitForState(id, 'DISCONNECTED');
    expect((await keyState(disabled.KeyMetadata?.KeyId))?.KeyState).toBe('Unavailable');
    const enableError = await kmsError(
      h.kms.send(new EnableKeyCommand({ KeyId: disabled.KeyMetadata?.KeyId })),
    );
    expect(enableError.name).toBe('KMSInvalidStateException');

    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    await waitForState(id, 'CONNECTED');
    expect(await keyState(enabled.KeyMetadata?.KeyId)).toMatchObject({ KeyState: 'Enabled', Enabled: true });
    expect(await keyState(disabled.KeyMetadata?.KeyId)).toMatchObject({
      KeyState: 'Disabled',
      Enabled: false,
    });
  });
});
