/**
 * The CloudHSM v2 endpoint: DescribeClusters through the real `@aws-sdk/client-cloudhsm-v2` over
 * HTTP, per account and Region, with the model's filters, paging and exceptions; the healthy
 * cluster every CloudHSM key store gets; the control API's cluster routes; the state file.
 */
import {
  CloudHSMV2Client,
  CloudHsmInvalidRequestException,
  DescribeClustersCommand,
  type DescribeClustersCommandInput,
} from '@aws-sdk/client-cloudhsm-v2';
import { CreateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatorControl, startKmsSimulator } from '../../src/sim';
import { CLOUDHSM_CREATE, clusterId, isRecord, rawKms, useSimulator } from './helpers';

const OTHER_ACCOUNT = '444455556666';
const OTHER_KEY = 'AKIACLOUDHSMOTHER001';

const h = useSimulator({ consistencyLagMs: 0, regions: ['us-east-1', 'eu-west-1'] });

function cloudHsm(url: string, region = 'us-east-1', accessKeyId = 'test'): CloudHSMV2Client {
  return new CloudHSMV2Client({
    region,
    endpoint: url,
    credentials: { accessKeyId, secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

async function describe1(input: DescribeClustersCommandInput, client = cloudHsm(h.sim.url)) {
  try {
    return await client.send(new DescribeClustersCommand(input));
  } finally {
    client.destroy();
  }
}

describe('DescribeClusters', () => {
  it('shows the healthy cluster of a CloudHSM key store, as the model shapes it', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const id = store.CloudHsmClusterId ?? '';
    const { Clusters } = await describe1({ Filters: { clusterIds: [id] } });
    expect(Clusters).toHaveLength(1);
    const cluster = Clusters?.[0];
    expect(cluster).toMatchObject({ ClusterId: id, State: 'ACTIVE', HsmType: 'hsm1.medium' });
    expect(cluster?.CreateTimestamp).toBeInstanceOf(Date);
    expect(cluster?.VpcId).toMatch(/^vpc-[0-9a-f]{17}$/);
    const hsms = cluster?.Hsms ?? [];
    expect(hsms.map((hsm) => [hsm.State, hsm.AvailabilityZone])).toEqual([
      ['ACTIVE', 'us-east-1a'],
      ['ACTIVE', 'us-east-1b'],
    ]);
    for (const hsm of hsms) {
      expect(hsm.HsmId).toMatch(/^hsm-[2-7a-z]{11}$/);
      expect(hsm.ClusterId).toBe(id);
      expect(hsm.EniId).toMatch(/^eni-[0-9a-f]{17}$/);
      expect(hsm.SubnetId).toBe(cluster?.SubnetMapping?.[hsm.AvailabilityZone ?? '']);
    }
  });

  it('creates a healthy cluster for CreateCustomKeyStore with an unknown cluster id', async () => {
    const id = clusterId();
    await h.kms.send(
      new CreateCustomKeyStoreCommand({
        ...CLOUDHSM_CREATE,
        CustomKeyStoreName: 'cloudhsm-test',
        CloudHsmClusterId: id,
      }),
    );
    const { Clusters } = await describe1({ Filters: { clusterIds: [id] } });
    expect(Clusters?.[0]?.State).toBe('ACTIVE');
    expect(Clusters?.[0]?.Hsms?.filter((hsm) => hsm.State === 'ACTIVE')).toHaveLength(2);
  });

  it('answers per account and Region, as KMS does', async () => {
    await h.control.registerAccessKey({ AccessKeyId: OTHER_KEY, Account: OTHER_ACCOUNT });
    const other = await h.control.putCluster({ Account: OTHER_ACCOUNT, Region: 'eu-west-1' });
    expect(other.Hsms.map((hsm) => hsm.AvailabilityZone)).toEqual(['eu-west-1a', 'eu-west-1b']);
    const mine = await describe1({});
    expect(mine.Clusters?.map((c) => c.ClusterId)).not.toContain(other.ClusterId);
    const theirs = await describe1({}, cloudHsm(h.sim.url, 'eu-west-1', OTHER_KEY));
    expect(theirs.Clusters?.map((c) => c.ClusterId)).toEqual([other.ClusterId]);
    const sameKeyOtherRegion = await describe1({}, cloudHsm(h.sim.url, 'eu-west-1'));
    expect(sameKeyOtherRegion.Clusters?.map((c) => c.ClusterId)).not.toContain(other.ClusterId);
  });

  it('filters by clusterIds, states and vpcIds, and pages with MaxResults and NextToken', async () => {
    const degraded = await h.control.putCluster({ State: 'DEGRADED', VpcId: 'vpc-0123456789abcdef0' });
    const byState = await describe1({ Filters: { states: ['DEGRADED'] } });
    expect(byState.Clusters?.map((c) => c.ClusterId)).toEqual([degraded.ClusterId]);
    const byVpc = await describe1({ Filters: { vpcIds: ['vpc-0123456789abcdef0'], states: ['ACTIVE'] } });
    expect(byVpc.Clusters).toEqual([]);
    const all = (await describe1({})).Clusters?.map((c) => c.ClusterId) ?? [];
    expect(all.length).toBeGreaterThanOrEqual(3);
    const paged: string[] = [];
    let token: string | undefined;
    do {
      const page = await describe1({ MaxResults: 1, NextToken: token });
      expect(page.Clusters?.length).toBeLessThanOrEqual(1);
      paged.push(...(page.Clusters ?? []).map((c) => c.ClusterId ?? ''));
      token = page.NextToken;
    } while (token);
    expect(paged).toEqual(all);
  });

  it('refuses bad input with CloudHsmInvalidRequestException', async () => {
    const inputs: DescribeClustersCommandInput[] = [
      { Filters: { hsmIds: ['hsm-abcdefghijk'] } },
      { Filters: { states: ['HAPPY'] } },
      { MaxResults: 26 },
      { MaxResults: 0 },
      { NextToken: 'not-a-token' },
    ];
    for (const input of inputs) {
      const error = await describe1(input).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(CloudHsmInvalidRequestException);
      expect(error).toMatchObject({ $metadata: { httpStatusCode: 400 } });
      // The SDK moves the model's `Message` into `message`.
      expect(error instanceof Error ? error.message : '').toMatch(/./);
    }
  });

  it('needs a signature, like every AWS API', async () => {
    const response = await fetch(h.sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'BaldrApiService.DescribeClusters',
      },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ __type: 'MissingAuthenticationTokenException' });
    const unknown = await rawKms(h.sim.url, {
      body: '{}',
      headers: { 'x-amz-target': 'BaldrApiService.CreateHsm' },
    });
    expect(unknown.json['__type']).toBe('UnknownOperationException');
  });
});

describe('the control API for clusters', () => {
  it('creates, replaces, changes and deletes clusters and their HSMs', async () => {
    const created = await h.control.putCluster({
      Hsms: [{ AvailabilityZone: 'us-east-1c', State: 'DEGRADED' }, {}],
    });
    expect(created.Hsms.map((hsm) => [hsm.AvailabilityZone, hsm.State])).toEqual([
      ['us-east-1c', 'DEGRADED'],
      ['us-east-1b', 'ACTIVE'],
    ]);
    const replaced = await h.control.putCluster({
      ClusterId: created.ClusterId,
      State: 'UNINITIALIZED',
      Hsms: [],
    });
    expect(replaced).toMatchObject({ ClusterId: created.ClusterId, State: 'UNINITIALIZED', Hsms: [] });
    const id = created.ClusterId;
    expect(await h.control.setClusterState(id, 'ACTIVE', { StateMessage: 'back' })).toMatchObject({
      State: 'ACTIVE',
      StateMessage: 'back',
    });
    const hsm = await h.control.addHsm(id, { AvailabilityZone: 'us-east-1d' });
    expect(hsm).toMatchObject({ ClusterId: id, AvailabilityZone: 'us-east-1d', State: 'ACTIVE' });
    expect(await h.control.setHsmState(id, hsm.HsmId, 'DELETE_IN_PROGRESS')).toMatchObject({
      State: 'DELETE_IN_PROGRESS',
    });
    const { Clusters } = await describe1({ Filters: { clusterIds: [id] } });
    expect(Clusters?.[0]?.Hsms?.map((h1) => h1.State)).toEqual(['DELETE_IN_PROGRESS']);
    await h.control.removeHsm(id, hsm.HsmId);
    expect((await h.control.getCluster(id)).Hsms).toEqual([]);
    await h.control.deleteCluster(id);
    await expect(h.control.getCluster(id)).rejects.toMatchObject({ status: 404 });
    expect((await describe1({ Filters: { clusterIds: [id] } })).Clusters).toEqual([]);
  });

  it('names the field of a bad request', async () => {
    await expect(h.control.putCluster({ Hsms: [{ AvailabilityZone: 'eu-west-1a' }] })).rejects.toMatchObject({
      status: 400,
      field: 'Hsms.0.AvailabilityZone',
    });
    await expect(h.control.putCluster({ Region: 'ap-south-1' })).rejects.toMatchObject({ field: 'Region' });
    const cluster = await h.control.putCluster({});
    await expect(
      h.control.setHsmState(cluster.ClusterId, 'hsm-nosuchhsmxyz', 'ACTIVE'),
    ).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('the state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-cloudhsm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps clusters across a restart, and gives stores from an older file a healthy cluster', async () => {
    const stateFile = join(dir, 'state.json');
    let sim = await startKmsSimulator({ port: 0, stateFile });
    try {
      let control = new SimulatorControl(sim.url);
      const store = await control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
      const id = store.CloudHsmClusterId ?? '';
      const [first] = (await control.getCluster(id)).Hsms;
      await control.setHsmState(id, first?.HsmId ?? '', 'DEGRADED');
      await sim.stop();
      sim = await startKmsSimulator({ port: 0, stateFile });
      control = new SimulatorControl(sim.url);
      expect((await control.getCluster(id)).Hsms.map((hsm) => hsm.State)).toEqual(['DEGRADED', 'ACTIVE']);
      await sim.stop();

      // A file written before clusters existed: the same, without them.
      const json: unknown = JSON.parse(readFileSync(stateFile, 'utf8'));
      if (!isRecord(json) || !Array.isArray(json['partitions'])) throw new Error('not a state file');
      for (const partition of json['partitions'] as unknown[])
        if (isRecord(partition)) delete partition['clusters'];
      writeFileSync(stateFile, JSON.stringify(json));
      sim = await startKmsSimulator({ port: 0, stateFile });
      const { Clusters } = await describe1({}, cloudHsm(sim.url));
      expect(Clusters?.map((c) => [c.ClusterId, c.State, c.Hsms?.length])).toEqual([[id, 'ACTIVE', 2]]);
    } finally {
      await sim.stop();
    }
  });
});
