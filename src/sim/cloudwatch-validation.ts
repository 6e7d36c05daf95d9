/**
 * The request shapes of the CloudWatch operations the simulator serves, with the model's length,
 * range and enum constraints, and the rules PutMetricAlarm checks across members (which metric
 * form, which statistic, the evaluation range). Constraint violations are answered the way the
 * KMS endpoint answers them (`ValidationException`, AWS's "1 validation error detected: ..."
 * format, `SerializationException` for a member of the wrong JSON type): the shared
 * `parseRequest` of validation.ts, re-raised as CloudWatch errors.
 */
import { z } from 'zod';
import { CloudWatchError } from './cloudwatch-protocol';
import { KmsError } from './protocol';
import { modelString, parseRequest } from './validation';

export const STATE_VALUES = ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const;
export type StateValue = (typeof STATE_VALUES)[number];
export const ALARM_TYPES = ['CompositeAlarm', 'MetricAlarm', 'LogAlarm'] as const;
const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;
const COMPARISON_OPERATORS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'GreaterThanUpperThreshold',
  'LessThanLowerOrGreaterThanUpperThreshold',
  'LessThanLowerThreshold',
  'LessThanOrEqualToThreshold',
  'LessThanThreshold',
] as const;
const UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;
const TREAT_MISSING_DATA = ['breaching', 'notBreaching', 'ignore', 'missing'] as const;

/** At most this many names in DescribeAlarms and DeleteAlarms. */
export const MAX_ALARM_NAMES = 100;
/** DescribeAlarms' page size: `MaxRecords` 1 to 100, 50 when absent. */
export const MAX_RECORDS = { default: 50, max: 100 } as const;

const alarmName = () => modelString(1, 255);
const actions = () => z.array(modelString(1, 1024)).max(5);
const dimensions = () =>
  z.array(z.object({ Name: modelString(1, 255), Value: modelString(1, 1024) })).max(30);

const metricDataQuery = () =>
  z.object({
    Id: modelString(1, 255),
    MetricStat: z
      .object({
        Metric: z.object({
          Namespace: modelString(1, 255).optional(),
          MetricName: modelString(1, 255).optional(),
          Dimensions: dimensions().optional(),
        }),
        Period: z.int().min(1),
        Stat: z.string(),
        Unit: z.enum(UNITS).optional(),
      })
      .optional(),
    Expression: modelString(1, 2048).optional(),
    Label: z.string().optional(),
    ReturnData: z.boolean().optional(),
    Period: z.int().min(1).optional(),
    AccountId: modelString(1, 255).optional(),
  });

export const putMetricAlarmSchema = z.object({
  AlarmName: alarmName(),
  AlarmDescription: modelString(0, 1024).optional(),
  ActionsEnabled: z.boolean().optional(),
  OKActions: actions().optional(),
  AlarmActions: actions().optional(),
  InsufficientDataActions: actions().optional(),
  MetricName: modelString(1, 255).optional(),
  Namespace: modelString(1, 255, /[^:].*/).optional(),
  Statistic: z.enum(STATISTICS).optional(),
  ExtendedStatistic: z.string().optional(),
  Dimensions: dimensions().optional(),
  Period: z.int().min(1).optional(),
  Unit: z.enum(UNITS).optional(),
  EvaluationPeriods: z.int().min(1).optional(),
  DatapointsToAlarm: z.int().min(1).optional(),
  Threshold: z.number().optional(),
  ComparisonOperator: z.enum(COMPARISON_OPERATORS).optional(),
  TreatMissingData: modelString(1, 255).optional(),
  EvaluateLowSampleCountPercentile: modelString(1, 255).optional(),
  Metrics: z.array(metricDataQuery()).optional(),
  Tags: z
    .array(z.object({ Key: modelString(1, 128), Value: modelString(0, 256) }))
    .max(50)
    .optional(),
  ThresholdMetricId: modelString(1, 255).optional(),
  EvaluationCriteria: z.unknown().optional(),
  EvaluationInterval: z.int().optional(),
});
export type PutMetricAlarmInput = z.output<typeof putMetricAlarmSchema>;

export const describeAlarmsSchema = z.object({
  AlarmNames: z.array(alarmName()).max(MAX_ALARM_NAMES).optional(),
  AlarmNamePrefix: modelString(1, 255).optional(),
  AlarmTypes: z.array(z.enum(ALARM_TYPES)).optional(),
  ChildrenOfAlarmName: alarmName().optional(),
  ParentsOfAlarmName: alarmName().optional(),
  StateValue: z.enum(STATE_VALUES).optional(),
  ActionPrefix: modelString(1, 1024).optional(),
  MaxRecords: z.int().min(1).max(MAX_RECORDS.max).optional(),
  NextToken: z.string().optional(),
});
export type DescribeAlarmsInput = z.output<typeof describeAlarmsSchema>;

export const setAlarmStateSchema = z.object({
  AlarmName: alarmName(),
  StateValue: z.enum(STATE_VALUES),
  StateReason: modelString(0, 1023),
  StateReasonData: modelString(0, 4000).optional(),
});

export const deleteAlarmsSchema = z.object({
  AlarmNames: z.array(alarmName()).max(MAX_ALARM_NAMES),
});

