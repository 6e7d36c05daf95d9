/**
 * Partitions: each account in each served Region has its own stores, keys, aliases, request quota
 * and store limit, and a KMS caller acts in the account of its access key and the Region its
 * request is signed for — all through the real `@aws-sdk/client-kms`.
 */
import {
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  KMSClient,
  LimitExceededException,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SimulatorControl,
  SimulatorControlError,
  startKmsSimulator,
  type RunningSimulator,
} from '../../src/sim';
import { CLOUDHSM_CREATE, clusterId, kmsError, useSimulator } from './helpers';

const DEFAULT_ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';

const h = useSimulator({
  regions: ['us-east-1', 'eu-west-1'],
  quotaRps: 0,
  connectDelayMs: 0,
  consistencyLagMs: 0,
});

const clients: KMSClient[] = [];
afterAll(() => clients.forEach((client) => client.destroy()));

/** A KMS client in a Region with an access key (registered or not). */
function kms(region: string, accessKeyId = 'test'): KMSClient {
  const client = new KMSClient({
    region,
    endpoint: h.sim.url,
    credentials: { accessKeyId, secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

const storeIds = async (client: KMSClient) =>
  ((await client.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores ?? []).map(
    (s) => s.CustomKeyStoreId,
  );

beforeEach(async () => {
  await h.control.reset();
});

describe('partitions per account and Region', () => {
  it('keeps stores apart per account and Region; the access key picks the account', async () => {
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    const home = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const euDefault = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      Region: 'eu-west-1',
    });
    const euOther = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      Account: OTHER_ACCOUNT,
      Region: 'eu-west-1',
      // The same name in another partition is no clash: names are unique per account and Region.
      CustomKeyStoreName: euDefault.CustomKeyStoreName,
    });

    expect(await storeIds(h.kms)).toEqual([home.CustomKeyStoreId]);
    expect(await storeIds(kms('eu-west-1'))).toEqual([euDefault.CustomKeyStoreId]);
    expect(await storeIds(kms('eu-west-1', 'AKIAOTHERACCOUNT0001'))).toEqual([euOther.CustomKeyStoreId]);
    expect(await storeIds(kms('us-east-1', 'AKIAOTHERACCOUNT0001'))).toEqual([]);
    // Another partition's store is not found, as in KMS.
    expect(
      (
        await kmsError(
          h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: euOther.CustomKeyStoreId })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');

    // Ids are global, so the control API finds any store by id and says where it lives.
    expect(await h.control.getStore(euOther.CustomKeyStoreId)).toMatchObject({
      Account: OTHER_ACCOUNT,
      Region: 'eu-west-1',
    });
    expect((await h.control.listStores()).map((s) => [s.CustomKeyStoreId, s.Account, s.Region])).toEqual([
      [home.CustomKeyStoreId, DEFAULT_ACCOUNT, 'us-east-1'],
      [euDefault.CustomKeyStoreId, DEFAULT_ACCOUNT, 'eu-west-1'],
      [euOther.CustomKeyStoreId, OTHER_ACCOUNT, 'eu-west-1'],
    ]);
    expect((await h.control.listStores({ region: 'eu-west-1' })).map((s) => s.CustomKeyStoreId)).toEqual([
      euDefault.CustomKeyStoreId,
      euOther.CustomKeyStoreId,
    ]);
    expect((await h.control.listStores({ account: OTHER_ACCOUNT })).map((s) => s.CustomKeyStoreId)).toEqual([
      euOther.CustomKeyStoreId,
    ]);
  });

  it('writes the partition into key ARNs, and keys and aliases by fiat land in their partition', async () => {
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    const other = kms('eu-west-1', 'AKIAOTHERACCOUNT0001');
    const created = await other.send(new CreateKeyCommand({}));
    expect(created.KeyMetadata).toMatchObject({
      AWSAccountId: OTHER_ACCOUNT,
      Arn: `arn:aws:kms:eu-west-1:${OTHER_ACCOUNT}:key/${created.KeyMetadata?.KeyId ?? ''}`,
    });

    const store = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      Account: OTHER_ACCOUNT,
      Region: 'eu-west-1',
      ConnectionState: 'DISCONNECTED',
    });
    const key = await h.control.createKey({
      Account: OTHER_ACCOUNT,
      Region: 'eu-west-1',
      CustomKeyStoreId: store.CustomKeyStoreId,
    });
    expect(key).toMatchObject({ AWSAccountId: OTHER_ACCOUNT, Region: 'eu-west-1', KeyState: 'Unavailable' });
    await h.control.createAlias({
      Account: OTHER_ACCOUNT,
      Region: 'eu-west-1',
      AliasName: 'alias/x',
      TargetKeyId: key.KeyId,
    });
    const described = await other.send(new DescribeKeyCommand({ KeyId: 'alias/x' }));
    expect(described.KeyMetadata?.KeyId).toBe(key.KeyId);
    expect((await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })))).name).toBe(
      'NotFoundException',
    );

    // A store of another partition cannot hold the key: the error says where the store is.
    const misplaced = await h.control
      .createKey({ CustomKeyStoreId: store.CustomKeyStoreId })
      .catch((e: unknown) => e);
    expect(misplaced).toBeInstanceOf(SimulatorControlError);
    expect(misplaced).toMatchObject({ status: 400, field: 'CustomKeyStoreId' });
    expect((misplaced as Error).message).toContain(`account ${OTHER_ACCOUNT}, Region eu-west-1`);
  });

  it('refuses KMS requests signed for a Region it does not serve, and control requests for one', async () => {
    const error = await kmsError(kms('ap-south-1').send(new DescribeCustomKeyStoresCommand({})));
    expect(error).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    const refused = await h.control
      .createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', Region: 'ap-south-1' })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, field: 'Region' });
    expect((refused as Error).message).toContain('serves us-east-1, eu-west-1');
  });

  it('logs each call with its account, Region and principal, and filters by them', async () => {
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    await storeIds(h.kms);
    await storeIds(kms('eu-west-1', 'AKIAOTHERACCOUNT0001'));
    const calls = await h.control.calls({ operation: 'DescribeCustomKeyStores' });
    expect(calls.map((c) => [c.account, c.region, c.principal])).toEqual([
      [DEFAULT_ACCOUNT, 'us-east-1', `arn:aws:iam::${DEFAULT_ACCOUNT}:user/simulated`],
      [OTHER_ACCOUNT, 'eu-west-1', `arn:aws:iam::${OTHER_ACCOUNT}:user/simulated`],
    ]);
    expect(await h.control.calls({ account: OTHER_ACCOUNT })).toHaveLength(1);
    expect(await h.control.calls({ region: 'us-east-1', account: DEFAULT_ACCOUNT })).toHaveLength(1);
    expect(await h.control.calls({ region: 'ap-south-1' })).toHaveLength(0);
  });

  it('registers each access key to one account only', async () => {
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    const clash = await h.control
      .registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: DEFAULT_ACCOUNT })
      .catch((e: unknown) => e);
    expect(clash).toMatchObject({ status: 409, field: 'AccessKeyId' });
    expect(await h.control.accessKeys()).toEqual([
      {
        AccessKeyId: 'AKIAOTHERACCOUNT0001',
        Account: OTHER_ACCOUNT,
        Arn: `arn:aws:iam::${OTHER_ACCOUNT}:user/simulated`,
      },
    ]);
  });
});

