/**
 * keyStoreFleetMaintenance: many stores in rolling waves, like an SSM maintenance window with
 * MaxConcurrency and MaxErrors (docs/fleet.md).
 *
 * Each store is maintained by a child `keyStoreMaintenance` under the store's canonical workflow
 * id, so the per-store lock holds against any other run (a store already locked counts as an
 * error, `MaintenanceAlreadyRunning`). At most `maxConcurrency` children run at a time, started in
 * the fleet's order. Once more than `maxErrors` children have ended other than `COMPLETED`, no
 * new child is started; those under way finish. The `abort` update (or a Temporal cancellation
 * of the fleet) cancels every running child — each one undoes what it changed before it ends —
 * and starts no more.
 *
 * The history of one workflow run holds each child's start and result, so after
 * `continueAsNewAfterStores` children (or when Temporal suggests it) the fleet stops starting
 * children, waits for those under way (the parent close policy would cancel them otherwise), and
 * continues as a new run with the progress of every store; the `status` query covers the whole
 * fleet across runs.
 *
 * The fleet makes no KMS call itself except listing the stores a name pattern selects (once, at
 * the start); every child's calls pass the workers' KMS budget.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  ParentClosePolicy,
  TerminatedFailure,
  TimeoutFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { FAILURE_TYPES } from '../src/domain/errors';
import {
  countStores,
  FLEET_FAILURE_TYPES,
  storeRequest,
  validateFleetRequest,
  type FleetOutcome,
  type FleetPhase,
  type FleetRequest,
  type FleetResult,
  type FleetStatus,
  type FleetStoreProgress,
  type FleetStoreState,
  type ResolvedFleetRequest,
} from '../src/domain/fleet';
import { maintenanceWorkflowId, SEARCH_ATTRIBUTES } from '../src/domain/names';
import { isEndState, type EndState } from '../src/domain/phases';
import type { MaintenanceResult } from '../src/domain/status';
import { fleetActivities, setupActivities } from './activity-options';
import { fleetAbortUpdate, fleetStatusQuery, type FleetAbortArgs } from './fleet-messages';
import { rootMessage } from './failures';
import { PATCHES } from './patches';
import { keyStoreMaintenance } from './maintenance';
import { actorField, argumentObject, reasonField, rejectUpdate } from './update-arguments';

/** What a fleet run hands to the next after continue-as-new. */
export interface FleetContinuation {
  readonly fleetStartedAt: string;
  readonly region: string;
  /** Continue-as-new count so far (the new run is one more). */
  readonly continuedAsNew: number;
  readonly stores: readonly FleetStoreProgress[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A failed child's result travels in its failure's details (types MaintenanceFailed,
 * NeedsAttention); the same unwrapping as the client's `resultFromFailure`, in workflow code.
 */
function resultInFailure(err: unknown): { result: MaintenanceResult; type: string } | undefined {
  let node: unknown = err;
  while (node && typeof node === 'object') {
    const failure = node as { type?: unknown; details?: unknown; cause?: unknown };
    const detail: unknown = Array.isArray(failure.details) ? failure.details[0] : undefined;
    if (
      (failure.type === FAILURE_TYPES.maintenanceFailed || failure.type === FAILURE_TYPES.needsAttention) &&
      typeof detail === 'object' &&
      detail !== null &&
      typeof (detail as { outcome?: unknown }).outcome === 'string' &&
      isEndState((detail as { outcome: string }).outcome)
    ) {
      return { result: detail as MaintenanceResult, type: failure.type };
    }
    node = failure.cause;
  }
  return undefined;
}

/** Why the fleet stopped starting children. */
type Stop = 'done' | 'abort' | 'maxErrors' | 'continue';

class FleetRun {
  private request: ResolvedFleetRequest | undefined;
  private region: string | undefined;
  private phase: FleetPhase = 'RESOLVING';
  private outcome: FleetOutcome | undefined;
  private stores: FleetStoreProgress[] = [];
  private message = 'starting';
  private abortInfo: { by: string; reason: string; at: string } | undefined;
  private readonly startedAt: string;
  private endedAt: string | undefined;
  private readonly continuedAsNew: number;
  private running = 0;
  private startedThisRun = 0;
  /** Every child runs in this scope: cancelling it cancels them all (abort). */
  private readonly children = new CancellationScope();

  constructor(
    private readonly input: FleetRequest,
    continued: FleetContinuation | undefined,
  ) {
    this.startedAt = continued?.fleetStartedAt ?? iso(Date.now());
    this.continuedAsNew = continued ? continued.continuedAsNew + 1 : 0;
    if (continued) {
      this.region = continued.region;
      this.stores = continued.stores.map((store) => ({ ...store }));
    }
    this.registerHandlers();
  }

  private registerHandlers(): void {
    setHandler(fleetStatusQuery, () => this.status());
    setHandler(
      fleetAbortUpdate,
      (args: FleetAbortArgs) => {
        this.abortInfo = { by: args.by.trim(), reason: args.reason.trim(), at: iso(Date.now()) };
        this.phase = 'ABORTING';
        const counts = countStores(this.stores);
        this.message = `aborted by ${this.abortInfo.by}: ${this.abortInfo.reason}; cancelling ${counts.running} run(s) under way`;
        // Each child is cancelled through Temporal (parent-to-child cancellation): it undoes what
        // it changed — reconnects the store, restores traffic — and only then ends CANCELLED.
        this.children.cancel();
        return Promise.resolve({
          accepted: true as const,
          cancelling: counts.running,
          notStarted: counts.pending,
        });
      },
      {
        validator: (arg: unknown) => {
          const args = argumentObject('abort', arg, '{"by": "alice@example.com", "reason": "change freeze"}');
          actorField('abort', args);
          reasonField('abort', args);
          if (this.abortInfo) rejectUpdate(`abort: already aborted by ${this.abortInfo.by}`);
          if (this.outcome) rejectUpdate(`abort: the fleet has already ended (${this.outcome})`);
        },
      },
    );
  }

  private get req(): ResolvedFleetRequest {
    if (!this.request) throw new Error('fleet request used before validation');
    return this.request;
  }

  private status(): FleetStatus {
    const info = workflowInfo();
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      continuedAsNew: this.continuedAsNew,
      phase: this.phase,
      outcome: this.outcome,
      region: this.region,
      selection: this.request?.selection,
      maxConcurrency: this.request?.maxConcurrency ?? 0,
      maxErrors: this.request?.maxErrors ?? 0,
      requestedBy: this.request?.requestedBy,
      reason: this.request?.reason,
      startedAt: this.startedAt,
      ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      counts: countStores(this.stores),
      ...(this.abortInfo ? { abort: { ...this.abortInfo } } : {}),
      message: this.message,
      stores: this.stores.map((store) => ({ ...store })),
    };
  }

  async execute(continued: boolean): Promise<FleetResult> {
    // A continued run's stores are already selected; a fleet started when `/regex/` patterns were
    // accepted keeps validating as it did (workflows/patches.ts).
    const validation = validateFleetRequest(this.input, Date.now(), {
      patternAlreadyResolved: continued || !patched(PATCHES.fleetGlobsOnly),
    });
    if (!validation.ok) {
      this.phase = 'FAILED';
      this.message = `invalid fleet request: ${validation.problems.join('; ')}`;
      throw ApplicationFailure.create({
        type: FLEET_FAILURE_TYPES.invalidRequest,
        message: this.message,
        nonRetryable: true,
        details: [{ problems: validation.problems }],
      });
    }
    this.request = validation.request;
    this.region ??= validation.request.region ?? (await setupActivities.defaultRegion());
    if (!continued) await this.resolveStores();

    let stop: Stop;
    try {
      stop = await this.wave();
    } catch (err) {
      if (!isCancellation(err)) throw err;
      // Temporal cancelled the fleet. The cancellation reached the children's scope too: wait,
      // whatever happens, until each has undone its changes, then end as cancelled.
      this.abortInfo ??= {
        by: 'Temporal',
        reason: 'the fleet workflow was cancelled',
        at: iso(Date.now()),
      };
      this.phase = 'ABORTING';
      await CancellationScope.nonCancellable(() => condition(() => this.running === 0));
      try {
        this.conclude();
      } catch {
        // The fleet ends as cancelled either way; its status query still reports every store.
      }
      throw err;
    }
    if (stop === 'continue' && !this.abortInfo && this.errors() <= this.req.maxErrors && this.pending()) {
      // Updates must not be cut off by continue-as-new.
      await condition(allHandlersFinished);
      return continueAsNew<typeof keyStoreFleetMaintenance>(this.input, {
        fleetStartedAt: this.startedAt,
        region: this.region,
        continuedAsNew: this.continuedAsNew,
        stores: this.stores,
      });
    }
    return this.conclude();
  }

  /** Lists the stores a name pattern selects, or takes the given ids, in the fleet's order. */
  private async resolveStores(): Promise<void> {
    const selection = this.req.selection;
    const region = this.region ?? '';
    if (selection.kind === 'stores') {
      this.stores = selection.storeIds.map((id) => this.pendingStore(id, undefined, region));
    } else {
      this.message = `listing the stores in ${region} whose name matches ${selection.namePattern}`;
      const found = await fleetActivities().listKeyStores({ region, namePattern: selection.namePattern });
      if (!found.length) {
        this.phase = 'FAILED';
        this.message = `namePattern ${JSON.stringify(selection.namePattern)} matched no custom key store in ${region}; nothing was started`;
        throw ApplicationFailure.create({
          type: FLEET_FAILURE_TYPES.noStores,
          message: this.message,
          nonRetryable: true,
        });
      }
      this.stores = found.map((s) => this.pendingStore(s.customKeyStoreId, s.name, region));
    }
  }

  private pendingStore(
    customKeyStoreId: string,
    name: string | undefined,
    region: string,
  ): FleetStoreProgress {
    return {
      customKeyStoreId,
      ...(name !== undefined ? { name } : {}),
      workflowId: maintenanceWorkflowId(region, customKeyStoreId),
      state: 'PENDING',
    };
  }

  private errors(): number {
    return countStores(this.stores).errors;
  }

  private pending(): FleetStoreProgress | undefined {
    return this.stores.find((store) => store.state === 'PENDING');
  }

  private stopReason(): Stop | undefined {
    if (this.abortInfo) return 'abort';
    if (this.errors() > this.req.maxErrors) return 'maxErrors';
    if (!this.pending()) return 'done';
    if (this.startedThisRun >= this.req.continueAsNewAfterStores || workflowInfo().continueAsNewSuggested) {
      return 'continue';
    }
    return undefined;
  }

  /** Starts children in order, at most maxConcurrency at a time, until told to stop. */
  private async wave(): Promise<Stop> {
    this.phase = 'RUNNING';
    this.report();
    let stop: Stop | undefined;
    for (;;) {
      await condition(() => this.abortInfo !== undefined || this.running < this.req.maxConcurrency);
      stop = this.stopReason();
      if (stop) break;
      const next = this.pending();
      if (next) this.launch(next);
    }
    if (stop === 'maxErrors') this.phase = 'STOPPING';
    else if (stop === 'continue') this.phase = 'CONTINUING';
    this.report();
    // The runs under way always finish (or, after an abort, finish undoing their changes).
    await condition(() => this.running === 0);
    return this.abortInfo ? 'abort' : stop;
  }

  private launch(store: FleetStoreProgress): void {
    store.state = 'RUNNING';
    store.startedAt = iso(Date.now());
    this.running++;
    this.startedThisRun++;
    this.report();
    void this.children
      .run(() => this.runChild(store))
      .catch((err: unknown) => this.end(store, 'FAILED', { message: `fleet error: ${rootMessage(err)}` }))
      .finally(() => {
        this.running--;
        this.report();
      });
  }

  /** One store's run, start to end; never throws (every ending is recorded on the store). */
  private async runChild(store: FleetStoreProgress): Promise<void> {
    const region = this.region ?? '';
    let handle;
    try {
      handle = await startChild(keyStoreMaintenance, {
        workflowId: store.workflowId,
        args: [storeRequest(this.req, store.customKeyStoreId, region, workflowInfo().workflowId)],
        // Cancelling the fleet (or its abort) cancels the child, which compensates; and the
        // fleet waits for that to finish before it ends.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: store.customKeyStoreId },
          { key: SEARCH_ATTRIBUTES.phase, value: 'PREFLIGHT' },
        ],
        memo: { fleetWorkflowId: workflowInfo().workflowId },
      });
    } catch (err) {
      // @temporalio/workflow does not re-export this error class; its name is stable.
      if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') {
        this.end(store, 'FAILED', {
          message: `another maintenance of ${store.customKeyStoreId} is already running as workflow ${store.workflowId}; this fleet did not start one`,
          errorType: FAILURE_TYPES.alreadyRunning,
        });
      } else if (isCancellation(err)) {
        this.end(store, 'CANCELLED', { message: 'the fleet was aborted while this run was starting' });
      } else {
        this.end(store, 'FAILED', { message: `could not start: ${rootMessage(err)}` });
      }
      return;
    }
    store.runId = handle.firstExecutionRunId;
    try {
      const result = await handle.result();
      this.endWith(store, result);
    } catch (err) {
      const failed = resultInFailure(err);
      if (failed) {
        this.endWith(store, failed.result, failed.type);
      } else if (isCancellation(err)) {
        this.end(store, 'CANCELLED', {
          message: `cancelled by the fleet's abort${this.abortInfo ? ` (${this.abortInfo.by}: ${this.abortInfo.reason})` : ''}; the run undid what it had changed before it ended`,
        });
      } else if (err instanceof ChildWorkflowFailure && err.cause instanceof TerminatedFailure) {
        this.end(store, 'FAILED', {
          message: 'the run was terminated (no compensation ran): check the store and its traffic by hand',
          errorType: 'Terminated',
        });
      } else if (err instanceof ChildWorkflowFailure && err.cause instanceof TimeoutFailure) {
        this.end(store, 'FAILED', {
          message: `the run timed out: ${rootMessage(err)}`,
          errorType: 'Timeout',
        });
      } else {
        const type =
          err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure
            ? err.cause.type
            : undefined;
        this.end(store, 'FAILED', { message: rootMessage(err), ...(type ? { errorType: type } : {}) });
      }
    }
  }

  private endWith(store: FleetStoreProgress, result: MaintenanceResult, errorType?: string): void {
    if (result.store.name && store.name === undefined) store.name = result.store.name;
    this.end(store, result.outcome, {
      message: result.message,
      ...(errorType ? { errorType } : {}),
      ...(result.connectionError ? { connectionErrorCode: result.connectionError.code } : {}),
    });
  }

  private end(
    store: FleetStoreProgress,
    state: EndState,
    how: { message: string; errorType?: string; connectionErrorCode?: string },
  ): void {
    store.state = state;
    store.endedAt = iso(Date.now());
    store.message = how.message;
    if (how.errorType) store.errorType = how.errorType;
    if (how.connectionErrorCode) store.connectionErrorCode = how.connectionErrorCode;
  }

  /** The one-line message for the current progress. */
  private report(): void {
    if (this.phase === 'ABORTING' || this.outcome) return;
    const c = countStores(this.stores);
    const done = c.completed + c.errors;
    const base = `${done} of ${c.total} stores done (${c.completed} completed, ${c.errors} not), ${c.running} running, ${c.pending} waiting; at most ${this.req.maxConcurrency} at a time`;
    if (this.phase === 'STOPPING') {
      this.message = `${c.errors} runs ended other than COMPLETED (maxErrors ${this.req.maxErrors}): starting no more; ${base}`;
    } else if (this.phase === 'CONTINUING') {
      this.message = `waiting for the runs under way before continuing as a new workflow run; ${base}`;
    } else {
      this.message = base;
    }
  }

  /** Ends the fleet: the result, returned or (if any run did not complete) thrown. */
  private conclude(): FleetResult {
    const skippedWhy = this.abortInfo
      ? `not started: the fleet was aborted by ${this.abortInfo.by} (${this.abortInfo.reason})`
      : `not started: more than maxErrors (${this.req.maxErrors}) runs ended other than COMPLETED`;
    let skipped = 0;
    for (const store of this.stores) {
      if (store.state === 'PENDING' || store.state === 'RUNNING') {
        store.state = 'SKIPPED' satisfies FleetStoreState;
        store.message = skippedWhy;
        skipped++;
      }
    }
    const c = countStores(this.stores);
    const problems = this.stores.filter((s) => s.state === 'FAILED' || s.state === 'NEEDS_ATTENTION');
    let outcome: FleetOutcome;
    if (this.abortInfo) outcome = 'ABORTED';
    else if (c.errors === 0) outcome = 'COMPLETED';
    else if (skipped > 0) outcome = 'STOPPED';
    else outcome = 'COMPLETED_WITH_ERRORS';
    const attention = this.stores.filter((s) => s.state === 'NEEDS_ATTENTION').map((s) => s.customKeyStoreId);
    const tail = attention.length ? ` NEEDS ATTENTION: ${attention.join(', ')} (traffic stays drained).` : '';
    switch (outcome) {
      case 'COMPLETED':
        this.message = `all ${c.total} stores completed`;
        break;
      case 'COMPLETED_WITH_ERRORS':
        this.message = `every store was run: ${c.completed} completed, ${c.errors} did not (maxErrors ${this.req.maxErrors}).${tail}`;
        break;
      case 'STOPPED':
        this.message = `stopped: ${c.errors} runs ended other than COMPLETED (maxErrors ${this.req.maxErrors}); ${c.completed} completed, ${skipped} not started.${tail}`;
        break;
      case 'ABORTED':
        this.message = `aborted by ${this.abortInfo?.by ?? '?'}: ${this.abortInfo?.reason ?? ''}; ${c.completed} completed, ${c.errors} did not complete (runs under way were cancelled and undid their changes), ${skipped} not started.${tail}`;
        break;
    }
    this.outcome = outcome;
    this.phase = outcome;
    this.endedAt = iso(Date.now());
    const result: FleetResult = { ...this.status(), outcome };
    // Like a single run, a fleet in which a store failed shows as a failed workflow.
    if (outcome === 'COMPLETED' || (outcome === 'ABORTED' && problems.length === 0)) return result;
    throw ApplicationFailure.create({
      type: FLEET_FAILURE_TYPES.runsFailed,
      message: this.message,
      nonRetryable: true,
      details: [result],
    });
  }
}

/**
 * The fleet workflow. Input: one plain JSON object (see `FleetRequest`); the second argument is
 * only passed by the fleet itself when it continues as new.
 */
export async function keyStoreFleetMaintenance(
  request: FleetRequest,
  continued?: FleetContinuation,
): Promise<FleetResult> {
  return new FleetRun(request, continued).execute(continued !== undefined);
}
