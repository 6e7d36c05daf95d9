/**
 * The simulator's CloudWatch alarms through the real `@aws-sdk/client-cloudwatch` (AWS JSON 1.0,
 * query-compatible errors): PutMetricAlarm, DescribeAlarms (filters, types, paging), SetAlarmState,
 * DeleteAlarms, per account and Region, persisted in the state file, with injectable faults.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  paginateDescribeAlarms,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type MetricAlarm,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startKmsSimulator } from '../../src/sim';
import { isRecord, useSimulator } from './helpers';

const DEFAULT_ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';

const h = useSimulator({ quotaRps: 0, regions: ['us-east-1', 'eu-west-1'] });
const clients: CloudWatchClient[] = [];
afterAll(() => clients.forEach((client) => client.destroy()));

function cloudWatch(url = h.sim.url, region = 'us-east-1', accessKeyId = 'test'): CloudWatchClient {
  const client = new CloudWatchClient({
    region,
    endpoint: url,
    credentials: { accessKeyId, secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

function alarm(name: string, extra: Partial<PutMetricAlarmCommandInput> = {}): PutMetricAlarmCommandInput {
  return {
    AlarmName: name,
    Namespace: 'Payments',
    MetricName: '5xx',
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 3,
    Threshold: 10,
    ComparisonOperator: 'GreaterThanThreshold',
    ...extra,
  };
}

interface CloudWatchErrorShape {
  name: string;
  message: string;
  status: number | undefined;
  /** The Query protocol's code the SDK read from `x-amzn-query-error`. */
  code: unknown;
}

async function failure(call: Promise<unknown>): Promise<CloudWatchErrorShape> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const metadata: unknown = '$metadata' in err ? err.$metadata : undefined;
    const status = isRecord(metadata) ? metadata['httpStatusCode'] : undefined;
    const errorMember: unknown = 'Error' in err ? err.Error : undefined;
    return {
      name: err.name,
      message: err.message,
      status: typeof status === 'number' ? status : undefined,
      code: isRecord(errorMember) ? errorMember['Code'] : undefined,
    };
  }
  throw new Error('Expected the CloudWatch call to fail, but it succeeded');
}

async function describe1(client: CloudWatchClient, name: string): Promise<MetricAlarm | undefined> {
  const out = await client.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));
  return out.MetricAlarms?.[0];
}

beforeEach(async () => {
  await h.control.reset();
});

