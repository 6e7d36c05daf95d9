/**
 * Key store activities: describe, disconnect, connect, and wait for a connection state.
 *
 * Every activity may run twice (a retry, or a worker that crashed after the KMS call but before
 * reporting completion), so each one reads the store first and treats "already there" as
 * success. `CustomKeyStoreInvalidStateException` is reconciled by reading again, never retried
 * blindly. All KMS errors go through the one classifier in `src/kms/errors.ts`.
 *
 * Cancellation: the mutating activities (disconnect, connect) heartbeat, and stop only where
 * stopping is safe — before a call is sent (then they end as cancelled: nothing was sent). A
 * call already sent is never cut off: KMS may act on it whatever the client does, so the activity
 * waits for the answer and reports it, and the workflow (which waits for cancelled mutations to
 * finish) knows what happened.
 */
import {
  ConnectCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  type CustomKeyStoresListEntry,
} from '@aws-sdk/client-kms';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  CONNECTION_STATES,
  KEY_STORE_TYPES,
  type ConnectionState,
  type KeyStoreType,
} from '../src/domain/connection-state';
import { FAILURE_TYPES } from '../src/domain/errors';
import { classifyKmsError, kmsFailure } from '../src/kms/errors';
import { roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import type { SharedDescribePoller } from './shared-poller';
import { budgetedKmsCall, budgetKey, type BudgetedOperation, type KmsCallDeps } from './kms-call';

/** A store and where to reach it: its Region, and for another account, the role to assume there. */
export interface StoreRef extends KmsTarget {
  readonly customKeyStoreId: string;
}

export interface StoreSnapshot extends StoreRef {
  readonly name: string;
  readonly type: KeyStoreType;
  readonly state: ConnectionState;
  readonly connectionErrorCode: string | undefined;
  /** Request id of the DescribeCustomKeyStores call that produced this snapshot. */
  readonly requestId: string | undefined;
}

export interface MutationOutcome {
  /** `accepted`: KMS accepted our call; `skipped`: the store was already there or on its way. */
  readonly call: 'accepted' | 'skipped';
  readonly stateBefore: ConnectionState;
  readonly requestId: string | undefined;
  /** For connect from FAILED: the request id of the disconnect that came first. */
  readonly disconnectRequestId?: string;
}

export interface WaitInput extends StoreRef {
  /** Stop when the store is in any of these states. */
  readonly until: readonly ConnectionState[];
  /** Waiting for CONNECTED: a confirmed FAILED ends the wait with `KeyStoreConnectFailed`. */
  readonly failOnFailed: boolean;
  readonly pollIntervalMs: number;
  /**
   * Also end the wait when the store shows one of these states in every read for this long (at
   * least two reads): waiting for CONNECTED, a store that stays DISCONNECTED has no connection
   * under way (the connect that was skipped saw a stale CONNECTED), and waiting longer is futile.
   */
  readonly settledIn?: { readonly states: readonly ConnectionState[]; readonly forMs: number };
}

export interface ConfirmInput extends StoreRef {
  /** The state every read must show. */
  readonly want: ConnectionState;
  /** How long the reads must agree: the first and the last read at least this far apart. */
  readonly settleMs: number;
  readonly pollIntervalMs: number;
}

export type ConfirmOutcome =
  | {
      readonly confirmed: true;
      readonly state: ConnectionState;
      readonly reads: number;
      /** Time between the first and the last agreeing read. */
      readonly spanMs: number;
      readonly firstRequestId: string | undefined;
      readonly lastRequestId: string | undefined;
    }
  | {
      readonly confirmed: false;
      /** The state a read showed instead. */
      readonly state: ConnectionState;
      readonly connectionErrorCode: string | undefined;
      readonly reads: number;
      readonly requestId: string | undefined;
    };

/** Heartbeat details of a confirmation: a retried attempt continues the same streak. */
interface ConfirmProgress {
  readonly reads: number;
  readonly firstReadAt: number | undefined;
  readonly firstRequestId: string | undefined;
}

export interface WaitOutcome {
  readonly state: ConnectionState;
  readonly connectionErrorCode: string | undefined;
  readonly polls: number;
  readonly firstRequestId: string | undefined;
  readonly lastRequestId: string | undefined;
  /** Throttling or transient errors absorbed while polling. */
  readonly transientErrors: number;
  readonly elapsedMs: number;
}

/** Heartbeat details: what a retried attempt of the wait resumes from. */
interface WaitProgress {
  readonly polls: number;
  readonly firstRequestId: string | undefined;
  readonly lastState: ConnectionState | undefined;
  readonly transientErrors: number;
  readonly startedAt: number;
}

/**
 * The KMS clients, the worker's KMS budget gate (every custom-key-store call passes it), and the
 * process's shared poller (when set, waits read through it: activities/shared-poller.ts).
 */
export interface KeyStoreActivityDeps extends KmsCallDeps {
  readonly poller?: SharedDescribePoller | undefined;
}

function toSnapshot(
  ref: StoreRef,
  entry: CustomKeyStoresListEntry,
  requestId: string | undefined,
): StoreSnapshot {
  const type = (entry.CustomKeyStoreType ?? 'AWS_CLOUDHSM') as string;
  if (!(KEY_STORE_TYPES as readonly string[]).includes(type)) {
    throw ApplicationFailure.nonRetryable(
      `custom key store ${ref.customKeyStoreId} has type ${type}, which keystore-maint does not support (supported: ${KEY_STORE_TYPES.join(', ')})`,
      FAILURE_TYPES.preflightRefused,
    );
  }
  const state = entry.ConnectionState as string | undefined;
  if (!state || !(CONNECTION_STATES as readonly string[]).includes(state)) {
    // An unknown state from KMS is not something to act on; a retry reads again.
    throw ApplicationFailure.retryable(
      `DescribeCustomKeyStores returned an unknown ConnectionState "${state}" for ${ref.customKeyStoreId}`,
      'UnknownConnectionState',
    );
  }
  return {
    ...ref,
    name: entry.CustomKeyStoreName ?? '',
    type: type as KeyStoreType,
    state: state as ConnectionState,
    connectionErrorCode: state === 'FAILED' ? entry.ConnectionErrorCode : undefined,
    requestId,
  };
}

/** A call on a store: its target, and the role session named after the store (docs/fleet.md). */
function callOn(ref: StoreRef, operation: BudgetedOperation) {
  return {
    target: ref,
    operation,
    sessionName: roleSessionNameFor(ref.customKeyStoreId),
  };
}

function sleep(ms: number): Promise<void> {
  // Context.sleep rejects when the activity is cancelled, so waits end promptly on cancellation.
  return Context.current().sleep(ms);
}

/**
 * Sleeps between polls, heartbeating every 2 s: a poll spacing widened by the KMS budget can be
 * longer than the wait's heartbeat timeout. (The SDK throttles what it sends to the server.)
 */
async function pause(ms: number, beat: () => void): Promise<void> {
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) {
    await sleep(Math.min(left, 2_000));
    beat();
  }
}

