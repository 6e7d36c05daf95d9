/**
 * What the benchmark measures, from the records of Temporal (event histories), KMS (the
 * simulator's call log) and Linux (/proc): pure functions and small readers.
 */
import { readFileSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { peakCallsInAnyWindow } from '../src/kms/rate-limit';
import { CUSTOM_KEY_STORE_OPERATIONS, type SimCall } from '../src/sim';

const CKS: ReadonlySet<string> = new Set(CUSTOM_KEY_STORE_OPERATIONS);

export function customKeyStoreCalls(calls: readonly SimCall[]): SimCall[] {
  return calls.filter((c) => CKS.has(c.operation));
}

export interface CallStats {
  readonly total: number;
  readonly peakPerSecond: number;
  readonly throttled: number;
  /** Calls in each whole second since `t0` (index 0 = the first second). */
  readonly perSecond: readonly number[];
  readonly describePerSecond: readonly number[];
}

export function callStats(calls: readonly SimCall[], t0: number): CallStats {
  const cks = customKeyStoreCalls(calls);
  const times = cks.map((c) => Date.parse(c.at));
  const seconds = times.length ? Math.floor((Math.max(...times) - t0) / 1000) + 1 : 0;
  const perSecond = new Array<number>(Math.max(0, seconds)).fill(0);
  const describePerSecond = new Array<number>(Math.max(0, seconds)).fill(0);
  cks.forEach((call, i) => {
    const bucket = Math.floor(((times[i] ?? t0) - t0) / 1000);
    if (bucket < 0 || bucket >= perSecond.length) return;
    perSecond[bucket] = (perSecond[bucket] ?? 0) + 1;
    if (call.operation === 'DescribeCustomKeyStores')
      describePerSecond[bucket] = (describePerSecond[bucket] ?? 0) + 1;
  });
  return {
    total: cks.length,
    peakPerSecond: peakCallsInAnyWindow(times),
    throttled: cks.filter((c) => c.outcome === 'ThrottlingException').length,
    perSecond,
    describePerSecond,
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

/** What one run's event history says. */
export interface RunHistory {
  readonly workflowId: string;
  readonly events: number;
  readonly activities: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Activity attempts that failed with throttling and were retried (Temporal records the last failure on the next attempt). */
  readonly throttledAttempts: number;
  /** Throttled polls absorbed inside waits (the waits' `transientErrors`). */
  readonly throttledPolls: number;
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

export async function runHistory(client: Client, workflowId: string, runId?: string): Promise<RunHistory> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  let activities = 0;
  let throttledAttempts = 0;
  let throttledPolls = 0;
  for (const event of events) {
    if (event.activityTaskScheduledEventAttributes) activities++;
    const started = event.activityTaskStartedEventAttributes;
    if (started && (started.attempt ?? 1) > 1 && /Throttl/i.test(started.lastFailure?.message ?? '')) {
      throttledAttempts++;
    }
    const completed = event.activityTaskCompletedEventAttributes;
    if (completed) {
      const value = payloadValue(completed.result);
      if (value && typeof value === 'object' && 'transientErrors' in value) {
        throttledPolls += Number(value.transientErrors) || 0;
      }
    }
  }
  return {
    workflowId,
    events: events.length,
    activities,
    startMs: millis(events[0]),
    endMs: millis(events[events.length - 1]),
    throttledAttempts,
    throttledPolls,
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
