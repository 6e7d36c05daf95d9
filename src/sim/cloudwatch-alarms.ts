/**
 * CloudWatch metric alarms, per partition (one account in one Region, as CloudWatch keeps them):
 * PutMetricAlarm, DescribeAlarms, SetAlarmState and DeleteAlarms. The simulator has no metrics,
 * so an alarm never evaluates anything: it starts in `INSUFFICIENT_DATA` ("Unchecked: Initial
 * alarm creation", as CloudWatch says) and stays in whatever state SetAlarmState put it, which is
 * how a test or a rehearsal makes an alarm fire.
 *
 * The alarms of a partition hang off its `SimState` object (a WeakMap, not a field): KMS's state
 * stays KMS's, and the alarms share its lifetime — a `reset` replaces the partitions' states and
 * so drops their alarms, a state file restores both together (persistence.ts).
 *
 * Behaviour, from the CloudWatch API reference:
 * - PutMetricAlarm on an existing name replaces its configuration and keeps its state; tags are
 *   applied only when the alarm is created.
 * - DescribeAlarms lists alarms sorted by name; without `AlarmTypes` only metric alarms; names
 *   that do not exist are left out silently; `AlarmNames` and `AlarmNamePrefix` exclude each
 *   other; pages of `MaxRecords` (default 50) with an opaque `NextToken`.
 * - SetAlarmState to the state the alarm is already in changes nothing; a change sets the state,
 *   its reason (and JSON reason data) and both timestamps.
 * - DeleteAlarms deletes all the named alarms or, when one does not exist, none.
 */
import { z } from 'zod';
import { CloudWatchError, cloudWatchTime } from './cloudwatch-protocol';
import {
  checkMetricAlarm,
  MAX_RECORDS,
  STATE_VALUES,
  type DescribeAlarmsInput,
  type PutMetricAlarmInput,
  type StateValue,
} from './cloudwatch-validation';
import type { ArnContext } from './keys';
import { paginate } from './paging';
import type { JsonObject } from './protocol';
import type { SimState } from './state';

export const INITIAL_STATE_REASON = 'Unchecked: Initial alarm creation';

/**
 * One metric alarm as stored (and persisted): its configuration as given (the PutMetricAlarm
 * members other than `AlarmName` and `Tags`), its tags, and its state. Times are epoch ms;
 * `stateUpdatedAt` is when the state was last set, `stateTransitionedAt` when its value changed.
 */
export type AlarmRecord = z.infer<typeof persistedAlarmSchema>;

/** An alarm in the state file. */
export const persistedAlarmSchema = z.object({
  name: z.string().min(1),
  config: z.record(z.string(), z.json()),
  tags: z.array(z.object({ Key: z.string(), Value: z.string() })),
  configUpdatedAt: z.number().finite(),
  state: z.enum(STATE_VALUES),
  stateReason: z.string(),
  stateReasonData: z.string().optional(),
  stateUpdatedAt: z.number().finite(),
  stateTransitionedAt: z.number().finite(),
});

const tables = new WeakMap<SimState, Map<string, AlarmRecord>>();

/** The alarms of one partition's state, created empty on first use. */
export function alarmsOf(state: SimState): Map<string, AlarmRecord> {
  let table = tables.get(state);
  if (!table) {
    table = new Map();
    tables.set(state, table);
  }
  return table;
}

/** What an alarm operation sees: one partition's alarms, its ARN context, the clock, the save. */
export interface AlarmScope {
  readonly alarms: Map<string, AlarmRecord>;
  readonly arn: ArnContext;
  now(): number;
  persist(): void;
}

export function putMetricAlarm(scope: AlarmScope, input: PutMetricAlarmInput): JsonObject {
  checkMetricAlarm(input);
  const { AlarmName: name, Tags: tags, ...rest } = input;
  const config = JSON.parse(JSON.stringify(rest)) as AlarmRecord['config'];
  const now = scope.now();
  const existing = scope.alarms.get(name);
  if (existing) {
    existing.config = config;
    existing.configUpdatedAt = now;
  } else {
    scope.alarms.set(name, {
      name,
      config,
      tags: tags ?? [],
      configUpdatedAt: now,
      state: 'INSUFFICIENT_DATA',
      stateReason: INITIAL_STATE_REASON,
      stateUpdatedAt: now,
      stateTransitionedAt: now,
    });
  }
  scope.persist();
  return {};
}

