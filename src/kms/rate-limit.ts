/**
 * The KMS budget: the custom-key-store API calls (DescribeCustomKeyStores, Connect, Disconnect)
 * of every worker together stay under `budgetRps` calls in any one second, for each account,
 * Region and operation.
 *
 * KMS's request quotas are per operation: Connect, Disconnect and Describe CustomKeyStores each
 * allow 5 requests per second, per account and Region, shared by every caller in that account and
 * Region. A Describe does not use up a Connect's quota, and one account's calls do not use up
 * another's. So the gate keeps one window per (account, Region, operation) key (`budgetKey`), and
 * a fleet over fifty account-Regions runs fifty times as many calls per second as a fleet in one.
 *
 * 1. In each worker process, `KmsCallGate` admits a call only while fewer than the worker's share
 *    of calls for its key are in flight or ended less than one second ago. Counting a call from
 *    the moment it is sent until one second after its answer (not one second after it was sent)
 *    makes the bound hold at the server whatever the network latency or event-loop stalls: KMS
 *    sees a call at some moment between our send and our receipt of the answer, so two calls
 *    admitted this way can never be less than a second apart at KMS when the window is full.
 *    Shares add up across workers: `KEYSTORE_MAINT_KMS_WORKERS` workers each take
 *    `floor(budget / workers)` of every key.
 * 2. Optionally (`KEYSTORE_MAINT_KMS_QUEUE_RPS`), the short KMS activities (describe, disconnect,
 *    connect, list) of all locations together are dispatched no faster than a rate Temporal's
 *    server enforces for all workers (`maxTaskQueueActivitiesPerSecond` on `<taskQueue>-kms`).
 *    It is off by default: one rate for every account-Region would hold a fleet over many of them
 *    to the pace of one. Queues at a key's gate stay short without it, because KMS allows at most
 *    ten custom key stores per account and Region, so at most ten runs share a key.
 *
 * Temporal's fairness keys with per-key rate limits (server 1.29) were considered for layer 2 and
 * not used for the bound: the server divides a key's rate among the task queue's partitions and
 * allows bursts, so it cannot promise "at most N in any second"; see docs/fleet.md.
 *
 * The polls inside a wait are not activity tasks; the gate paces them, and waiting activities
 * space their polls by the number of waits for the same key (`pollSpacingMs`), so that together
 * they ask for about half the share instead of queueing at the gate.
 */
import { DEFAULT_KMS_BUDGET_RPS } from '../domain/kms-budget';

export interface KmsBudget {
  /**
   * Calls per second for each (account, Region, custom-key-store operation), all workers
   * together; 0 turns the budget off.
   */
  readonly budgetRps: number;
  /** Worker processes sharing the budget; each takes `floor(budgetRps / workers)`. */
  readonly workers: number;
  /**
   * Short KMS activities per second for all locations together, enforced by Temporal's server;
   * undefined or 0: no such rate (the default).
   */
  readonly queueRps?: number | undefined;
}

export class KmsBudgetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmsBudgetConfigError';
  }
}

export const DEFAULT_KMS_BUDGET: KmsBudget = { budgetRps: DEFAULT_KMS_BUDGET_RPS, workers: 1 };

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new KmsBudgetConfigError(`${name}="${raw}" is not a whole number >= ${min}`);
  }
  return value;
}

/**
 * The budget from `KEYSTORE_MAINT_KMS_BUDGET_RPS` (default 4; 0 = no budget),
 * `KEYSTORE_MAINT_KMS_WORKERS` (default 1: the number of worker processes sharing the budget,
 * e.g. the replica count) and `KEYSTORE_MAINT_KMS_QUEUE_RPS` (default none).
 */
export function kmsBudgetFromEnvironment(env: NodeJS.ProcessEnv = process.env): KmsBudget {
  const queueRps = wholeNumber(env, 'KEYSTORE_MAINT_KMS_QUEUE_RPS', 0, 0);
  const budget: KmsBudget = {
    budgetRps: wholeNumber(env, 'KEYSTORE_MAINT_KMS_BUDGET_RPS', DEFAULT_KMS_BUDGET_RPS, 0),
    workers: wholeNumber(env, 'KEYSTORE_MAINT_KMS_WORKERS', 1, 1),
    ...(queueRps > 0 ? { queueRps } : {}),
  };
  validateKmsBudget(budget);
  return budget;
}

