/** The state file (atomic writes, restart, transitions due while down) and the seed file. */
import {
  ConnectCustomKeyStoreCommand,
  CreateAliasCommand,
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  EncryptCommand,
} from '@aws-sdk/client-kms';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SimulatorControl,
  startKmsSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/sim';
import { CLOUDHSM_CREATE, clusterId, isRecord, kmsClient, waitFor } from './helpers';

let dir: string;
const running: RunningSimulator[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kms-sim-state-'));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: SimulatorOptions) {
  const sim = await startKmsSimulator({ port: 0, consistencyLagMs: 0, quotaRps: 0, ...options });
  running.push(sim);
  return { sim, kms: kmsClient(sim.url), control: new SimulatorControl(sim.url) };
}

async function stop(sim: RunningSimulator): Promise<void> {
  running.splice(running.indexOf(sim), 1);
  await sim.stop();
}

function readState(path: string): Record<string, unknown> {
  const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(json)) throw new Error('state file is not an object');
  return json;
}

/** Waits on the clock itself: the transition recorded before the stop must be due. */
async function untilPast(isoTime: string): Promise<void> {
  await waitFor(
    () => Promise.resolve(Date.now()),
    (now) => now > Date.parse(isoTime),
  );
}

describe('state file', () => {
  it('is written atomically after every change and restores the account after a restart', async () => {
    const stateFile = join(dir, 'state.json');
    const first = await start({ stateFile, connectDelayMs: 0 });
    const { CustomKeyStoreId: id = '' } = await first.kms.send(
      new CreateCustomKeyStoreCommand({
        ...CLOUDHSM_CREATE,
        CustomKeyStoreName: 'persisted',
        CloudHsmClusterId: clusterId(),
      }),
    );
    expect(JSON.stringify(readState(stateFile))).toContain(id);
    await first.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: id }));
    const key = await first.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }));
    const keyId = key.KeyMetadata?.KeyId ?? '';
    await first.kms.send(new CreateAliasCommand({ AliasName: 'alias/persisted', TargetKeyId: keyId }));
    const { CiphertextBlob } = await first.kms.send(
      new EncryptCommand({ KeyId: 'alias/persisted', Plaintext: Buffer.from('survives restarts') }),
    );
    expect(readdirSync(dir)).toEqual(['state.json']);
    await stop(first.sim);

    const second = await start({ stateFile });
    const { CustomKeyStores } = await second.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(CustomKeyStores).toHaveLength(1);
    expect(CustomKeyStores?.[0]).toMatchObject({
      CustomKeyStoreId: id,
      CustomKeyStoreName: 'persisted',
      ConnectionState: 'CONNECTED',
    });
    expect(
      (await second.kms.send(new DescribeKeyCommand({ KeyId: 'alias/persisted' }))).KeyMetadata?.KeyId,
    ).toBe(keyId);
    const { Plaintext } = await second.kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext ?? []).toString()).toBe('survives restarts');
    const another = await second.kms.send(new CreateKeyCommand({}));
    expect(another.KeyMetadata?.KeyId).not.toBe(keyId);
  });

  it('finishes a connect that came due while the simulator was down, with its pending outcome', async () => {
    const stateFile = join(dir, 'state.json');
    const first = await start({ stateFile, connectDelayMs: 150 });
    const ok = await first.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    const failing = await first.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTED',
      connectOutcome: { failWith: 'XKS_PROXY_NOT_REACHABLE' },
    });
    await first.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: ok.CustomKeyStoreId }));
    await first.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: failing.CustomKeyStoreId }));
    const pending = (await first.control.getStore(failing.CustomKeyStoreId)).pendingTransition;
    expect(pending).toMatchObject({ to: 'FAILED', ConnectionErrorCode: 'XKS_PROXY_NOT_REACHABLE' });
    await stop(first.sim);
    await untilPast(pending?.at ?? '');

    const second = await start({ stateFile });
    expect(await second.control.getStore(ok.CustomKeyStoreId)).toMatchObject({
      ConnectionState: 'CONNECTED',
      pendingTransition: null,
    });
    expect(await second.control.getStore(failing.CustomKeyStoreId)).toMatchObject({
      ConnectionState: 'FAILED',
      ConnectionErrorCode: 'XKS_PROXY_NOT_REACHABLE',
    });
  });

  it('continues a transition that is not yet due after a restart', async () => {
    const stateFile = join(dir, 'state.json');
    // Long enough to restart within it even on a busy machine.
    const first = await start({ stateFile, connectDelayMs: 1500 });
    const store = await first.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    await first.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    await stop(first.sim);
    const second = await start({ stateFile });
    expect((await second.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTING');
    await waitFor(
      () => second.control.getStore(store.CustomKeyStoreId),
      (s) => s.ConnectionState === 'CONNECTED',
    );
  });

  it('refuses to start on a corrupt state file instead of overwriting it', async () => {
    const stateFile = join(dir, 'state.json');
    writeFileSync(stateFile, '{"version": 1, "stores": "nope"');
    await expect(startKmsSimulator({ port: 0, stateFile })).rejects.toThrow(/state\.json is not valid JSON/);
    writeFileSync(stateFile, JSON.stringify({ version: 99 }));
    await expect(startKmsSimulator({ port: 0, stateFile })).rejects.toThrow(
      /not a keystore-maint simulator state file/,
    );
    expect(readFileSync(stateFile, 'utf8')).toBe(JSON.stringify({ version: 99 }));
  });
});

