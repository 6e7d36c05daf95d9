/**
 * Every row of KMS-FACTS.md's "Which call is accepted in which state" table, for both store types:
 * each call in each of the five connection states, accepted or refused with
 * CustomKeyStoreInvalidStateException, and what an accepted call does to the state.
 */
import {
  ConnectCustomKeyStoreCommand,
  CreateKeyCommand,
  DeleteCustomKeyStoreCommand,
  DisconnectCustomKeyStoreCommand,
  UpdateCustomKeyStoreCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { kmsError, useSimulator } from './helpers';

// Transient states must not move on during a test: a minute is far longer than any test here.
const h = useSimulator({
  connectDelayMs: 60_000,
  disconnectDelayMs: 60_000,
  consistencyLagMs: 0,
  quotaRps: 0,
});

beforeEach(async () => {
  await h.control.reset();
});

type State = 'CONNECTED' | 'CONNECTING' | 'DISCONNECTED' | 'DISCONNECTING' | 'FAILED';
type StoreType = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';
const STATES: readonly State[] = ['CONNECTED', 'CONNECTING', 'DISCONNECTED', 'DISCONNECTING', 'FAILED'];
const TYPES: readonly StoreType[] = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'];

interface Row {
  call: string;
  accepted: readonly State[];
  send: (kms: KMSClient, id: string, type: StoreType) => Promise<unknown>;
  /** The true state after an accepted call, by the state it was made in. */
  after?: Partial<Record<State, State | 'gone'>>;
}

const ROWS: readonly Row[] = [
  {
    call: 'ConnectCustomKeyStore',
    accepted: ['DISCONNECTED', 'CONNECTED', 'CONNECTING'],
    send: (kms, id) => kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })),
    after: { DISCONNECTED: 'CONNECTING', CONNECTED: 'CONNECTED', CONNECTING: 'CONNECTING' },
  },
  {
    call: 'DisconnectCustomKeyStore',
    accepted: ['CONNECTED', 'CONNECTING', 'FAILED'],
    send: (kms, id) => kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id })),
    after: { CONNECTED: 'DISCONNECTING', CONNECTING: 'DISCONNECTING', FAILED: 'DISCONNECTING' },
  },
  {
    call: 'UpdateCustomKeyStore (settings)',
    accepted: ['DISCONNECTED'],
    send: (kms, id, type) =>
      kms.send(
        new UpdateCustomKeyStoreCommand(
          type === 'AWS_CLOUDHSM'
            ? { CustomKeyStoreId: id, KeyStorePassword: 'new-kmsuser-pass' }
            : { CustomKeyStoreId: id, XksProxyUriPath: '/rotated/kms/xks/v1' },
        ),
      ),
    after: { DISCONNECTED: 'DISCONNECTED' },
  },
  {
    call: 'UpdateCustomKeyStore (rename)',
    accepted: ['DISCONNECTED', 'CONNECTED'],
    send: (kms, id) =>
      kms.send(
        new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: id, NewCustomKeyStoreName: `renamed-${id}` }),
      ),
    after: { DISCONNECTED: 'DISCONNECTED', CONNECTED: 'CONNECTED' },
  },
  {
    call: 'DeleteCustomKeyStore',
    accepted: ['DISCONNECTED'],
    send: (kms, id) => kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: id })),
    after: { DISCONNECTED: 'gone' },
  },
  {
    call: 'CreateKey in the store',
    accepted: ['CONNECTED'],
    send: (kms, id, type) =>
      kms.send(
        new CreateKeyCommand(
          type === 'AWS_CLOUDHSM'
            ? { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }
            : { Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: id, XksKeyId: 'external-key-1' },
        ),
      ),
    after: { CONNECTED: 'CONNECTED' },
  },
];

const CASES = ROWS.flatMap((row) =>
  TYPES.flatMap((type) =>
    STATES.map((state) => ({ row, type, state, accepted: row.accepted.includes(state) })),
  ),
);

async function storeIn(type: StoreType, state: State): Promise<string> {
  const store = await h.control.createStore({
    CustomKeyStoreType: type,
    ConnectionState: state,
    ...(state === 'FAILED' ? { ConnectionErrorCode: 'NETWORK_ERRORS' } : {}),
  });
  expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe(state);
  return store.CustomKeyStoreId;
}

describe('state-acceptance table', () => {
  it.each(CASES.map((c) => [c.row.call, c.type, c.state, c.accepted ? 'accepted' : 'refused', c] as const))(
    '%s on a %s store in %s is %s',
    async (_call, type, state, _verdict, { row, accepted }) => {
      const id = await storeIn(type, state);
      if (!accepted) {
        const error = await kmsError(row.send(h.kms, id, type));
        expect(error.name).toBe('CustomKeyStoreInvalidStateException');
        expect(error.status).toBe(400);
        expect((await h.control.getStore(id)).ConnectionState).toBe(state);
        return;
      }
      await row.send(h.kms, id, type);
      const expected = row.after?.[state];
      if (expected === 'gone') {
        expect((await h.control.listStores()).map((s) => s.CustomKeyStoreId)).not.toContain(id);
      } else {
        expect((await h.control.getStore(id)).ConnectionState).toBe(expected);
      }
    },
  );

  it('keeps a FAILED store refusing Connect until it is disconnected first', async () => {
    const id = await storeIn('EXTERNAL_KEY_STORE', 'FAILED');
    expect(
      (await kmsError(h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id })))).name,
    ).toBe('CustomKeyStoreInvalidStateException');
    await h.control.patchStore(id, { disconnectDelayMs: 0 });
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await h.control.getStore(id)).ConnectionState).toBe('DISCONNECTED');
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    expect((await h.control.getStore(id)).ConnectionState).toBe('CONNECTING');
  });
});
