/**
 * Which stores are offline because of this runner, asked of Temporal at scrape time.
 *
 * A worker's memory cannot answer that: a window is a durable timer that no worker holds, a run
 * moves between replicas, and a restarted worker knows nothing until the run's next workflow
 * task. Temporal's visibility can: every run upserts its phase as the `MaintenancePhase` search
 * attribute, so "open keyStoreMaintenance runs on this task queue in an offline phase" is one
 * count, right on every replica and after any restart. Each replica asks and reports the same
 * number, so dashboards aggregate with max(), not sum().
 *
 * The count is cached (`cacheMs`, default 5 s) so that scrapes of several Prometheus servers
 * cost one question, and bounded (`timeoutMs`, default 3 s) so a slow visibility store never
 * holds a scrape past Prometheus's own timeout. A failure is counted
 * (`metrics_source_errors_total{source="visibility"}`) and the gauges keep their last values.
 *
 * For the runs that are offline (usually none, never more than a few dozen), the window's end is
 * not in visibility; it is read with each run's `status` query and cached per run for
 * `windowCacheMs` (default 30 s: the end moves only on extendWindow or endWindowNow). A query that
 * fails (no worker answers, a workflow task failing) is counted as `workflow_query`; the run's last
 * known end is used if there is one, otherwise it is left out of the past-the-window numbers.
 */
