/**
 * The connection state machine of a custom key store, driven by wall-clock timestamps.
 *
 * A connect from `DISCONNECTED` moves the store to `CONNECTING` with a `PendingTransition` due at
 * `now + connectDelay`: `FAILED` with a code at once when a connect outcome is pending (injected
 * faults win), else `CONNECTED` — which, when it comes due, is decided by the store's backing
 * cluster or proxy as it is then (`ConnectReadiness`, connect-readiness.ts), as KMS decides a
 * connect at its end. A disconnect moves it to `DISCONNECTING` with `DISCONNECTED` due after the
 * disconnect delay. `advanceStore` applies a transition whose time has come; timers only make that
 * happen promptly, so a store loaded from a state file after its transition was due is already in
 * its final state.
 *
 * Eventual consistency: every state change is kept in `history` with the time it took effect.
 * DescribeCustomKeyStores shows the newest entry at least `consistencyLagMs` old, so for that long
 * after a change it still shows the previous state. A new store's first entry is visible at once.
 */
import type { ConnectReadiness } from './connect-readiness';
import type {
  ConnectionErrorCode,
  ConnectionSnapshot,
  ConnectionState,
  ConnectOutcome,
  CustomKeyStoreOperation,
  StoreRecord,
} from './model';

/** How many past states a store remembers; far more than any realistic lag needs. */
const HISTORY_LIMIT = 32;

/**
 * Which calls each connection state accepts (KMS-FACTS.md, "Which call is accepted in which state").
 * `UpdateCustomKeyStore` in `CONNECTED` is accepted only for a rename; the caller checks that.
 */
const ACCEPTED_IN: Readonly<
  Record<
    Exclude<CustomKeyStoreOperation, 'CreateCustomKeyStore' | 'DescribeCustomKeyStores'> | 'CreateKey',
    readonly ConnectionState[]
  >
> = {
  ConnectCustomKeyStore: ['DISCONNECTED', 'CONNECTED', 'CONNECTING'],
  DisconnectCustomKeyStore: ['CONNECTED', 'CONNECTING', 'FAILED'],
  UpdateCustomKeyStore: ['DISCONNECTED', 'CONNECTED'],
  DeleteCustomKeyStore: ['DISCONNECTED'],
  CreateKey: ['CONNECTED'],
};

export type StateRuledOperation = keyof typeof ACCEPTED_IN;

export function acceptsInState(operation: StateRuledOperation, state: ConnectionState): boolean {
  return ACCEPTED_IN[operation].includes(state);
}

/**
 * Applies a due transition. Returns true when the store changed. A connect that is due to succeed
 * asks `readiness` first, so a backing cluster or proxy that is unhealthy by then fails it.
 */
export function advanceStore(store: StoreRecord, now: number, readiness: ConnectReadiness): boolean {
  const pending = store.pending;
  if (!pending || pending.at > now) return false;
  store.pending = undefined;
  const failure = pending.to === 'CONNECTED' ? readiness(store) : undefined;
  if (failure) setState(store, pending.at, 'FAILED', failure);
  else setState(store, pending.at, pending.to, pending.errorCode);
  return true;
}

/** A disconnect never consults the backing store. */
const NOT_A_CONNECT: ConnectReadiness = () => undefined;

/** Sets the true state now (or at `at`), remembering the change for eventual consistency. */
export function setState(
  store: StoreRecord,
  at: number,
  state: ConnectionState,
  errorCode?: ConnectionErrorCode,
): void {
  store.state = state;
  store.errorCode = state === 'FAILED' ? errorCode : undefined;
  store.history.push({ at, state, errorCode: store.errorCode });
  if (store.history.length > HISTORY_LIMIT) store.history.splice(0, store.history.length - HISTORY_LIMIT);
}

/**
 * ConnectCustomKeyStore on a store in an accepting state. Only a connect from `DISCONNECTED` starts
 * a connection (and uses up one pending failure); in `CONNECTED` or `CONNECTING` it changes nothing.
 */
export function startConnect(
  store: StoreRecord,
  now: number,
  connectDelayMs: number,
  readiness: ConnectReadiness,
): void {
  if (store.state !== 'DISCONNECTED') return;
  const outcome = takeConnectOutcome(store);
  setState(store, now, 'CONNECTING');
  store.pending = outcome
    ? { to: 'FAILED', at: now + connectDelayMs, errorCode: outcome }
    : { to: 'CONNECTED', at: now + connectDelayMs };
  advanceStore(store, now, readiness);
}

/** DisconnectCustomKeyStore on a store in an accepting state; cancels a connect in progress. */
export function startDisconnect(store: StoreRecord, now: number, disconnectDelayMs: number): void {
  setState(store, now, 'DISCONNECTING');
  store.pending = { to: 'DISCONNECTED', at: now + disconnectDelayMs };
  advanceStore(store, now, NOT_A_CONNECT);
}

/**
 * Puts a store into a state by fiat (seeding, `PATCH /_sim/stores/:id`): a transient state moves on
 * by itself after the matching delay, as it would after a real connect or disconnect.
 */
export function forceState(
  store: StoreRecord,
  now: number,
  state: ConnectionState,
  errorCode: ConnectionErrorCode | undefined,
  delays: { connectDelayMs: number; disconnectDelayMs: number },
  readiness: ConnectReadiness,
): void {
  setState(store, now, state, errorCode);
  store.pending =
    state === 'CONNECTING'
      ? { to: 'CONNECTED', at: now + delays.connectDelayMs }
      : state === 'DISCONNECTING'
        ? { to: 'DISCONNECTED', at: now + delays.disconnectDelayMs }
        : undefined;
  advanceStore(store, now, readiness);
}

function takeConnectOutcome(store: StoreRecord): ConnectionErrorCode | undefined {
  const outcome: ConnectOutcome | undefined = store.connectOutcome;
  if (!outcome) return undefined;
  outcome.times -= 1;
  if (outcome.times <= 0) store.connectOutcome = undefined;
  return outcome.failWith;
}

/** What DescribeCustomKeyStores shows now: the newest state at least `lagMs` old. */
export function visibleConnection(store: StoreRecord, now: number, lagMs: number): ConnectionSnapshot {
  const cutoff = now - lagMs;
  const first = store.history[0] ?? { at: store.createdAt, state: store.state, errorCode: store.errorCode };
  let visible = first;
  for (const entry of store.history) {
    if (entry.at <= cutoff) visible = entry;
  }
  return visible;
}

/**
 * Schedules a wake-up per store at its next due transition, so that state changes (and the state
 * file) happen on time even when nobody is asking. Cleared on `stop()`.
 */
export class TransitionTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly onDue: (storeId: string) => void) {}

  /** (Re)arms the timer of a store; a store without a pending transition has none. */
  sync(store: StoreRecord, now: number): void {
    this.cancel(store.id);
    if (this.stopped || !store.pending) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(store.id);
        this.onDue(store.id);
      },
      Math.max(0, store.pending.at - now),
    );
    timer.unref();
    this.timers.set(store.id, timer);
  }

  cancel(storeId: string): void {
    const timer = this.timers.get(storeId);
    if (timer) clearTimeout(timer);
    this.timers.delete(storeId);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  get size(): number {
    return this.timers.size;
  }
}