describe('quota per account, Region and operation', () => {
  it('throttles one partition without touching the others', async () => {
    await h.control.patchConfig({ quotaRps: 2 });
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => storeIds(h.kms)));
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    // The same operation, at once, in another Region of the account and in another account.
    await expect(storeIds(kms('eu-west-1'))).resolves.toEqual([]);
    await expect(storeIds(kms('us-east-1', 'AKIAOTHERACCOUNT0001'))).resolves.toEqual([]);
  });
});

describe('the store limit: 10 custom key stores per account and Region', () => {
  it('refuses the 11th CreateCustomKeyStore with LimitExceededException, in that partition only', async () => {
    for (let i = 0; i < 10; i++) await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const create = (client: KMSClient) =>
      client.send(
        new CreateCustomKeyStoreCommand({
          ...CLOUDHSM_CREATE,
          CustomKeyStoreName: `s-${clusterId()}`,
          CloudHsmClusterId: clusterId(),
        }),
      );
    const error = await create(h.kms).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededException);
    expect(error).toMatchObject({ $metadata: { httpStatusCode: 400 } });
    expect((error as Error).message).toMatch(/quota was exceeded.*10 custom key stores in us-east-1/);
    // Another Region of the same account has room.
    expect((await create(kms('eu-west-1'))).CustomKeyStoreId).toMatch(/^cks-/);
  });

  it('refuses an 11th store through the control API with a 409 naming the field', async () => {
    for (let i = 0; i < 10; i++) {
      await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', Account: OTHER_ACCOUNT });
    }
    const error = await h.control
      .createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', Account: OTHER_ACCOUNT })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, code: 'LimitExceeded', field: 'Region' });
    expect((error as Error).message).toContain(
      `Account ${OTHER_ACCOUNT} already has 10 custom key stores in us-east-1`,
    );
    await expect(h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' })).resolves.toBeDefined();
  });
});