export function createKeyStoreActivities(deps: KeyStoreActivityDeps) {
  /**
   * @param poll set by a waiting activity: its heartbeat (to keep its resume details while the
   *   call waits for the KMS budget), and the lower priority of polls at the budget's gate.
   */
  async function read(ref: StoreRef, poll?: { beat: () => void }): Promise<StoreSnapshot> {
    try {
      const out = await budgetedKmsCall(
        deps,
        {
          ...callOn(ref, 'DescribeCustomKeyStores'),
          whileQueued: poll?.beat,
          priority: poll ? 'poll' : 'call',
        },
        (kms) => kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: ref.customKeyStoreId })),
      );
      const entry = out.CustomKeyStores?.[0];
      if (!entry) {
        throw ApplicationFailure.nonRetryable(
          `custom key store ${ref.customKeyStoreId} was not found in ${ref.region}. Check the id, and that the worker uses the account and Region that own the store.`,
          FAILURE_TYPES.keyStoreNotFound,
        );
      }
      return toSnapshot(ref, entry, out.$metadata.requestId);
    } catch (err) {
      if (err instanceof ApplicationFailure || err instanceof CancelledFailure) throw err;
      throw kmsFailure(err, { operation: 'DescribeCustomKeyStores', customKeyStoreId: ref.customKeyStoreId });
    }
  }

  /**
   * A read inside a wait: from the shared poller's next listing of the store's account-Region when
   * the worker has one (a listing sent after this call), else the store's own Describe.
   */
  async function pollRead(
    input: StoreRef & { readonly pollIntervalMs: number },
    beat: () => void,
  ): Promise<StoreSnapshot> {
    if (!deps.poller) return read(input, { beat });
    const shared = await deps.poller.read(input, input.customKeyStoreId, {
      pollIntervalMs: input.pollIntervalMs,
      signal: Context.current().cancellationSignal,
      whileWaiting: beat,
    });
    // Not in the listing: only the store's own Describe may say it is gone.
    if (!shared.entry) return read(input, { beat });
    return toSnapshot(input, shared.entry, shared.requestId);
  }

  /** Reads the store's connection state (DescribeCustomKeyStores). */
  async function describeKeyStore(ref: StoreRef): Promise<StoreSnapshot> {
    return read(ref);
  }

  async function disconnectOnce(ref: StoreRef, before: StoreSnapshot): Promise<MutationOutcome> {
    if (before.state === 'DISCONNECTED' || before.state === 'DISCONNECTING') {
      return { call: 'skipped', stateBefore: before.state, requestId: undefined };
    }
    stopIfCancelled('DisconnectCustomKeyStore');
    try {
      // Cancelled while queued for the KMS budget: nothing was sent. Once sent, it runs to its answer.
      const out = await budgetedKmsCall(deps, callOn(ref, 'DisconnectCustomKeyStore'), (kms) =>
        kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: ref.customKeyStoreId })),
      );
      Context.current().heartbeat();
      return { call: 'accepted', stateBefore: before.state, requestId: out.$metadata.requestId };
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      if (classifyKmsError(err).kind === 'invalid-state') {
        // Usually a concurrent or earlier disconnect: read again and decide from the truth.
        const now = await read(ref);
        if (now.state === 'DISCONNECTED' || now.state === 'DISCONNECTING') {
          return { call: 'skipped', stateBefore: now.state, requestId: undefined };
        }
      }
      throw kmsFailure(err, {
        operation: 'DisconnectCustomKeyStore',
        customKeyStoreId: ref.customKeyStoreId,
      });
    }
  }

  /** DisconnectCustomKeyStore, unless the store is already DISCONNECTED or DISCONNECTING. */
  async function disconnectKeyStore(ref: StoreRef): Promise<MutationOutcome> {
    Context.current().heartbeat();
    return disconnectOnce(ref, await read(ref));
  }

  /**
   * ConnectCustomKeyStore, unless the store is already CONNECTED or CONNECTING. From FAILED the
   * store must be disconnected first (KMS rejects a connect in FAILED); from DISCONNECTING we
   * wait for DISCONNECTED through a retryable failure, so Temporal's backoff paces the re-reads.
   */
  async function connectKeyStore(
    ref: StoreRef & { readonly pollIntervalMs: number },
  ): Promise<MutationOutcome> {
    // Connect has a heartbeat timeout (its FAILED path waits); beat at each step so a slow KMS
    // answer is not mistaken for a dead worker.
    Context.current().heartbeat();
    let before = await read(ref);
    let disconnectRequestId: string | undefined;
    if (before.state === 'CONNECTED' || before.state === 'CONNECTING') {
      return { call: 'skipped', stateBefore: before.state, requestId: undefined };
    }
    if (before.state === 'FAILED') {
      const disconnect = await disconnectOnce(ref, before);
      disconnectRequestId = disconnect.requestId;
      before = await waitFor({
        ...ref,
        until: ['DISCONNECTED'],
        failOnFailed: false,
        pollIntervalMs: ref.pollIntervalMs,
      });
    }
    if (before.state === 'DISCONNECTING') {
      throw ApplicationFailure.retryable(
        `custom key store ${ref.customKeyStoreId} is still DISCONNECTING; connect will be retried`,
        'KeyStoreTransitioning',
      );
    }
    Context.current().heartbeat();
    stopIfCancelled('ConnectCustomKeyStore');
    try {
      const out = await budgetedKmsCall(deps, callOn(ref, 'ConnectCustomKeyStore'), (kms) =>
        kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: ref.customKeyStoreId })),
      );
      Context.current().heartbeat();
      return {
        call: 'accepted',
        stateBefore: before.state,
        requestId: out.$metadata.requestId,
        ...(disconnectRequestId ? { disconnectRequestId } : {}),
      };
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      if (classifyKmsError(err).kind === 'invalid-state') {
        const now = await read(ref);
        if (now.state === 'CONNECTED' || now.state === 'CONNECTING') {
          return { call: 'skipped', stateBefore: now.state, requestId: undefined };
        }
        throw ApplicationFailure.retryable(
          `ConnectCustomKeyStore on ${ref.customKeyStoreId} was refused in state ${now.state}; will retry after the store settles`,
          'KeyStoreTransitioning',
        );
      }
      throw kmsFailure(err, { operation: 'ConnectCustomKeyStore', customKeyStoreId: ref.customKeyStoreId });
    }
  }

  /** Polls until the store reaches a wanted state; the core of `waitForConnectionState`. */
  async function waitFor(input: WaitInput, report?: (outcome: WaitOutcome) => void): Promise<StoreSnapshot> {
    // Counted as a wait in the worker's KMS budget: the more waits, the wider each one's polls.
    const endWait = deps.kmsGate?.beginWait(budgetKey(input, 'DescribeCustomKeyStores'));
    try {
      return await pollUntil(input, report);
    } finally {
      endWait?.();
    }
  }

  async function pollUntil(
    input: WaitInput,
    report?: (outcome: WaitOutcome) => void,
  ): Promise<StoreSnapshot> {
    const ctx = Context.current();
    const resumed = ctx.info.heartbeatDetails as WaitProgress | undefined;
    let polls = resumed?.polls ?? 0;
    let firstRequestId = resumed?.firstRequestId;
    let transientErrors = resumed?.transientErrors ?? 0;
    const startedAt = resumed?.startedAt ?? Date.now();
    let failedReads = 0;
    let settled: { state: ConnectionState; since: number; reads: number } | undefined;
    let delay = input.pollIntervalMs;
    let lastState = resumed?.lastState;
    const beat = () =>
      ctx.heartbeat({ polls, firstRequestId, lastState, transientErrors, startedAt } satisfies WaitProgress);
    for (;;) {
      let snapshot: StoreSnapshot | undefined;
      try {
        snapshot = await pollRead(input, beat);
        lastState = snapshot.state;
      } catch (err) {
        // Throttling and transient errors while polling are expected under a shared quota:
        // count them and poll again later instead of failing the attempt.
        const retryable = err instanceof ApplicationFailure && !err.nonRetryable;
        if (!retryable) throw err;
        transientErrors++;
      }
      if (snapshot) {
        polls++;
        firstRequestId ??= snapshot.requestId;
        const done = (outcome: StoreSnapshot) => {
          report?.({
            state: outcome.state,
            connectionErrorCode: outcome.connectionErrorCode,
            polls,
            firstRequestId,
            lastRequestId: outcome.requestId,
            transientErrors,
            elapsedMs: Date.now() - startedAt,
          });
          return outcome;
        };
        if (input.until.includes(snapshot.state)) return done(snapshot);
        if (input.settledIn?.states.includes(snapshot.state)) {
          const now = Date.now();
          settled =
            settled?.state === snapshot.state
              ? { ...settled, reads: settled.reads + 1 }
              : { state: snapshot.state, since: now, reads: 1 };
          if (settled.reads >= 2 && now - settled.since >= input.settledIn.forMs) return done(snapshot);
        } else {
          settled = undefined;
        }
        if (input.failOnFailed && snapshot.state === 'FAILED') {
          // One read is not proof under eventual consistency: confirm before concluding.
          failedReads++;
          if (failedReads >= 2) {
            done(snapshot);
            throw ApplicationFailure.create({
              type: FAILURE_TYPES.connectFailed,
              message: `custom key store ${input.customKeyStoreId} reached FAILED with ConnectionErrorCode ${snapshot.connectionErrorCode ?? '(none)'}`,
              nonRetryable: true,
              details: [
                {
                  connectionErrorCode: snapshot.connectionErrorCode,
                  polls,
                  firstRequestId,
                  lastRequestId: snapshot.requestId,
                },
              ],
            });
          }
        } else {
          failedReads = 0;
        }
        ctx.heartbeat({
          polls,
          firstRequestId,
          lastState: snapshot.state,
          transientErrors,
          startedAt,
        } satisfies WaitProgress);
      } else {
        ctx.heartbeat({
          polls,
          firstRequestId,
          lastState: resumed?.lastState,
          transientErrors,
          startedAt,
        } satisfies WaitProgress);
      }
      // Back off up to 4x the interval for long waits (CloudHSM connects take up to ~20 min),
      // with ±20% jitter so concurrent runs do not poll the shared quota in lockstep.
      // Under the KMS budget the spacing widens with the number of waits in the process, so
      // that together they stay within their share instead of queueing at the gate.
      // With a shared poller the listings' cadence paces the reads: one per interval for all the
      // waits of the account-Region together, so no pause of its own is needed.
      if (!deps.poller) {
        const wait = Math.max(
          failedReads > 0 ? input.pollIntervalMs : delay,
          deps.kmsGate?.pollSpacingMs(budgetKey(input, 'DescribeCustomKeyStores')) ?? 0,
        );
        await pause(Math.round(wait * (0.8 + Math.random() * 0.4)), beat);
        delay = Math.min(delay * 1.5, input.pollIntervalMs * 4);
      }
    }
  }

  /**
   * Waits, heartbeating, until the store is in one of `until`. The result carries the number of
   * polls and the first and last request ids: one audit event per wait, not one per poll.
   */
  async function waitForConnectionState(input: WaitInput): Promise<WaitOutcome> {
    let outcome: WaitOutcome | undefined;
    await waitFor(input, (o) => (outcome = o));
    if (!outcome) throw new Error('waitForConnectionState finished without an outcome');
    return outcome;
  }

  /**
   * The confirmation rule (docs/architecture.md): reads the store until the reads have shown
   * `want` across `settleMs` (at least two reads, the first and the last that far apart), or
   * until one read shows something else — then it answers at once with that state, and the
   * workflow decides (reconnect, or stop). Transient read errors are absorbed and do not break
   * the streak; a retried attempt continues it from the heartbeat's details.
   */
  async function confirmConnectionState(input: ConfirmInput): Promise<ConfirmOutcome> {
    const ctx = Context.current();
    const resumed = ctx.info.heartbeatDetails as ConfirmProgress | undefined;
    let reads = resumed?.reads ?? 0;
    let firstReadAt = resumed?.firstReadAt;
    let firstRequestId = resumed?.firstRequestId;
    const beat = () => ctx.heartbeat({ reads, firstReadAt, firstRequestId } satisfies ConfirmProgress);
    const endWait = deps.kmsGate?.beginWait(budgetKey(input, 'DescribeCustomKeyStores'));
    try {
      for (;;) {
        let snapshot: StoreSnapshot | undefined;
        try {
          snapshot = await pollRead(input, beat);
        } catch (err) {
          const retryable = err instanceof ApplicationFailure && !err.nonRetryable;
          if (!retryable) throw err;
        }
        if (snapshot) {
          const now = Date.now();
          reads++;
          if (snapshot.state !== input.want) {
            return {
              confirmed: false,
              state: snapshot.state,
              connectionErrorCode: snapshot.connectionErrorCode,
              reads,
              requestId: snapshot.requestId,
            };
          }
          firstReadAt ??= now;
          firstRequestId ??= snapshot.requestId;
          const spanMs = now - firstReadAt;
          if (reads >= 2 && spanMs >= input.settleMs) {
            return {
              confirmed: true,
              state: snapshot.state,
              reads,
              spanMs,
              firstRequestId,
              lastRequestId: snapshot.requestId,
            };
          }
        }
        beat();
        // With a shared poller each read already waits for the next listing of the account-Region
        // (one per interval): a pause of its own on top would stretch the confirmation, and with
        // it the time traffic stays drained.
        if (!deps.poller) {
          const left =
            firstReadAt === undefined ? input.pollIntervalMs : firstReadAt + input.settleMs - Date.now();
          const spacing = Math.max(
            Math.min(input.pollIntervalMs, Math.max(left, 100)),
            deps.kmsGate?.pollSpacingMs(budgetKey(input, 'DescribeCustomKeyStores')) ?? 0,
          );
          await pause(spacing, beat);
        }
      }
    } finally {
      endWait?.();
    }
  }

  return {
    describeKeyStore,
    disconnectKeyStore,
    connectKeyStore,
    waitForConnectionState,
    confirmConnectionState,
  };
}

/** Before a mutating call is sent: a cancelled activity stops here, having sent nothing. */
function stopIfCancelled(operation: string): void {
  if (Context.current().cancellationSignal.aborted) {
    throw new CancelledFailure(`cancelled before ${operation} was sent; nothing was sent`);
  }
}