/** `parseRequest` of the KMS endpoint, with its errors as CloudWatch errors of the same name. */
export function parseCloudWatchRequest<S extends z.ZodType>(
  schema: S,
  raw: Record<string, unknown>,
): z.output<S> {
  try {
    return parseRequest(schema, raw);
  } catch (err) {
    if (err instanceof KmsError) throw new CloudWatchError(err.type, err.message);
    throw err;
  }
}

const invalid = (message: string) => new CloudWatchError('ValidationException', message);
const exclusive = (a: string, b: string) =>
  new CloudWatchError(
    'InvalidParameterCombinationException',
    `The parameters ${a} and ${b} are mutually exclusive and you have specified both.`,
  );

/** The members of the single-metric form, none of which may accompany `Metrics`. */
const SINGLE_METRIC_MEMBERS = [
  'MetricName',
  'Namespace',
  'Dimensions',
  'Period',
  'Unit',
  'Statistic',
  'ExtendedStatistic',
] as const;

/**
 * The rules across members: exactly one metric form (`MetricName` or `Metrics`; PromQL alarms,
 * `EvaluationCriteria`, are not simulated), its required members, and the evaluation range.
 */
export function checkMetricAlarm(input: PutMetricAlarmInput): void {
  if (input.EvaluationCriteria !== undefined || input.EvaluationInterval !== undefined) {
    throw invalid(
      'The simulator does not model PromQL alarms (EvaluationCriteria, EvaluationInterval); use MetricName or Metrics.',
    );
  }
  if (input.Metrics !== undefined) {
    for (const member of SINGLE_METRIC_MEMBERS) {
      if (input[member] !== undefined) throw exclusive('Metrics', member);
    }
    checkMetricsArray(input.Metrics);
  } else {
    if (input.MetricName === undefined) throw invalid('MetricName must not be null');
    if (input.Namespace === undefined) throw invalid('Namespace must not be null');
    if (input.Period === undefined) throw invalid('Period must not be null');
    if (input.Statistic !== undefined && input.ExtendedStatistic !== undefined) {
      throw exclusive('Statistic', 'ExtendedStatistic');
    }
    if (input.Statistic === undefined && input.ExtendedStatistic === undefined) {
      throw invalid('Either Statistic or ExtendedStatistic must be specified.');
    }
    if (input.ExtendedStatistic !== undefined && !/^(p|tm|wm|tc|ts|pr|iqm)/i.test(input.ExtendedStatistic)) {
      throw new CloudWatchError(
        'InvalidParameterValueException',
        `The value ${input.ExtendedStatistic} for parameter ExtendedStatistic is not supported.`,
      );
    }
    checkPeriod(input.Period, 'Period');
  }
  if (input.EvaluationPeriods === undefined) throw invalid('EvaluationPeriods must not be null');
  if (input.ComparisonOperator === undefined) throw invalid('ComparisonOperator must not be null');
  if (input.Threshold === undefined && input.ThresholdMetricId === undefined) {
    throw invalid('Threshold must not be null');
  }
  if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods) {
    throw invalid('DatapointsToAlarm must be less than or equal to EvaluationPeriods.');
  }
  if (input.Period !== undefined) {
    const total = input.Period * input.EvaluationPeriods;
    const limit = input.Period < 3_600 ? 86_400 : 604_800;
    if (total > limit) {
      throw invalid(
        `The evaluation period (Period * EvaluationPeriods = ${total} seconds) must not exceed ${limit} seconds.`,
      );
    }
  }
  const treat = input.TreatMissingData;
  if (treat !== undefined && !(TREAT_MISSING_DATA as readonly string[]).includes(treat)) {
    throw invalid(
      `The value ${treat} is not supported for TreatMissingData parameter. Supported values are [${TREAT_MISSING_DATA.join(', ')}].`,
    );
  }
  const low = input.EvaluateLowSampleCountPercentile;
  if (low !== undefined && low !== 'evaluate' && low !== 'ignore') {
    throw invalid(
      `Option ${low} is not supported. Supported options for parameter EvaluateLowSampleCountPercentile are evaluate and ignore.`,
    );
  }
}

function checkPeriod(period: number, member: string): void {
  if (![10, 20, 30].includes(period) && period % 60 !== 0) {
    throw invalid(`${member} must be 10, 20, 30 or a multiple of 60.`);
  }
}

function checkMetricsArray(metrics: NonNullable<PutMetricAlarmInput['Metrics']>): void {
  if (metrics.length === 0) throw invalid('Metrics must contain at least one element.');
  const ids = new Set<string>();
  for (const query of metrics) {
    if (ids.has(query.Id)) throw invalid(`The Id ${query.Id} is used more than once in Metrics.`);
    ids.add(query.Id);
    if ((query.MetricStat === undefined) === (query.Expression === undefined)) {
      throw invalid(`Exactly one of MetricStat and Expression must be specified for the metric ${query.Id}.`);
    }
    if (query.MetricStat) checkPeriod(query.MetricStat.Period, `The period of metric ${query.Id}`);
  }
  if (metrics.filter((query) => query.ReturnData !== false).length !== 1) {
    throw invalid('Exactly one element of the metrics list should return data.');
  }
}