describe('options, seeds and the state file across partitions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-partitions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('validates regions against region and its partition', async () => {
    await expect(startKmsSimulator({ regions: ['eu-west-1'] })).rejects.toThrow(
      /"regions": must include the default Region "us-east-1"/,
    );
    await expect(startKmsSimulator({ regions: ['us-east-1', 'cn-north-1'] })).rejects.toThrow(
      /"cn-north-1" is in partition aws-cn/,
    );
    await expect(startKmsSimulator({ regions: ['US-EAST-1'] })).rejects.toThrow(/"regions"/);
  });

  it('refuses a seed with an 11th store in a partition, naming the entry', async () => {
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        stores: Array.from({ length: 11 }, () => ({
          CustomKeyStoreType: 'AWS_CLOUDHSM',
          Region: 'us-east-1',
        })),
      }),
    );
    await expect(startKmsSimulator({ port: 0, seedFile })).rejects.toThrow(
      /stores\[10\].*already has 10 custom key stores/,
    );
  });

  it('keeps every partition, access key, role and session across a restart', async () => {
    const stateFile = join(dir, 'state.json');
    let sim: RunningSimulator | undefined = await startKmsSimulator({
      port: 0,
      stateFile,
      regions: ['us-east-1', 'eu-west-1'],
    });
    try {
      const control = new SimulatorControl(sim.url);
      const store = await control.createStore({
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        Account: OTHER_ACCOUNT,
        Region: 'eu-west-1',
      });
      await control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
      const role = await control.createRole({ RoleName: 'keeper', Account: OTHER_ACCOUNT });
      await sim.stop();
      sim = await startKmsSimulator({ port: 0, stateFile, regions: ['us-east-1', 'eu-west-1'] });
      const again = new SimulatorControl(sim.url);
      expect(await again.getStore(store.CustomKeyStoreId)).toMatchObject({
        Account: OTHER_ACCOUNT,
        Region: 'eu-west-1',
      });
      expect(await again.accessKeys()).toHaveLength(1);
      expect((await again.roles()).map((r) => r.Arn)).toEqual([role.Arn]);
      await sim.stop();
      sim = undefined;
      // A state file with a Region the simulator no longer serves stops the start-up.
      await expect(startKmsSimulator({ port: 0, stateFile })).rejects.toThrow(
        /Region eu-west-1 is not served/,
      );
    } finally {
      await sim?.stop();
    }
  });
});
