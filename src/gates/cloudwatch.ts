/**
 * The CloudWatch alarms gate: DescribeAlarms in the store's account and Region (through the
 * store's execution role when it has one, src/aws/target-clients.ts), for the named alarms and for
 * the alarms whose names start with the prefix — two listings, since DescribeAlarms takes one or
 * the other — every page, metric and composite alarms alike. The state is not filtered on the
 * server: the evidence lists every matched alarm with its state, so an auditor sees what was
 * checked, not only what blocked.
 *
 * Blocked while any matched alarm is in `ALARM`, and, failing closed, when a named alarm does not
 * exist or the prefix matches none: a misspelt name must not quietly turn a gate into "open".
 * The worker (or the execution role) needs `cloudwatch:DescribeAlarms`.
 *
 * Clients: the Region's endpoint, or `AWS_ENDPOINT_URL_CLOUDWATCH` (which the SDK reads itself),
 * or an explicit `endpoint` (the simulator's URL); SDK retries off, as for KMS — a waiting run's
 * next check is the retry.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  type DescribeAlarmsCommandInput,
} from '@aws-sdk/client-cloudwatch';
import {
  awsClientSettings,
  targetClientProvider,
  type AwsClientConfig,
  type TargetClientOptions,
  type TargetClientProvider,
} from '../aws/target-clients';
import type { GateResult } from '../domain/gates';
import { accountLabel, type KmsTarget } from '../domain/location';
import { oneLine, safeEvidence, unansweredGate } from './report';

export type CloudWatchClientProvider = TargetClientProvider<CloudWatchClient>;

export type CloudWatchClientConfig = AwsClientConfig;

export function createCloudWatchClient(config: CloudWatchClientConfig): CloudWatchClient {
  return new CloudWatchClient(awsClientSettings(config));
}

export interface CloudWatchClientProviderOptions
  extends Omit<CloudWatchClientConfig, 'region' | 'credentials'>, TargetClientOptions {}

/** CloudWatch clients per target, made like the KMS clients (and assuming the same roles). */
export function cloudWatchClientProvider(
  options: CloudWatchClientProviderOptions = {},
): CloudWatchClientProvider {
  const { stsEndpoint, maxClients, credentials, ...config } = options;
  return targetClientProvider(
    (region, clientCredentials) =>
      createCloudWatchClient({
        ...config,
        region,
        ...(clientCredentials ? { credentials: clientCredentials } : {}),
      }),
    {
      ...(credentials ? { credentials } : {}),
      ...(stsEndpoint ? { stsEndpoint } : {}),
      ...(maxClients !== undefined ? { maxClients } : {}),
    },
  );
}

/** A prefix matching more alarms than this is refused: it does not name a gate's alarms. */
export const MAX_MATCHED_ALARMS = 5_000;
const PAGE_SIZE = 100;
/** The reason names at most this many alarms. */
const REASON_ITEMS = 3;

interface SeenAlarm {
  readonly name: string;
  readonly type: 'metric' | 'composite';
  readonly state: string;
  /** When the state was last set (StateUpdatedTimestamp). */
  readonly since: string | undefined;
  readonly stateReason: string | undefined;
}

/** How the gate is named in reports: `alarms a, b; prefix payments-`. */
export function cloudWatchGateName(spec: { names: readonly string[]; prefix: string | undefined }): string {
  const parts = [
    ...(spec.names.length ? [`alarms ${spec.names.join(', ')}`] : []),
    ...(spec.prefix !== undefined ? [`prefix ${spec.prefix}`] : []),
  ];
  return oneLine(parts.join('; '), 200);
}

