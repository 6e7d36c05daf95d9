/**
 * What the benchmark measures, from the records of Temporal (event histories), KMS (the
 * simulator's call log) and Linux (/proc): pure functions and small readers.
 */
import { readFileSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { peakCallsInAnyWindow } from '../src/kms/rate-limit';
import { CUSTOM_KEY_STORE_OPERATIONS, type SimCall } from '../src/sim';

/** The custom-key-store operations, each with its own KMS quota per account and Region. */
export const BUDGETED_OPERATIONS = [
  'DescribeCustomKeyStores',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
] as const;
export type BudgetedOperation = (typeof BUDGETED_OPERATIONS)[number];

const CKS: ReadonlySet<string> = new Set(CUSTOM_KEY_STORE_OPERATIONS);

export function customKeyStoreCalls(calls: readonly SimCall[]): SimCall[] {
  return calls.filter((c) => CKS.has(c.operation));
}

/** `<account>/<region>`: one target (account-Region) of a fleet, as KMS's quotas see it. */
export function targetOf(call: Pick<SimCall, 'account' | 'region'>): string {
  return `${call.account ?? '?'}/${call.region ?? '?'}`;
}

/** An unfiltered DescribeCustomKeyStores: a listing of the whole account-Region (the shared poller's). */
export function isListing(call: SimCall): boolean {
  return (
    call.operation === 'DescribeCustomKeyStores' &&
    call.params.CustomKeyStoreId === undefined &&
    call.params.CustomKeyStoreName === undefined
  );
}

export interface KeyPeak {
  /** The most calls of one (account, Region, operation) in any one-second window (sliding). */
  readonly max: number;
  /** `<account>/<region>/<operation>` where it was seen. */
  readonly key: string;
  readonly keys: number;
  /** Keys whose peak exceeded the budget. */
  readonly keysOverBudget: number;
}

export interface CallStats {
  readonly total: number;
  readonly byOperation: Readonly<Record<BudgetedOperation, number>>;
  readonly throttled: number;
  /** Calls of each operation in each whole second since `t0`, all targets together. */
  readonly perSecond: Readonly<Record<BudgetedOperation, readonly number[]>>;
  readonly peakPerKey: KeyPeak;
  readonly targets: number;
}

function emptyByOperation<T>(make: () => T): Record<BudgetedOperation, T> {
  return {
    DescribeCustomKeyStores: make(),
    ConnectCustomKeyStore: make(),
    DisconnectCustomKeyStore: make(),
  };
}

function isBudgeted(operation: string): operation is BudgetedOperation {
  return (BUDGETED_OPERATIONS as readonly string[]).includes(operation);
}

export function callStats(calls: readonly SimCall[], t0: number, budgetRps: number): CallStats {
  const cks = customKeyStoreCalls(calls).filter((c) => isBudgeted(c.operation));
  const times = cks.map((c) => Date.parse(c.at));
  const seconds = times.length ? Math.floor((Math.max(...times) - t0) / 1000) + 1 : 0;
  const perSecond = emptyByOperation(() => new Array<number>(Math.max(0, seconds)).fill(0));
  const byOperation = emptyByOperation(() => 0);
  const arrivals = new Map<string, number[]>();
  cks.forEach((call, i) => {
    const op = call.operation as BudgetedOperation;
    const at = times[i] ?? t0;
    byOperation[op]++;
    const bucket = Math.floor((at - t0) / 1000);
    const series = perSecond[op];
    if (bucket >= 0 && bucket < series.length) series[bucket] = (series[bucket] ?? 0) + 1;
    const key = `${targetOf(call)}/${op}`;
    const list = arrivals.get(key) ?? [];
    list.push(at);
    arrivals.set(key, list);
  });
  let peak: KeyPeak = { max: 0, key: '—', keys: arrivals.size, keysOverBudget: 0 };
  for (const [key, at] of arrivals) {
    const p = peakCallsInAnyWindow(at);
    peak = {
      ...peak,
      ...(p > peak.max ? { max: p, key } : {}),
      keysOverBudget: peak.keysOverBudget + (p > budgetRps ? 1 : 0),
    };
  }
  return {
    total: cks.length,
    byOperation,
    throttled: cks.filter((c) => c.outcome === 'ThrottlingException').length,
    perSecond,
    peakPerKey: peak,
    targets: new Set(cks.map(targetOf)).size,
  };
}

/**
 * The quota-bound minimum of a fleet: no schedule within the budget finishes sooner. For each
 * target (account-Region), its calls of each operation ÷ the budget (each operation has its own
 * quota, so the slowest one bounds the target), plus the time one store cannot avoid between its
 * calls — disconnect, window, connect and the confirmation's settle time — once per wave of stores
 * (the target's stores ÷ how many of them run at once). Targets run in parallel, so the fleet's
 * minimum is its slowest target's.
 */
export interface QuotaBound {
  readonly ms: number;
  /** The target that sets it, its calls of each operation, and the part of `ms` that is waiting. */
  readonly target: string;
  readonly calls: Readonly<Record<BudgetedOperation, number>>;
  readonly callsMs: number;
  readonly serialMs: number;
}

export function quotaBound(
  calls: readonly SimCall[],
  options: {
    readonly budgetRps: number;
    /** Stores of each target (`<account>/<region>`). */
    readonly storesPerTarget: ReadonlyMap<string, number>;
    /** How many stores of one target run at once. */
    readonly concurrencyPerTarget: number;
    /** Disconnect + window + connect + settle of one store. */
    readonly serialMsPerStore: number;
  },
): QuotaBound {
  const perTarget = new Map<string, Record<BudgetedOperation, number>>();
  for (const target of options.storesPerTarget.keys())
    perTarget.set(
      target,
      emptyByOperation(() => 0),
    );
  for (const call of customKeyStoreCalls(calls)) {
    if (!isBudgeted(call.operation)) continue;
    const target = targetOf(call);
    const counts = perTarget.get(target) ?? emptyByOperation(() => 0);
    counts[call.operation]++;
    perTarget.set(target, counts);
  }
  let best: QuotaBound = {
    ms: 0,
    target: '—',
    calls: emptyByOperation(() => 0),
    callsMs: 0,
    serialMs: 0,
  };
  for (const [target, counts] of perTarget) {
    const callsMs = (Math.max(...Object.values(counts)) / options.budgetRps) * 1000;
    const stores = options.storesPerTarget.get(target) ?? 0;
    const waves = Math.ceil(stores / Math.max(1, options.concurrencyPerTarget));
    const serialMs = waves * options.serialMsPerStore;
    if (callsMs + serialMs > best.ms)
      best = { ms: callsMs + serialMs, target, calls: counts, callsMs, serialMs };
  }
  return best;
}

/**
 * What polling costs while runs wait: DescribeCustomKeyStores calls made for waits (listings of
 * the shared poller, and a store's own Describes while one of its waits was open) per store-minute
 * of waiting (the waits' spans, summed over runs).
 */
export interface WaitPolling {
  readonly storeMinutes: number;
  readonly listings: number;
  readonly ownDescribes: number;
  readonly perStoreMinute: number;
}

export function waitPolling(calls: readonly SimCall[], runs: readonly RunHistory[]): WaitPolling {
  const spans = new Map<string, (readonly [number, number])[]>();
  let waitedMs = 0;
  for (const run of runs) {
    const list = spans.get(run.customKeyStoreId) ?? [];
    for (const span of run.waitSpans) {
      list.push([span.startMs, span.endMs]);
      waitedMs += Math.max(0, span.endMs - span.startMs);
    }
    spans.set(run.customKeyStoreId, list);
  }
  let listings = 0;
  let ownDescribes = 0;
  for (const call of calls) {
    if (call.operation !== 'DescribeCustomKeyStores') continue;
    if (isListing(call)) {
      listings++;
      continue;
    }
    const id = call.params.CustomKeyStoreId;
    const at = Date.parse(call.at);
    if (typeof id === 'string' && spans.get(id)?.some(([start, end]) => at >= start && at <= end))
      ownDescribes++;
  }
  const storeMinutes = waitedMs / 60_000;
  return {
    storeMinutes,
    listings,
    ownDescribes,
    perStoreMinute: storeMinutes > 0 ? (listings + ownDescribes) / storeMinutes : 0,
  };
}

/** Peak resident set size of a process so far (VmHWM), in MiB; undefined off Linux. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The activities that poll a store until it reaches a state (activities/keystore.ts). */
export const WAIT_ACTIVITIES: ReadonlySet<string> = new Set([
  'waitForConnectionState',
  'confirmConnectionState',
]);

/** What one run's event history says. */
export interface RunHistory {
  readonly workflowId: string;
  readonly customKeyStoreId: string;
  readonly events: number;
  readonly activities: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Activity attempts that failed with throttling and were retried (Temporal records the last failure on the next attempt). */
  readonly throttledAttempts: number;
  /** Throttled polls absorbed inside waits (the waits' `transientErrors`). */
  readonly throttledPolls: number;
  /** When each wait activity ran (its last attempt), for polling per store-minute of waiting. */
  readonly waitSpans: readonly { readonly startMs: number; readonly endMs: number }[];
  /** Activities on the `-kms` queue (the short KMS calls) scheduled, and completed. */
  readonly kmsActivities: { readonly scheduled: number; readonly completed: number };
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type Payloads = NonNullable<NonNullable<HistoryEvent['activityTaskCompletedEventAttributes']>['result']>;

function millis(event: HistoryEvent | undefined): number {
  const t = event?.eventTime;
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

function payloadValue(payloads: Payloads | null | undefined): unknown {
  const payload = payloads?.payloads?.[0];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined;
  }
}

const KMS_QUEUE_SUFFIX = '-kms';

export async function runHistory(
  client: Client,
  run: { readonly workflowId: string; readonly runId?: string; readonly customKeyStoreId: string },
): Promise<RunHistory> {
  const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const events = history.events ?? [];
  let activities = 0;
  let throttledAttempts = 0;
  let throttledPolls = 0;
  const kmsActivities = { scheduled: 0, completed: 0 };
  /** Scheduled event id → what the activity is. */
  const scheduled = new Map<string, { wait: boolean; kms: boolean }>();
  const waitStarts = new Map<string, number>();
  const waitSpans: { startMs: number; endMs: number }[] = [];
  const ended = (scheduledEventId: unknown, event: HistoryEvent) => {
    const id = String(scheduledEventId);
    const start = waitStarts.get(id);
    if (start !== undefined) waitSpans.push({ startMs: start, endMs: millis(event) });
  };
  for (const event of events) {
    const scheduling = event.activityTaskScheduledEventAttributes;
    if (scheduling) {
      activities++;
      const kms = (scheduling.taskQueue?.name ?? '').endsWith(KMS_QUEUE_SUFFIX);
      if (kms) kmsActivities.scheduled++;
      scheduled.set(String(event.eventId), {
        wait: WAIT_ACTIVITIES.has(scheduling.activityType?.name ?? ''),
        kms,
      });
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) > 1 && /Throttl/i.test(started.lastFailure?.message ?? '')) {
      throttledAttempts++;
    }
    if (started && scheduled.get(String(started.scheduledEventId))?.wait) {
      waitStarts.set(String(started.scheduledEventId), millis(event));
    }
    const closed =
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (closed) ended(closed.scheduledEventId, event);
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      ended(completed.scheduledEventId, event);
      if (scheduled.get(String(completed.scheduledEventId))?.kms) kmsActivities.completed++;
      const value = payloadValue(completed.result);
      if (value && typeof value === 'object' && 'transientErrors' in value) {
        throttledPolls += Number(value.transientErrors) || 0;
      }
    }
  }
  return {
    workflowId: run.workflowId,
    customKeyStoreId: run.customKeyStoreId,
    events: events.length,
    activities,
    startMs: millis(events[0]),
    endMs: millis(events[events.length - 1]),
    throttledAttempts,
    throttledPolls,
    waitSpans,
    kmsActivities,
  };
}

/** Maps with at most `limit` calls in flight (fetching hundreds of histories politely). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

/** The most runs whose [start, end] spans overlap at one moment. */
export function maxOverlap(spans: readonly { startMs: number; endMs: number }[]): number {
  const edges = spans.flatMap((s) => [
    { at: s.startMs, d: 1 },
    { at: s.endMs, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let now = 0;
  let peak = 0;
  for (const edge of edges) {
    now += edge.d;
    peak = Math.max(peak, now);
  }
  return peak;
}

export function summary(values: readonly number[]): { min: number; max: number; mean: number } {
  if (!values.length) return { min: 0, max: 0, mean: 0 };
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    mean: values.reduce((a, b) => a + b, 0) / values.length,
  };
}