export function validateKmsBudget(budget: KmsBudget): void {
  if (!Number.isInteger(budget.budgetRps) || budget.budgetRps < 0) {
    throw new KmsBudgetConfigError(`the KMS budget must be a whole number >= 0, not ${budget.budgetRps}`);
  }
  if (!Number.isInteger(budget.workers) || budget.workers < 1) {
    throw new KmsBudgetConfigError(
      `the number of workers must be a whole number >= 1, not ${budget.workers}`,
    );
  }
  if (budget.budgetRps > 0 && budget.workers > budget.budgetRps) {
    throw new KmsBudgetConfigError(
      `a budget of ${budget.budgetRps} calls per second cannot be shared by ${budget.workers} workers (each needs at least 1); raise KEYSTORE_MAINT_KMS_BUDGET_RPS or run fewer workers`,
    );
  }
}

/** This worker's share: calls per second it may make per (account, Region, operation); 0 = unlimited. */
export function workerCallsPerSecond(budget: KmsBudget): number {
  return budget.budgetRps === 0 ? 0 : Math.max(1, Math.floor(budget.budgetRps / budget.workers));
}

/**
 * The server-enforced dispatch rate of the `-kms` task queue, for all workers and locations
 * together: `queueRps` when set, otherwise none (see layer 2 in the module comment).
 */
export function kmsQueueActivitiesPerSecond(budget: KmsBudget): number | undefined {
  return budget.queueRps !== undefined && budget.queueRps > 0 ? budget.queueRps : undefined;
}

export function describeKmsBudget(budget: KmsBudget): string {
  if (budget.budgetRps === 0) return 'KMS budget off (no limit on custom-key-store calls)';
  const queue = kmsQueueActivitiesPerSecond(budget);
  return `KMS budget ${budget.budgetRps} calls/s per (account, Region, custom-key-store operation) shared by ${budget.workers} worker(s): this worker ${workerCallsPerSecond(budget)}/s per key, ${queue === undefined ? 'no task queue dispatch rate' : `task queue dispatch ${queue} activities/s`}`;
}

export interface GateWaitOptions {
  /**
   * `call` (default): a one-off call of a short activity; `poll`: a poll of a waiting activity.
   * Queued calls go first: the task queue's rate already keeps them to about half the share, and a
   * short activity has a start-to-close timeout, while a poll that waits a little only makes its
   * wait a little longer.
   */
  readonly priority?: 'call' | 'poll';
  /** Stop waiting (the activity was cancelled); the call is then not made. */
  readonly signal?: AbortSignal;
  /** Called every `whileQueuedEveryMs` while the call waits for a permit (e.g. to heartbeat). */
  readonly whileQueued?: () => void;
  readonly whileQueuedEveryMs?: number;
}

export interface GateStats {
  /** Calls admitted. */
  readonly calls: number;
  /** Calls that had to wait for a permit. */
  readonly delayed: number;
  /** The longest queue seen at the gate. */
  readonly maxQueue: number;
  /** The longest time one call waited, in ms. */
  readonly maxWaitMs: number;
}

interface Ticket {
  readonly grant: () => void;
  readonly cancel: (reason: Error) => void;
}

class KeyGate {
  inFlight = 0;
  /** When each recent call ended (ascending); they hold their permit for one window after that. */
  readonly ended: number[] = [];
  readonly calls: Ticket[] = [];
  readonly polls: Ticket[] = [];
  timer: NodeJS.Timeout | undefined;
  waits = 0;
}

export class KmsCallGate {
  private readonly keys = new Map<string, KeyGate>();
  private readonly windowMs: number;
  private readonly now: () => number;
  private stats = { calls: 0, delayed: 0, maxQueue: 0, maxWaitMs: 0 };

  /**
   * @param callsPerSecond how many calls may be in flight or have ended within the last window
   *   (per key); at least 1.
   */
  constructor(
    readonly callsPerSecond: number,
    options: { windowMs?: number; now?: () => number } = {},
  ) {
    if (!Number.isInteger(callsPerSecond) || callsPerSecond < 1) {
      throw new KmsBudgetConfigError(`a KMS call gate needs a whole number >= 1 of calls per second`);
    }
    this.windowMs = options.windowMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  /** Makes `call` once a permit is free, and holds the permit until one window after it ends. */
  async run<T>(key: string, call: () => Promise<T>, options: GateWaitOptions = {}): Promise<T> {
    await this.acquire(key, options);
    try {
      return await call();
    } finally {
      this.release(key);
    }
  }

  /**
   * Registers a wait (a poller) on a key until the returned function is called; the number
   * of waits sets `pollSpacingMs`.
   */
  beginWait(key: string): () => void {
    const gate = this.gate(key);
    gate.waits++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      gate.waits--;
    };
  }