describe('PutMetricAlarm and DescribeAlarms', () => {
  it('creates a metric alarm in INSUFFICIENT_DATA that DescribeAlarms returns with its ARN and state', async () => {
    const cw = cloudWatch();
    const before = Date.now();
    await cw.send(
      new PutMetricAlarmCommand(
        alarm('payments-5xx', {
          Dimensions: [{ Name: 'Service', Value: 'api' }],
          AlarmDescription: 'errors',
        }),
      ),
    );
    const found = await describe1(cw, 'payments-5xx');
    expect(found).toMatchObject({
      AlarmName: 'payments-5xx',
      AlarmArn: `arn:aws:cloudwatch:us-east-1:${DEFAULT_ACCOUNT}:alarm:payments-5xx`,
      AlarmDescription: 'errors',
      ActionsEnabled: true,
      StateValue: 'INSUFFICIENT_DATA',
      StateReason: 'Unchecked: Initial alarm creation',
      Namespace: 'Payments',
      MetricName: '5xx',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'Service', Value: 'api' }],
      Period: 60,
      EvaluationPeriods: 3,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(found?.StateUpdatedTimestamp).toBeInstanceOf(Date);
    expect(found?.StateUpdatedTimestamp?.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(found?.AlarmConfigurationUpdatedTimestamp).toBeInstanceOf(Date);
  });

  it('replaces the configuration of an existing alarm and keeps its state', async () => {
    const cw = cloudWatch();
    await cw.send(new PutMetricAlarmCommand(alarm('a')));
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'a', StateValue: 'ALARM', StateReason: 'test' }));
    await cw.send(new PutMetricAlarmCommand(alarm('a', { Threshold: 99 })));
    expect(await describe1(cw, 'a')).toMatchObject({
      Threshold: 99,
      StateValue: 'ALARM',
      StateReason: 'test',
    });
  });

  it('accepts the metric math form (Metrics) and refuses mixing it with MetricName', async () => {
    const cw = cloudWatch();
    const metrics = [
      {
        Id: 'm1',
        MetricStat: { Metric: { Namespace: 'Payments', MetricName: '5xx' }, Period: 60, Stat: 'Sum' },
        ReturnData: false,
      },
      { Id: 'e1', Expression: 'm1 * 2', ReturnData: true },
    ];
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'math',
        Metrics: metrics,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    expect((await describe1(cw, 'math'))?.Metrics?.[1]).toMatchObject({ Id: 'e1', Expression: 'm1 * 2' });
    const mixed = await failure(
      cw.send(new PutMetricAlarmCommand({ ...alarm('mixed'), Statistic: undefined, Metrics: metrics })),
    );
    expect(mixed).toMatchObject({
      name: 'InvalidParameterCombinationException',
      code: 'InvalidParameterCombination',
      status: 400,
    });
  });

  it('validates like CloudWatch: missing members, ranges, periods', async () => {
    const cw = cloudWatch();
    expect(
      await failure(cw.send(new PutMetricAlarmCommand(alarm('x', { MetricName: undefined })))),
    ).toMatchObject({
      name: 'ValidationException',
      code: 'ValidationError',
      status: 400,
      message: 'MetricName must not be null',
    });
    expect(await failure(cw.send(new PutMetricAlarmCommand(alarm('x', { Period: 45 }))))).toMatchObject({
      name: 'ValidationException',
      message: 'Period must be 10, 20, 30 or a multiple of 60.',
    });
    expect(await failure(cw.send(new PutMetricAlarmCommand(alarm('', {}))))).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining(
        "Value '' at 'alarmName' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ) as unknown,
    });
    expect(await failure(cw.send(new DescribeAlarmsCommand({ MaxRecords: 101 })))).toMatchObject({
      name: 'ValidationException',
      code: 'ValidationError',
    });
  });

  it('filters by names (unknown ones left out), prefix, state and type, sorted by name', async () => {
    const cw = cloudWatch();
    for (const name of ['pay-b', 'pay-a', 'orders-a']) await cw.send(new PutMetricAlarmCommand(alarm(name)));
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'pay-b', StateValue: 'ALARM', StateReason: 'r' }));
    const names = (alarms: MetricAlarm[] | undefined) => (alarms ?? []).map((a) => a.AlarmName);

    const byNames = await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['pay-b', 'nope', 'orders-a'] }));
    expect(names(byNames.MetricAlarms)).toEqual(['orders-a', 'pay-b']);
    const byPrefix = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'pay-' }));
    expect(names(byPrefix.MetricAlarms)).toEqual(['pay-a', 'pay-b']);
    const inAlarm = await cw.send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }));
    expect(names(inAlarm.MetricAlarms)).toEqual(['pay-b']);
    const composite = await cw.send(new DescribeAlarmsCommand({ AlarmTypes: ['CompositeAlarm'] }));
    expect(composite).toMatchObject({ MetricAlarms: [], CompositeAlarms: [] });
    const both = await cw.send(new DescribeAlarmsCommand({ AlarmTypes: ['CompositeAlarm', 'MetricAlarm'] }));
    expect(names(both.MetricAlarms)).toEqual(['orders-a', 'pay-a', 'pay-b']);

    expect(
      await failure(cw.send(new DescribeAlarmsCommand({ AlarmNames: ['pay-a'], AlarmNamePrefix: 'pay' }))),
    ).toMatchObject({ name: 'InvalidParameterCombinationException', code: 'InvalidParameterCombination' });
  });

  it('pages with MaxRecords and NextToken, and refuses a token it did not issue', async () => {
    const cw = cloudWatch();
    const all = ['a1', 'a2', 'a3', 'a4', 'a5'];
    for (const name of all) await cw.send(new PutMetricAlarmCommand(alarm(name)));
    const first = await cw.send(new DescribeAlarmsCommand({ MaxRecords: 2 }));
    expect(first.MetricAlarms?.map((a) => a.AlarmName)).toEqual(['a1', 'a2']);
    expect(first.NextToken).toBeTruthy();
    const seen: string[] = [];
    for await (const page of paginateDescribeAlarms({ client: cw, pageSize: 2 }, {})) {
      seen.push(...(page.MetricAlarms ?? []).map((a) => a.AlarmName ?? ''));
    }
    expect(seen).toEqual(all);
    expect(await failure(cw.send(new DescribeAlarmsCommand({ NextToken: 'not-ours' })))).toMatchObject({
      name: 'InvalidNextToken',
      code: 'InvalidNextToken',
      status: 400,
    });
  });
});