export async function checkCloudWatchAlarms(
  client: CloudWatchClient,
  target: KmsTarget,
  spec: { readonly names: readonly string[]; readonly prefix: string | undefined },
  options: { signal?: AbortSignal } = {},
): Promise<GateResult> {
  const name = cloudWatchGateName(spec);
  const where = { account: accountLabel(target), region: target.region };
  const seen = new Map<string, SeenAlarm>();
  let prefixMatches = 0;
  try {
    if (spec.names.length > 0) await list(client, { AlarmNames: [...spec.names] }, seen, options.signal);
    if (spec.prefix !== undefined) {
      prefixMatches = await list(client, { AlarmNamePrefix: spec.prefix }, seen, options.signal);
    }
  } catch (err) {
    return unansweredGate('cloudWatchAlarms', name, describeError(err, options.signal), {
      ...where,
      names: spec.names,
      prefix: spec.prefix,
    });
  }
  const alarms = [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const missing = spec.names.filter((n) => !seen.has(n));
  const inAlarm = alarms.filter((a) => a.state === 'ALARM');
  const evidence = safeEvidence({
    ...where,
    names: spec.names,
    prefix: spec.prefix,
    alarmCount: alarms.length,
    alarms: alarms
      .slice(0, 100)
      .map((a) => ({ ...a, stateReason: a.stateReason && oneLine(a.stateReason, 200) })),
    inAlarm: inAlarm.map((a) => a.name),
    missing,
    ...(spec.prefix !== undefined ? { prefixMatches } : {}),
  });
  const problems: string[] = [];
  if (inAlarm.length > 0) {
    const named = inAlarm.slice(0, REASON_ITEMS).map((a) => `${a.name} since ${a.since ?? 'unknown'}`);
    const more = inAlarm.length > REASON_ITEMS ? `, and ${inAlarm.length - REASON_ITEMS} more` : '';
    problems.push(
      inAlarm.length === 1
        ? `alarm ${inAlarm[0]?.name ?? ''} in ALARM since ${inAlarm[0]?.since ?? 'unknown'}`
        : `${inAlarm.length} alarms in ALARM: ${named.join(', ')}${more}`,
    );
  }
  if (missing.length > 0) {
    problems.push(
      missing.length === 1
        ? `alarm ${missing[0] ?? ''} does not exist (a misspelt name would disable the gate)`
        : `alarms ${missing.join(', ')} do not exist (a misspelt name would disable the gate)`,
    );
  }
  if (spec.prefix !== undefined && prefixMatches === 0) {
    problems.push(`no alarm name starts with "${spec.prefix}" (a misspelt prefix would disable the gate)`);
  }
  if (problems.length === 0) return { kind: 'cloudWatchAlarms', name, open: true, reason: 'open', evidence };
  return { kind: 'cloudWatchAlarms', name, open: false, reason: oneLine(problems.join('; ')), evidence };
}

/** Every page of one listing into `seen`; returns how many alarms it matched. */
async function list(
  client: CloudWatchClient,
  filter: Pick<DescribeAlarmsCommandInput, 'AlarmNames' | 'AlarmNamePrefix'>,
  seen: Map<string, SeenAlarm>,
  signal: AbortSignal | undefined,
): Promise<number> {
  let matched = 0;
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new DescribeAlarmsCommand({
        ...filter,
        AlarmTypes: ['CompositeAlarm', 'MetricAlarm'],
        MaxRecords: PAGE_SIZE,
        ...(nextToken ? { NextToken: nextToken } : {}),
      }),
      signal ? { abortSignal: signal } : {},
    );
    const found = [
      ...(page.MetricAlarms ?? []).map((a) => ({ alarm: a, type: 'metric' as const })),
      ...(page.CompositeAlarms ?? []).map((a) => ({ alarm: a, type: 'composite' as const })),
    ];
    for (const { alarm, type } of found) {
      if (!alarm.AlarmName) continue;
      matched += 1;
      seen.set(alarm.AlarmName, {
        name: alarm.AlarmName,
        type,
        state: alarm.StateValue ?? 'unknown',
        since: alarm.StateUpdatedTimestamp?.toISOString(),
        stateReason: alarm.StateReason,
      });
    }
    if (matched > MAX_MATCHED_ALARMS) {
      throw new Error(
        `more than ${MAX_MATCHED_ALARMS} alarms match; name the alarms, or use a longer prefix`,
      );
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return matched;
}

/** What went wrong, in a phrase that says what to do. */
function describeError(err: unknown, signal: AbortSignal | undefined): string {
  if (signal?.aborted) return 'cancelled';
  const name = err instanceof Error ? err.name : 'Error';
  const message = err instanceof Error ? err.message : String(err);
  if (/AccessDenied|UnauthorizedOperation/.test(name)) {
    return `${name}: ${message} — the worker (or the store's execution role) needs cloudwatch:DescribeAlarms`;
  }
  return name === 'Error' ? message : `${name}: ${message}`;
}