  /**
   * The least time between two polls of one wait, so that all the process's waits for the same
   * key together poll at about half this worker's share, leaving the other half for the reads of
   * the short activities. One wait alone: 2 / share seconds.
   */
  pollSpacingMs(key: string): number {
    const waits = Math.max(1, this.keys.get(key)?.waits ?? 0);
    return Math.ceil((waits * this.windowMs) / (this.callsPerSecond / 2));
  }

  snapshot(): GateStats {
    return { ...this.stats };
  }

  private gate(key: string): KeyGate {
    let gate = this.keys.get(key);
    if (!gate) {
      gate = new KeyGate();
      this.keys.set(key, gate);
    }
    return gate;
  }

  private acquire(key: string, options: GateWaitOptions): Promise<void> {
    const gate = this.gate(key);
    if (options.signal?.aborted) {
      const reason: unknown = options.signal.reason;
      return Promise.reject(reason instanceof Error ? reason : new Error('the KMS call was cancelled'));
    }
    this.prune(gate);
    if (gate.calls.length === 0 && gate.polls.length === 0 && this.hasRoom(gate)) {
      gate.inFlight++;
      this.stats.calls++;
      return Promise.resolve();
    }
    const queuedAt = this.now();
    const queue = options.priority === 'poll' ? gate.polls : gate.calls;
    return new Promise<void>((resolve, reject) => {
      let ticker: NodeJS.Timeout | undefined;
      const done = () => {
        if (ticker) clearInterval(ticker);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const ticket: Ticket = {
        grant: () => {
          done();
          this.stats.calls++;
          this.stats.delayed++;
          this.stats.maxWaitMs = Math.max(this.stats.maxWaitMs, this.now() - queuedAt);
          resolve();
        },
        cancel: (reason) => {
          done();
          reject(reason);
        },
      };
      const onAbort = () => {
        const index = queue.indexOf(ticket);
        if (index >= 0) queue.splice(index, 1);
        const reason: unknown = options.signal?.reason;
        ticket.cancel(
          reason instanceof Error ? reason : new Error('the KMS call was cancelled while it waited'),
        );
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.whileQueued) ticker = setInterval(options.whileQueued, options.whileQueuedEveryMs ?? 2_000);
      queue.push(ticket);
      this.stats.maxQueue = Math.max(this.stats.maxQueue, gate.calls.length + gate.polls.length);
      this.pump(gate);
    });
  }

  private release(key: string): void {
    const gate = this.gate(key);
    gate.inFlight--;
    gate.ended.push(this.now());
    this.pump(gate);
  }

  private hasRoom(gate: KeyGate): boolean {
    return gate.inFlight + gate.ended.length < this.callsPerSecond;
  }

  private prune(gate: KeyGate): void {
    const cutoff = this.now() - this.windowMs;
    let stale = 0;
    while (stale < gate.ended.length && (gate.ended[stale] ?? 0) <= cutoff) stale++;
    if (stale) gate.ended.splice(0, stale);
  }

  private pump(gate: KeyGate): void {
    this.prune(gate);
    while ((gate.calls.length || gate.polls.length) && this.hasRoom(gate)) {
      gate.inFlight++;
      (gate.calls.shift() ?? gate.polls.shift())?.grant();
    }
    // Blocked only by calls in flight: their release pumps again. Blocked by ended calls: wake
    // when the oldest leaves the window.
    const oldest = gate.ended[0];
    if ((gate.calls.length || gate.polls.length) && oldest !== undefined && !gate.timer) {
      gate.timer = setTimeout(
        () => {
          gate.timer = undefined;
          this.pump(gate);
        },
        Math.max(1, oldest + this.windowMs - this.now() + 1),
      );
    }
  }
}

/**
 * The most calls in any one-second window (half-open, `[t, t + windowMs)`), from their arrival
 * times in ms: the number the budget promises to keep at or below `budgetRps`.
 */
export function peakCallsInAnyWindow(arrivalsMs: readonly number[], windowMs = 1_000): number {
  const sorted = [...arrivalsMs].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