describe('SetAlarmState and DeleteAlarms', () => {
  it('sets the state, its reason and timestamps; the same state again changes nothing', async () => {
    const cw = cloudWatch();
    await cw.send(new PutMetricAlarmCommand(alarm('a')));
    const created = await describe1(cw, 'a');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: 'a',
        StateValue: 'ALARM',
        StateReason: 'threshold crossed',
        StateReasonData: '{"x":1}',
      }),
    );
    const fired = await describe1(cw, 'a');
    expect(fired).toMatchObject({
      StateValue: 'ALARM',
      StateReason: 'threshold crossed',
      StateReasonData: '{"x":1}',
    });
    expect(fired?.StateUpdatedTimestamp?.getTime()).toBeGreaterThan(
      created?.StateUpdatedTimestamp?.getTime() ?? 0,
    );
    expect(fired?.StateTransitionedTimestamp).toEqual(fired?.StateUpdatedTimestamp);

    await cw.send(new SetAlarmStateCommand({ AlarmName: 'a', StateValue: 'ALARM', StateReason: 'again' }));
    expect(await describe1(cw, 'a')).toEqual(fired);
  });

  it('refuses an unknown alarm, an invalid state and reason data that is not JSON', async () => {
    const cw = cloudWatch();
    expect(
      await failure(
        cw.send(new SetAlarmStateCommand({ AlarmName: 'ghost', StateValue: 'OK', StateReason: 'r' })),
      ),
    ).toMatchObject({ name: 'ResourceNotFound', code: 'ResourceNotFound', status: 404 });
    await cw.send(new PutMetricAlarmCommand(alarm('a')));
    expect(
      await failure(
        cw.send(
          new SetAlarmStateCommand({
            AlarmName: 'a',
            StateValue: 'OK',
            StateReason: 'r',
            StateReasonData: '{',
          }),
        ),
      ),
    ).toMatchObject({ name: 'InvalidFormatFault', code: 'InvalidFormat', status: 400 });
    const badState = await failure(
      cw.send(new SetAlarmStateCommand({ AlarmName: 'a', StateValue: 'RED' as 'OK', StateReason: 'r' })),
    );
    expect(badState).toMatchObject({ name: 'ValidationException', code: 'ValidationError' });
    expect(badState.message).toContain('Member must satisfy enum value set: [OK, ALARM, INSUFFICIENT_DATA]');
  });

  it('deletes every named alarm, or none when one does not exist', async () => {
    const cw = cloudWatch();
    await cw.send(new PutMetricAlarmCommand(alarm('a')));
    await cw.send(new PutMetricAlarmCommand(alarm('b')));
    expect(await failure(cw.send(new DeleteAlarmsCommand({ AlarmNames: ['a', 'ghost'] })))).toMatchObject({
      name: 'ResourceNotFound',
      status: 404,
    });
    expect(await describe1(cw, 'a')).toBeDefined();
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['a', 'b'] }));
    expect((await cw.send(new DescribeAlarmsCommand({}))).MetricAlarms).toEqual([]);
  });
});

describe('partitions, faults, the call log', () => {
  it('keeps alarms per account and Region, as KMS requests are identified', async () => {
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAOTHERACCOUNT0001', Account: OTHER_ACCOUNT });
    const home = cloudWatch();
    const europe = cloudWatch(h.sim.url, 'eu-west-1');
    const other = cloudWatch(h.sim.url, 'us-east-1', 'AKIAOTHERACCOUNT0001');
    await home.send(new PutMetricAlarmCommand(alarm('shared-name')));
    await europe.send(new PutMetricAlarmCommand(alarm('shared-name', { Threshold: 2 })));
    expect(await describe1(other, 'shared-name')).toBeUndefined();
    expect(await describe1(europe, 'shared-name')).toMatchObject({
      Threshold: 2,
      AlarmArn: `arn:aws:cloudwatch:eu-west-1:${DEFAULT_ACCOUNT}:alarm:shared-name`,
    });
    await other.send(new PutMetricAlarmCommand(alarm('mine')));
    expect((await describe1(other, 'mine'))?.AlarmArn).toBe(
      `arn:aws:cloudwatch:us-east-1:${OTHER_ACCOUNT}:alarm:mine`,
    );
    const unserved = await failure(cloudWatch(h.sim.url, 'ap-south-1').send(new DescribeAlarmsCommand({})));
    expect(unserved).toMatchObject({ name: 'InvalidSignatureException', status: 400 });
    const calls = await h.control.calls({ operation: 'PutMetricAlarm' });
    expect(calls.map((c) => [c.account, c.region])).toEqual([
      [DEFAULT_ACCOUNT, 'us-east-1'],
      [DEFAULT_ACCOUNT, 'eu-west-1'],
      [OTHER_ACCOUNT, 'us-east-1'],
    ]);
  });

  it('answers injected faults in CloudWatch’s error shape', async () => {
    await h.control.addFault({ operation: 'DescribeAlarms', errorType: 'InternalServiceFault', count: 1 });
    const cw = cloudWatch();
    expect(await failure(cw.send(new DescribeAlarmsCommand({})))).toMatchObject({
      name: 'InternalServiceFault',
      code: 'InternalServiceError',
      status: 500,
    });
    expect((await cw.send(new DescribeAlarmsCommand({}))).MetricAlarms).toEqual([]);
  });
});

describe('the state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-cw-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps alarms and their states across a restart', async () => {
    const stateFile = join(dir, 'state.json');
    const first = await startKmsSimulator({ port: 0, stateFile });
    try {
      const cw = cloudWatch(first.url);
      await cw.send(new PutMetricAlarmCommand(alarm('persisted')));
      await cw.send(
        new SetAlarmStateCommand({ AlarmName: 'persisted', StateValue: 'ALARM', StateReason: 'kept' }),
      );
    } finally {
      await first.stop();
    }
    const second = await startKmsSimulator({ port: 0, stateFile });
    try {
      expect(await describe1(cloudWatch(second.url), 'persisted')).toMatchObject({
        StateValue: 'ALARM',
        StateReason: 'kept',
        Threshold: 10,
      });
    } finally {
      await second.stop();
    }
  });
});