describe('seed file', () => {
  const seed = {
    stores: [
      {
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        CustomKeyStoreName: 'seeded-hsm',
        CustomKeyStoreId: 'cks-0123456789abcdef0',
      },
      {
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        CustomKeyStoreName: 'seeded-xks',
        ConnectionState: 'FAILED',
        ConnectionErrorCode: 'XKS_PROXY_TIMED_OUT',
      },
    ],
    keys: [
      {
        KeyId: '11111111-2222-4333-8444-555555555555',
        CustomKeyStoreName: 'seeded-hsm',
        Description: 'canary',
      },
    ],
    aliases: [{ AliasName: 'alias/canary', TargetKeyId: '11111111-2222-4333-8444-555555555555' }],
  };

  it('seeds stores, keys and aliases when there is no state, and not over existing state', async () => {
    const seedFile = join(dir, 'seed.json');
    const stateFile = join(dir, 'state.json');
    writeFileSync(seedFile, JSON.stringify(seed));
    const first = await start({ seedFile, stateFile });
    const { CustomKeyStores } = await first.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(
      CustomKeyStores?.map((s) => [s.CustomKeyStoreName, s.ConnectionState, s.ConnectionErrorCode]),
    ).toEqual([
      ['seeded-hsm', 'CONNECTED', undefined],
      ['seeded-xks', 'FAILED', 'XKS_PROXY_TIMED_OUT'],
    ]);
    const { KeyMetadata } = await first.kms.send(new DescribeKeyCommand({ KeyId: 'alias/canary' }));
    expect(KeyMetadata).toMatchObject({
      KeyId: seed.keys[0]?.KeyId,
      CustomKeyStoreId: 'cks-0123456789abcdef0',
      Description: 'canary',
    });
    await first.kms.send(new EncryptCommand({ KeyId: 'alias/canary', Plaintext: Buffer.from('x') }));

    await first.control.patchStore('cks-0123456789abcdef0', { ConnectionState: 'DISCONNECTED' });
    await stop(first.sim);
    const second = await start({ seedFile, stateFile });
    const stores = await second.control.listStores();
    expect(stores).toHaveLength(2);
    expect(stores.find((s) => s.CustomKeyStoreId === 'cks-0123456789abcdef0')?.ConnectionState).toBe(
      'DISCONNECTED',
    );
  });

  it('is applied again by reset', async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(seedFile, JSON.stringify(seed));
    const { control } = await start({ seedFile });
    await control.deleteStore('cks-0123456789abcdef0');
    expect(await control.listStores()).toHaveLength(1);
    await control.reset();
    expect((await control.listStores()).map((s) => s.CustomKeyStoreName)).toEqual([
      'seeded-hsm',
      'seeded-xks',
    ]);
  });

  it('is validated, naming the bad field', async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({ stores: [{ CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionState: 'FAILED' }] }),
    );
    await expect(startKmsSimulator({ port: 0, seedFile })).rejects.toThrow(/stores\.0\.ConnectionErrorCode/);
    writeFileSync(seedFile, JSON.stringify({ keys: [{ CustomKeyStoreName: 'nowhere' }] }));
    await expect(startKmsSimulator({ port: 0, seedFile })).rejects.toThrow(/keys\[0\]/);
  });
});