export function describeAlarms(scope: AlarmScope, input: DescribeAlarmsInput): JsonObject {
  if (input.AlarmNames !== undefined && input.AlarmNamePrefix !== undefined) {
    throw new CloudWatchError(
      'InvalidParameterCombinationException',
      'The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.',
    );
  }
  const family = input.ChildrenOfAlarmName ?? input.ParentsOfAlarmName;
  if (family !== undefined) {
    const others = (
      ['AlarmNames', 'AlarmNamePrefix', 'AlarmTypes', 'StateValue', 'ActionPrefix'] as const
    ).some((member) => input[member] !== undefined);
    const both = input.ChildrenOfAlarmName !== undefined && input.ParentsOfAlarmName !== undefined;
    if (others || both) {
      throw new CloudWatchError(
        'ValidationException',
        'With ChildrenOfAlarmName or ParentsOfAlarmName, only MaxRecords and NextToken may be specified.',
      );
    }
    // Only composite alarms have children or parents, and the simulator has none.
    return { MetricAlarms: [], CompositeAlarms: [] };
  }
  const types = input.AlarmTypes ?? ['MetricAlarm'];
  const names = input.AlarmNames ? new Set(input.AlarmNames) : undefined;
  const matching = types.includes('MetricAlarm')
    ? [...scope.alarms.values()]
        .filter((alarm) => names === undefined || names.has(alarm.name))
        .filter(
          (alarm) => input.AlarmNamePrefix === undefined || alarm.name.startsWith(input.AlarmNamePrefix),
        )
        .filter((alarm) => input.StateValue === undefined || alarm.state === input.StateValue)
        .filter((alarm) => input.ActionPrefix === undefined || usesAction(alarm, input.ActionPrefix))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    : [];
  let page;
  try {
    page = paginate(
      matching,
      (alarm) => alarm.name,
      'DescribeAlarms',
      input.MaxRecords ?? MAX_RECORDS.default,
      input.NextToken,
    );
  } catch {
    throw new CloudWatchError(
      'InvalidNextToken',
      'The value of NextToken is not a token this operation returned.',
    );
  }
  return {
    MetricAlarms: page.items.map((alarm) => metricAlarm(scope.arn, alarm)),
    CompositeAlarms: [],
    ...(types.includes('LogAlarm') ? { LogAlarms: [] } : {}),
    NextToken: page.nextMarker,
  };
}

export function setAlarmState(
  scope: AlarmScope,
  input: {
    AlarmName: string;
    StateValue: StateValue;
    StateReason: string;
    StateReasonData?: string | undefined;
  },
): JsonObject {
  if (input.StateReasonData !== undefined) {
    try {
      JSON.parse(input.StateReasonData);
    } catch {
      throw new CloudWatchError('InvalidFormatFault', 'StateReasonData is not valid JSON.');
    }
  }
  const alarm = scope.alarms.get(input.AlarmName);
  if (!alarm) throw new CloudWatchError('ResourceNotFound', `Alarm ${input.AlarmName} not found`);
  if (alarm.state === input.StateValue) return {};
  const now = scope.now();
  alarm.state = input.StateValue;
  alarm.stateReason = input.StateReason;
  alarm.stateReasonData = input.StateReasonData;
  alarm.stateUpdatedAt = now;
  alarm.stateTransitionedAt = now;
  scope.persist();
  return {};
}

export function deleteAlarms(scope: AlarmScope, input: { AlarmNames: string[] }): JsonObject {
  const missing = input.AlarmNames.filter((name) => !scope.alarms.has(name));
  if (missing.length > 0) {
    throw new CloudWatchError(
      'ResourceNotFound',
      `${missing.length} of the alarms in the request do not exist: ${missing.join(', ')}. No alarm was deleted.`,
    );
  }
  for (const name of input.AlarmNames) scope.alarms.delete(name);
  scope.persist();
  return {};
}

function usesAction(alarm: AlarmRecord, prefix: string): boolean {
  return ['AlarmActions', 'OKActions', 'InsufficientDataActions'].some((member) => {
    const list = alarm.config[member];
    return (
      Array.isArray(list) && list.some((action) => typeof action === 'string' && action.startsWith(prefix))
    );
  });
}

/** An alarm as DescribeAlarms returns it (`MetricAlarm`). */
function metricAlarm(arn: ArnContext, alarm: AlarmRecord): JsonObject {
  return {
    AlarmName: alarm.name,
    AlarmArn: `arn:${arn.partition}:cloudwatch:${arn.region}:${arn.account}:alarm:${alarm.name}`,
    ActionsEnabled: true,
    OKActions: [],
    AlarmActions: [],
    InsufficientDataActions: [],
    Dimensions: alarm.config['Metrics'] === undefined ? [] : undefined,
    ...alarm.config,
    AlarmConfigurationUpdatedTimestamp: cloudWatchTime(alarm.configUpdatedAt),
    StateValue: alarm.state,
    StateReason: alarm.stateReason,
    StateReasonData: alarm.stateReasonData,
    StateUpdatedTimestamp: cloudWatchTime(alarm.stateUpdatedAt),
    StateTransitionedTimestamp: cloudWatchTime(alarm.stateTransitionedAt),
  };
}

/** The partition's alarms for the state file, sorted by name; empty when it has none. */
export function serializeAlarms(state: SimState): AlarmRecord[] {
  return [...alarmsOf(state).values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((alarm) => ({ ...alarm, tags: alarm.tags.map((tag) => ({ ...tag })) }));
}

export function restoreAlarms(state: SimState, alarms: readonly AlarmRecord[]): void {
  const table = alarmsOf(state);
  for (const alarm of alarms) {
    table.set(alarm.name, {
      ...alarm,
      config: { ...alarm.config },
      tags: alarm.tags.map((tag) => ({ ...tag })),
    });
  }
}

export function hasAlarms(state: SimState): boolean {
  return alarmsOf(state).size > 0;
}