import type { Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../domain/names';
import { OFFLINE_PHASES } from '../domain/run-metrics';
import { statusQuery } from '../../workflows/messages';
import type { MetricsSource } from './recorder';

export interface OpenRunsSnapshot {
  /** When it was computed (epoch ms). */
  readonly at: number;
  /** Open runs in an offline phase. */
  readonly disconnected: number;
  /** Of those, the runs whose window has ended; absent when it could not be computed this time. */
  readonly pastWindow?: { readonly count: number; readonly maxSeconds: number };
}

export interface OpenRunsReader {
  readonly taskQueue: string;
  /** The latest snapshot, at most `cacheMs` old; undefined when visibility failed. */
  read(): Promise<OpenRunsSnapshot | undefined>;
}

/** What the reader needs from Temporal; `temporalVisibility(client)` is the real one. */
export interface RunsVisibility {
  count(query: string, deadline: number): Promise<number>;
  list(query: string, deadline: number, limit: number): Promise<{ workflowId: string; runId: string }[]>;
  /** The run's window end (ISO), from its `status` query; undefined when it has none yet. */
  windowEnd(workflowId: string, runId: string, deadline: number): Promise<string | undefined>;
}

export function temporalVisibility(client: Client): RunsVisibility {
  return {
    count: (query, deadline) =>
      client.withDeadline(deadline, async () => (await client.workflow.count(query)).count),
    list: (query, deadline, limit) =>
      client.withDeadline(deadline, async () => {
        const runs: { workflowId: string; runId: string }[] = [];
        for await (const wf of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
          runs.push({ workflowId: wf.workflowId, runId: wf.runId });
          if (runs.length >= limit) break;
        }
        return runs;
      }),
    windowEnd: (workflowId, runId, deadline) =>
      client.withDeadline(
        deadline,
        async () => (await client.workflow.getHandle(workflowId, runId).query(statusQuery)).window.endsAt,
      ),
  };
}

export interface OpenRunsOptions {
  readonly visibility: RunsVisibility;
  /** The deployment's task queue: runs of other deployments in the namespace are not counted. */
  readonly taskQueue: string;
  readonly cacheMs?: number;
  readonly timeoutMs?: number;
  readonly windowCacheMs?: number;
  /** Ask offline runs for their window's end (default true). */
  readonly pastWindow?: boolean;
  /** At most this many offline runs are asked (default 200). */
  readonly maxRuns?: number;
  readonly onError: (source: MetricsSource, err: unknown) => void;
  readonly now?: () => number;
}

/** The visibility query: open runs of this task queue in an offline phase. */
export function offlineRunsQuery(taskQueue: string): string {
  if (/['"\\]/.test(taskQueue)) {
    throw new Error(
      `the task queue ${JSON.stringify(taskQueue)} has a quote or backslash; it cannot be put in a visibility query`,
    );
  }
  const phases = OFFLINE_PHASES.map((p) => `'${p}'`).join(', ');
  return [
    `WorkflowType = '${WORKFLOW_TYPES.maintenance}'`,
    `ExecutionStatus = 'Running'`,
    `TaskQueue = '${taskQueue}'`,
    `${SEARCH_ATTRIBUTES.phase.name} IN (${phases})`,
  ].join(' AND ');
}

class Timeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer within ${ms} ms`);
    this.name = 'Timeout';
  }
}

/** The promise, or a Timeout once `deadline` has passed (the call itself has the same deadline). */
function until<T>(promise: Promise<T>, deadline: number, what: string, now: () => number): Promise<T> {
  const ms = Math.max(0, deadline - now());
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export class OpenRuns implements OpenRunsReader {
  readonly taskQueue: string;
  private readonly query: string;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly windowCacheMs: number;
  private readonly now: () => number;
  private last: OpenRunsSnapshot | undefined;
  private lastAttempt: { at: number; ok: boolean } | undefined;
  private inFlight: Promise<OpenRunsSnapshot | undefined> | undefined;
  private readonly windowEnds = new Map<string, { end: string; at: number }>();

  constructor(private readonly options: OpenRunsOptions) {
    this.taskQueue = options.taskQueue;
    this.query = offlineRunsQuery(options.taskQueue);
    this.cacheMs = options.cacheMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 3_000;
    this.windowCacheMs = options.windowCacheMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  read(): Promise<OpenRunsSnapshot | undefined> {
    const attempt = this.lastAttempt;
    if (attempt && this.now() - attempt.at < this.cacheMs) {
      return Promise.resolve(attempt.ok ? this.last : undefined);
    }
    // One question at a time, whatever the number of scrapes and gauges asking.
    this.inFlight ??= this.refresh().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async refresh(): Promise<OpenRunsSnapshot | undefined> {
    const started = this.now();
    const deadline = started + this.timeoutMs;
    let disconnected: number;
    try {
      disconnected = await until(
        this.options.visibility.count(this.query, deadline),
        deadline,
        'counting open runs',
        this.now,
      );
    } catch (err) {
      this.lastAttempt = { at: started, ok: false };
      this.options.onError('visibility', err);
      return undefined;
    }
    const pastWindow =
      this.options.pastWindow === false ? undefined : await this.pastWindow(disconnected, deadline);
    const snapshot: OpenRunsSnapshot = {
      at: this.now(),
      disconnected,
      ...(pastWindow ? { pastWindow } : {}),
    };
    this.last = snapshot;
    this.lastAttempt = { at: started, ok: true };
    return snapshot;
  }

  private async pastWindow(disconnected: number, deadline: number): Promise<OpenRunsSnapshot['pastWindow']> {
    if (disconnected === 0) {
      this.windowEnds.clear();
      return { count: 0, maxSeconds: 0 };
    }
    let runs: { workflowId: string; runId: string }[];
    try {
      runs = await until(
        this.options.visibility.list(this.query, deadline, this.options.maxRuns ?? 200),
        deadline,
        'listing offline runs',
        this.now,
      );
    } catch (err) {
      this.options.onError('visibility', err);
      return undefined;
    }
    const live = new Set(runs.map((r) => r.runId));
    for (const runId of this.windowEnds.keys()) if (!live.has(runId)) this.windowEnds.delete(runId);
    const ends = await Promise.all(runs.map((run) => this.windowEnd(run, deadline)));
    const now = this.now();
    let count = 0;
    let maxSeconds = 0;
    for (const end of ends) {
      const endMs = end === undefined ? NaN : Date.parse(end);
      if (!Number.isFinite(endMs) || endMs >= now) continue;
      count++;
      maxSeconds = Math.max(maxSeconds, (now - endMs) / 1000);
    }
    return { count, maxSeconds };
  }

  private async windowEnd(run: { workflowId: string; runId: string }, deadline: number) {
    const cached = this.windowEnds.get(run.runId);
    if (cached && this.now() - cached.at < this.windowCacheMs) return cached.end;
    try {
      const end = await until(
        this.options.visibility.windowEnd(run.workflowId, run.runId, deadline),
        deadline,
        `the status of ${run.workflowId}`,
        this.now,
      );
      // A run not yet in its window has no end: ask again next time rather than miss its start.
      if (end !== undefined) this.windowEnds.set(run.runId, { end, at: this.now() });
      return end;
    } catch (err) {
      this.options.onError('workflow_query', err);
      return cached?.end;
    }
  }
}
