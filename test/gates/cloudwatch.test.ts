/**
 * The CloudWatch alarms gate against the simulator, through the real `@aws-sdk/client-cloudwatch`:
 * ALARM blocks, OK and INSUFFICIENT_DATA do not, names that do not exist block (fail closed),
 * prefixes list every page, a store in another account is checked through its execution role,
 * and a CloudWatch that cannot be asked blocks with why.
 */
import {
  CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type StateValue,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { KmsTarget } from '../../src/domain/location';
import { checkCloudWatchAlarms, cloudWatchClientProvider } from '../../src/gates/cloudwatch';
import { useSimulator } from '../sim/helpers';

const TARGET_ACCOUNT = '444455556666';
const TARGET_KEY = 'AKIATARGETACCOUNT001';
const WORKER = { accessKeyId: 'AKIAWORKER0000000001', secretAccessKey: 'test' };
const STORE = 'cks-1234567890abcdef0';
const HOME: KmsTarget = { region: 'us-east-1' };

const h = useSimulator({ quotaRps: 0 });
const clients: CloudWatchClient[] = [];
afterAll(() => clients.forEach((c) => c.destroy()));

function admin(accessKeyId = 'test'): CloudWatchClient {
  const client = new CloudWatchClient({
    region: 'us-east-1',
    endpoint: h.sim.url,
    credentials: { accessKeyId, secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

async function putAlarm(name: string, state?: StateValue, client = admin()): Promise<void> {
  await client.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'Payments',
      MetricName: '5xx',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  if (state) {
    await client.send(
      new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: `test: ${state}` }),
    );
  }
}

function gateClient(target: KmsTarget = HOME) {
  const provider = cloudWatchClientProvider({
    endpoint: h.sim.url,
    stsEndpoint: h.sim.url,
    credentials: WORKER,
  });
  return provider(target, `keystore-maint-${STORE}`);
}

beforeEach(async () => {
  await h.control.reset();
});

describe('the CloudWatch alarms gate', () => {
  it('is blocked by an alarm in ALARM, and open when it is OK or has no data yet', async () => {
    await putAlarm('payments-5xx', 'ALARM');
    await putAlarm('payments-latency');
    const blocked = await checkCloudWatchAlarms(gateClient(), HOME, {
      names: ['payments-5xx', 'payments-latency'],
      prefix: undefined,
    });
    expect(blocked).toMatchObject({
      kind: 'cloudWatchAlarms',
      name: 'alarms payments-5xx, payments-latency',
      open: false,
    });
    expect(blocked.reason).toMatch(/^alarm payments-5xx in ALARM since \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(blocked.evidence).toMatchObject({
      account: 'self',
      region: 'us-east-1',
      inAlarm: ['payments-5xx'],
      missing: [],
      alarms: [
        { name: 'payments-5xx', type: 'metric', state: 'ALARM', stateReason: 'test: ALARM' },
        { name: 'payments-latency', type: 'metric', state: 'INSUFFICIENT_DATA' },
      ],
    });

    await admin().send(
      new SetAlarmStateCommand({ AlarmName: 'payments-5xx', StateValue: 'OK', StateReason: 'ok' }),
    );
    const open = await checkCloudWatchAlarms(gateClient(), HOME, {
      names: ['payments-5xx', 'payments-latency'],
      prefix: undefined,
    });
    expect(open).toMatchObject({ open: true, reason: 'open', evidence: { inAlarm: [] } });
  });

  it('is blocked when a named alarm does not exist (a typo must not open the gate)', async () => {
    await putAlarm('payments-5xx', 'OK');
    const result = await checkCloudWatchAlarms(gateClient(), HOME, {
      names: ['payments-5xx', 'payments-5xxx'],
      prefix: undefined,
    });
    expect(result).toMatchObject({ open: false, evidence: { missing: ['payments-5xxx'] } });
    expect(result.reason).toBe('alarm payments-5xxx does not exist (a misspelt name would disable the gate)');
  });

  it('lists every alarm of a prefix across pages, with named ones, and blocks on a prefix matching none', async () => {
    for (let i = 0; i < 130; i++) await putAlarm(`orders-${String(i).padStart(3, '0')}`);
    await putAlarm('orders-129', 'ALARM');
    await putAlarm('payments-5xx', 'OK');
    const result = await checkCloudWatchAlarms(gateClient(), HOME, {
      names: ['payments-5xx'],
      prefix: 'orders-',
    });
    expect(result).toMatchObject({
      name: 'alarms payments-5xx; prefix orders-',
      open: false,
      evidence: { alarmCount: 131, prefixMatches: 130, inAlarm: ['orders-129'] },
    });
    expect(result.reason).toMatch(/^alarm orders-129 in ALARM since /);

    const none = await checkCloudWatchAlarms(gateClient(), HOME, { names: [], prefix: 'order-' });
    expect(none).toMatchObject({
      open: false,
      reason: 'no alarm name starts with "order-" (a misspelt prefix would disable the gate)',
    });
  });

  it('checks a store in another account through its execution role', async () => {
    await h.control.registerAccessKey({ AccessKeyId: TARGET_KEY, Account: TARGET_ACCOUNT });
    await h.control.createRole({ Account: TARGET_ACCOUNT, RoleName: 'KeystoreMaint' });
    await putAlarm('payments-5xx', 'ALARM', admin(TARGET_KEY));
    await putAlarm('payments-5xx', 'OK');
    const target: KmsTarget = {
      region: 'us-east-1',
      account: TARGET_ACCOUNT,
      executionRole: 'KeystoreMaint',
    };
    const result = await checkCloudWatchAlarms(gateClient(target), target, {
      names: ['payments-5xx'],
      prefix: undefined,
    });
    expect(result).toMatchObject({
      open: false,
      evidence: { account: TARGET_ACCOUNT, inAlarm: ['payments-5xx'] },
    });
    const calls = await h.control.calls({ operation: 'DescribeAlarms' });
    expect(calls.at(-1)?.principal).toBe(
      `arn:aws:sts::${TARGET_ACCOUNT}:assumed-role/KeystoreMaint/keystore-maint-${STORE}`,
    );
  });

  it('blocks, saying why, when CloudWatch cannot be asked or the role cannot be assumed', async () => {
    await putAlarm('payments-5xx', 'OK');
    await h.control.addFault({ operation: 'DescribeAlarms', errorType: 'InternalServiceFault', count: 1 });
    const failed = await checkCloudWatchAlarms(gateClient(), HOME, {
      names: ['payments-5xx'],
      prefix: undefined,
    });
    expect(failed).toMatchObject({ open: false });
    expect(failed.reason).toMatch(/^cannot be checked: InternalServiceFault: Injected fault/);

    const nobody: KmsTarget = { region: 'us-east-1', account: TARGET_ACCOUNT, executionRole: 'Missing' };
    const unassumable = await checkCloudWatchAlarms(gateClient(nobody), nobody, {
      names: ['payments-5xx'],
      prefix: undefined,
    });
    expect(unassumable).toMatchObject({ open: false });
    expect(unassumable.error).toMatch(
      /could not assume the execution role arn:aws:iam::444455556666:role\/Missing/,
    );
  });

  it('uses AWS_ENDPOINT_URL_CLOUDWATCH when no endpoint is given, as the SDK does', async () => {
    await putAlarm('payments-5xx', 'ALARM');
    const before = process.env['AWS_ENDPOINT_URL_CLOUDWATCH'];
    process.env['AWS_ENDPOINT_URL_CLOUDWATCH'] = h.sim.url;
    try {
      const client = cloudWatchClientProvider({ credentials: WORKER })(HOME);
      clients.push(client);
      const result = await checkCloudWatchAlarms(client, HOME, {
        names: ['payments-5xx'],
        prefix: undefined,
      });
      expect(result).toMatchObject({ open: false, evidence: { inAlarm: ['payments-5xx'] } });
    } finally {
      if (before === undefined) delete process.env['AWS_ENDPOINT_URL_CLOUDWATCH'];
      else process.env['AWS_ENDPOINT_URL_CLOUDWATCH'] = before;
    }
  });
});
