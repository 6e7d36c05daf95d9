/**
 * The KMS budget: every custom-key-store API call (DescribeCustomKeyStores, Connect, Disconnect)
 * of every worker together stays under `budgetRps` calls in any one second, per Region.
 *
 * KMS allows 5 requests per second per custom-key-store operation, per account and Region, shared
 * by every caller. The budget is enforced in two layers (docs/fleet.md, "The KMS budget"):
 *
 * 1. In each worker process, `KmsCallGate` admits a call only while fewer than the worker's share
 *    of calls are in flight or ended less than one second ago. Counting a call from the moment it
 *    is sent until one second after its answer (not one second after it was sent) makes the bound
 *    hold at the server whatever the network latency or event-loop stalls: KMS sees a call at
 *    some moment between our send and our receipt of the answer, so two calls admitted this way
 *    can never be less than a second apart at KMS when the window is full. Shares add up across
 *    workers: `KEYSTORE_MAINT_KMS_WORKERS` workers each take `floor(budget / workers)`.
 * 2. The short KMS activities (describe, disconnect, connect, list) run on their own task queue
 *    (`<taskQueue>-kms`) whose dispatch rate Temporal's server enforces for all workers together
 *    (`maxTaskQueueActivitiesPerSecond`, half the budget: each such activity makes one or two
 *    calls). So when a fleet starts hundreds of runs at once, their calls queue in Temporal, where
 *    they hold no worker slot and no start-to-close clock, and cannot crowd out the polls of runs
 *    that are already waiting for their store to come back.
 *
 * The polls inside a wait are not activity tasks; the gate paces them, and waiting activities
 * space their polls by the number of waits in the process (`pollSpacingMs`), so that together
 * they ask for about half the share instead of queueing at the gate.
 */
import { DEFAULT_KMS_BUDGET_RPS } from '../domain/kms-budget';

export interface KmsBudget {
  /** Custom-key-store calls per second per Region, all workers together; 0 turns the budget off. */
  readonly budgetRps: number;
  /** Worker processes sharing the budget; each takes `floor(budgetRps / workers)`. */
  readonly workers: number;
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
 * The budget from `KEYSTORE_MAINT_KMS_BUDGET_RPS` (default 4; 0 = no budget) and
 * `KEYSTORE_MAINT_KMS_WORKERS` (default 1: the number of worker processes sharing the account and
 * Region, e.g. the replica count).
 */
export function kmsBudgetFromEnvironment(env: NodeJS.ProcessEnv = process.env): KmsBudget {
  const budget: KmsBudget = {
    budgetRps: wholeNumber(env, 'KEYSTORE_MAINT_KMS_BUDGET_RPS', DEFAULT_KMS_BUDGET_RPS, 0),
    workers: wholeNumber(env, 'KEYSTORE_MAINT_KMS_WORKERS', 1, 1),
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

/** This worker's share: calls per second it may make per Region (0 = unlimited). */
export function workerCallsPerSecond(budget: KmsBudget): number {
  return budget.budgetRps === 0 ? 0 : Math.max(1, Math.floor(budget.budgetRps / budget.workers));
}

/**
 * The server-enforced dispatch rate of the `-kms` task queue, for all workers together: half the
 * budget, since each short KMS activity makes one call (describe) or two (a read, then the
 * disconnect or connect). Undefined when there is no budget.
 */
export function kmsQueueActivitiesPerSecond(budget: KmsBudget): number | undefined {
  return budget.budgetRps === 0 ? undefined : budget.budgetRps / 2;
}

export function describeKmsBudget(budget: KmsBudget): string {
  if (budget.budgetRps === 0) return 'KMS budget off (no limit on custom-key-store calls)';
  return `KMS budget ${budget.budgetRps} custom-key-store calls/s per Region shared by ${budget.workers} worker(s): this worker ${workerCallsPerSecond(budget)}/s, task queue dispatch ${kmsQueueActivitiesPerSecond(budget)} activities/s`;
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

class RegionGate {
  inFlight = 0;
  /** When each recent call ended (ascending); they hold their permit for one window after that. */
  readonly ended: number[] = [];
  readonly calls: Ticket[] = [];
  readonly polls: Ticket[] = [];
  timer: NodeJS.Timeout | undefined;
  waits = 0;
}

export class KmsCallGate {
  private readonly regions = new Map<string, RegionGate>();
  private readonly windowMs: number;
  private readonly now: () => number;
  private stats = { calls: 0, delayed: 0, maxQueue: 0, maxWaitMs: 0 };

  /**
   * @param callsPerSecond how many calls may be in flight or have ended within the last window
   *   (per Region); at least 1.
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
  async run<T>(region: string, call: () => Promise<T>, options: GateWaitOptions = {}): Promise<T> {
    await this.acquire(region, options);
    try {
      return await call();
    } finally {
      this.release(region);
    }
  }

  /**
   * Registers a wait (a poller) in the Region until the returned function is called; the number
   * of waits sets `pollSpacingMs`.
   */
  beginWait(region: string): () => void {
    const gate = this.gate(region);
    gate.waits++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      gate.waits--;
    };
  }

  /**
   * The least time between two polls of one wait, so that all the process's waits in the Region
   * together poll at about half this worker's share, leaving the other half for the short calls
   * (which the task queue's rate keeps at about that). One wait alone: 2 / share seconds.
   */
  pollSpacingMs(region: string): number {
    const waits = Math.max(1, this.regions.get(region)?.waits ?? 0);
    return Math.ceil((waits * this.windowMs) / (this.callsPerSecond / 2));
  }

  snapshot(): GateStats {
    return { ...this.stats };
  }

  private gate(region: string): RegionGate {
    let gate = this.regions.get(region);
    if (!gate) {
      gate = new RegionGate();
      this.regions.set(region, gate);
    }
    return gate;
  }

  private acquire(region: string, options: GateWaitOptions): Promise<void> {
    const gate = this.gate(region);
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

  private release(region: string): void {
    const gate = this.gate(region);
    gate.inFlight--;
    gate.ended.push(this.now());
    this.pump(gate);
  }

  private hasRoom(gate: RegionGate): boolean {
    return gate.inFlight + gate.ended.length < this.callsPerSecond;
  }

  private prune(gate: RegionGate): void {
    const cutoff = this.now() - this.windowMs;
    let stale = 0;
    while (stale < gate.ended.length && (gate.ended[stale] ?? 0) <= cutoff) stale++;
    if (stale) gate.ended.splice(0, stale);
  }

  private pump(gate: RegionGate): void {
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
