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
  ActivityFailure,
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
  statusSelection,
  storeRequest,
  targetRoleArn,
  validateFleetRequest,
  type FleetLocationProgress,
  type FleetTarget,
  type FleetTargetProgress,
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
import { failureTypeOf, type MaintenanceResult } from '../src/domain/status';
import { fleetActivities, fleetHookActivities, setupActivities } from './activity-options';
import {
  hookCallNotCompleted,
  hookReportOf,
  vetoPointDecision,
  type FleetHookPoint,
  type FleetHooksStatus,
  type HookCallOutcome,
  type HookReport,
} from '../src/domain/hooks';
import { fleetAbortUpdate, fleetStatusQuery, type FleetAbortArgs } from './fleet-messages';
import { rootMessage } from './failures';
import { PATCHES } from './patches';
import { keyStoreMaintenance } from './maintenance';
import { actorField, argumentObject, reasonField, rejectUpdate } from './update-arguments';

/** What a fleet run hands to the next after continue-as-new. */
export interface FleetContinuation {
  readonly fleetStartedAt: string;
  /** Absent for `locations` fleets, whose stores carry their own Regions. */
  readonly region?: string;
  /** Continue-as-new count so far (the new run is one more). */
  readonly continuedAsNew: number;
  readonly stores: readonly FleetStoreProgress[];
  /** `locations` fleets: each account-Region and how its listing went. */
  readonly targets?: readonly FleetTargetProgress[];
  /** What the fleet's hooks did so far (its `beforeFleet` ran in the first run). */
  readonly hooks?: FleetHooksStatus;
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
  /** `locations` fleets only: each account-Region of each location. */
  private targets: FleetTargetProgress[] = [];
  private message = 'starting';
  private abortInfo: { by: string; reason: string; at: string } | undefined;
  private hooks: { -readonly [P in FleetHookPoint]?: HookReport } | undefined;
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
      this.targets = (continued.targets ?? []).map((target) => ({ ...target }));
      if (continued.hooks) this.hooks = { ...continued.hooks };
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
      selection: this.request
        ? statusSelection(this.request.selection, this.request.locationLimits.length)
        : undefined,
      maxConcurrency: this.request?.maxConcurrency ?? 0,
      maxErrors: this.request?.maxErrors ?? 0,
      requestedBy: this.request?.requestedBy,
      reason: this.request?.reason,
      startedAt: this.startedAt,
      ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      counts: countStores(this.stores),
      ...(this.abortInfo ? { abort: { ...this.abortInfo } } : {}),
      ...(this.hooks ? { hooks: { ...this.hooks } } : {}),
      message: this.message,
      stores: this.stores.map((store) => ({ ...store })),
      ...(this.request?.selection.kind === 'locations'
        ? { targets: this.targets.map((t) => ({ ...t })), locations: this.locationProgress() }
        : {}),
    };
  }

  private locationProgress(): FleetLocationProgress[] {
    const selection = this.request?.selection;
    if (selection?.kind !== 'locations') return [];
    return this.req.locationLimits.map((limits, location) => {
      const mine = selection.targets.filter((t) => t.location === location);
      return {
        location,
        accounts: [...new Set(mine.map((t) => t.account ?? ''))],
        regions: [...new Set(mine.map((t) => t.region))],
        maxConcurrency: limits.maxConcurrency,
        maxErrors: limits.maxErrors,
        failedTargets: this.targets.filter((t) => t.location === location && t.state === 'FAILED').length,
        stopped: this.locationStopped(location),
        counts: countStores(this.stores.filter((store) => store.location === location)),
      };
    });
  }

  /**
   * Per location: its errors (runs that did not complete, account-Regions not listed) and runs
   * under way, in one pass over the stores — the wave asks on every activation, so this stays
   * linear in the fleet's size.
   */
  private locationTallies(): Map<number, { errors: number; running: number }> {
    const tallies = new Map<number, { errors: number; running: number }>();
    const tally = (location: number) => {
      let t = tallies.get(location);
      if (!t) {
        t = { errors: 0, running: 0 };
        tallies.set(location, t);
      }
      return t;
    };
    for (const store of this.stores) {
      if (store.location === undefined) continue;
      if (store.state === 'RUNNING') tally(store.location).running++;
      else if (store.state !== 'PENDING' && store.state !== 'COMPLETED' && store.state !== 'SKIPPED') {
        tally(store.location).errors++;
      }
    }
    for (const target of this.targets) if (target.state === 'FAILED') tally(target.location).errors++;
    return tallies;
  }

  /** More than the location's own maxErrors: none of its stores is started any more. */
  private locationStopped(
    location: number | undefined,
    tallies: Map<number, { errors: number; running: number }> = this.locationTallies(),
  ): boolean {
    if (location === undefined) return false;
    const maxErrors = this.request?.locationLimits[location]?.maxErrors;
    return maxErrors !== undefined && (tallies.get(location)?.errors ?? 0) > maxErrors;
  }

  /** The next store that may start now: pending, its location not stopped nor at its concurrency. */
  private launchable(): FleetStoreProgress | undefined {
    const tallies = this.locationTallies();
    return this.stores.find((store) => {
      if (store.state !== 'PENDING') return false;
      if (store.location === undefined) return true;
      if (this.locationStopped(store.location, tallies)) return false;
      const max = this.request?.locationLimits[store.location]?.maxConcurrency;
      return max === undefined || (tallies.get(store.location)?.running ?? 0) < max;
    });
  }

  /** A store still to start whose location has not stopped (it may be waiting for a free slot). */
  private startable(): FleetStoreProgress | undefined {
    const tallies = this.locationTallies();
    return this.stores.find(
      (store) => store.state === 'PENDING' && !this.locationStopped(store.location, tallies),
    );
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
    if (validation.request.selection.kind === 'locations') {
      if (!continued) await this.resolveTargets(validation.request.selection.targets);
    } else {
      this.region ??= validation.request.region ?? (await setupActivities.defaultRegion());
      if (!continued) await this.resolveStores();
    }
    // Only fleets whose request names hooks call one; no fleet started by older code could
    // (its schema refused `hooks`), so their commands need no patched().
    if (!continued && this.req.hooks?.beforeFleet && !(await this.beforeFleetHook())) {
      return this.finish();
    }

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
    if (stop === 'continue' && !this.abortInfo && this.errors() <= this.req.maxErrors && this.startable()) {
      // Updates must not be cut off by continue-as-new.
      await condition(allHandlersFinished);
      return continueAsNew<typeof keyStoreFleetMaintenance>(this.input, {
        fleetStartedAt: this.startedAt,
        ...(this.region !== undefined ? { region: this.region } : {}),
        continuedAsNew: this.continuedAsNew,
        stores: this.stores,
        ...(this.targets.length ? { targets: this.targets } : {}),
        ...(this.hooks ? { hooks: this.hooks } : {}),
      });
    }
    return this.finish();
  }

  /**
   * `beforeFleet`: asked once, before any store starts. A veto — or no answer, unless the
   * request says "proceed" — aborts the fleet with every store not started.
   */
  private async beforeFleetHook(): Promise<boolean> {
    const spec = this.req.hooks?.beforeFleet;
    if (!spec) return true;
    this.message = `asking hook "${spec.hook}" (beforeFleet) whether the fleet may start`;
    const outcome = await this.callHook(
      'beforeFleet',
      spec.hook,
      `about to start maintenance of ${this.stores.length} stores`,
    );
    const decision = vetoPointDecision(outcome, spec.onNoAnswer);
    this.recordHook('beforeFleet', outcome, decision);
    if (decision !== 'vetoed') return true;
    this.abortInfo = {
      by: `hook ${spec.hook}`,
      reason: outcome.answered
        ? `vetoed the fleet (beforeFleet): ${outcome.reason ?? 'no reason given'}`
        : `gave no answer before the fleet (${outcome.error ?? 'no answer'}), and a beforeFleet hook fails closed`,
      at: iso(Date.now()),
    };
    return false;
  }

  /**
   * The fleet's end, then `afterFleet` (best-effort: it hears the outcome and cannot change it;
   * every store is back or reported by now, so it extends nothing).
   */
  private async finish(): Promise<FleetResult> {
    let result: FleetResult | undefined;
    let failure: unknown;
    try {
      result = this.conclude();
    } catch (err) {
      failure = err;
    }
    const spec = this.req.hooks?.afterFleet;
    if (spec) {
      await CancellationScope.nonCancellable(async () => {
        const outcome = await this.callHook('afterFleet', spec.hook, this.message);
        this.recordHook('afterFleet', outcome, outcome.answered ? 'ok' : 'failed');
      });
      if (result) result = { ...result, ...(this.hooks ? { hooks: { ...this.hooks } } : {}) };
    }
    if (result) return result;
    throw failure;
  }

  private async callHook(point: FleetHookPoint, hook: string, message: string): Promise<HookCallOutcome> {
    const started = Date.now();
    const info = workflowInfo();
    try {
      return await fleetHookActivities().callHook({
        point,
        hook,
        payload: {
          workflowId: info.workflowId,
          runId: info.runId,
          requestedBy: this.req.requestedBy,
          reason: this.req.reason,
          phase: this.phase,
          ...(this.outcome !== undefined ? { outcome: this.outcome } : {}),
          message,
          stores: this.stores.map((s) => s.customKeyStoreId),
        },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return hookCallNotCompleted(point, hook, rootMessage(err), Date.now() - started);
    }
  }

  private recordHook(
    point: FleetHookPoint,
    outcome: HookCallOutcome,
    decision: HookReport['decision'],
  ): void {
    this.hooks = {
      ...this.hooks,
      [point]: hookReportOf(outcome, decision, iso(Date.now())),
    };
  }

  /** Lists the stores a name pattern selects, or takes the given ids, in the fleet's order. */
  private async resolveStores(): Promise<void> {
    const selection = this.req.selection;
    const region = this.region ?? '';
    if (selection.kind === 'locations') return;
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

  /**
   * Lists the stores of every account-Region of every location, all at once. An account-Region
   * that cannot be listed (its role cannot be assumed, its account denies the call) fails alone:
   * it is one error against its location's and the fleet's maxErrors, and the others go on.
   */
  private async resolveTargets(targets: readonly FleetTarget[]): Promise<void> {
    this.targets = targets.map((t) => {
      const roleArn = targetRoleArn(t);
      return {
        location: t.location,
        account: t.account,
        region: t.region,
        ...(roleArn !== undefined ? { roleArn } : {}),
        state: t.select.kind === 'stores' ? 'READY' : 'LISTING',
        stores: t.select.kind === 'stores' ? t.select.storeIds.length : 0,
      };
    });
    this.message = `listing the stores of ${targets.length} account-Region(s)`;
    const found = await Promise.all(
      targets.map(async (target, i) => {
        const progress = this.targets[i];
        if (target.select.kind === 'stores' || !progress) {
          return target.select.kind === 'stores'
            ? target.select.storeIds.map((id) => ({ customKeyStoreId: id, name: undefined }))
            : [];
        }
        try {
          const listed = await fleetActivities().listKeyStores({
            region: target.region,
            ...(target.account !== undefined ? { account: target.account } : {}),
            ...(target.executionRole !== undefined ? { executionRole: target.executionRole } : {}),
            ...(target.externalId !== undefined ? { externalId: target.externalId } : {}),
            namePattern: target.select.namePattern,
          });
          progress.state = 'READY';
          progress.stores = listed.length;
          return listed;
        } catch (err) {
          if (isCancellation(err)) throw err;
          progress.state = 'FAILED';
          progress.message = `its stores could not be listed: ${rootMessage(err)}`;
          const type =
            err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
              ? err.cause.type
              : undefined;
          if (type) progress.errorType = type;
          return [];
        }
      }),
    );
    this.stores = targets.flatMap((target, i) =>
      (found[i] ?? []).map((store) => ({
        customKeyStoreId: store.customKeyStoreId,
        ...(store.name !== undefined ? { name: store.name } : {}),
        ...(target.account !== undefined ? { account: target.account } : {}),
        region: target.region,
        location: target.location,
        workflowId: maintenanceWorkflowId(target.region, store.customKeyStoreId, target.account),
        state: 'PENDING' as const,
      })),
    );
    const failed = this.targets.filter((t) => t.state === 'FAILED').length;
    if (!this.stores.length && !failed) {
      this.phase = 'FAILED';
      this.message = `no location has a custom key store that its selection matches; nothing was started`;
      throw ApplicationFailure.create({
        type: FLEET_FAILURE_TYPES.noStores,
        message: this.message,
        nonRetryable: true,
      });
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

  /** Runs that did not complete, and (`locations` fleets) account-Regions that could not be listed. */
  private errors(): number {
    return countStores(this.stores).errors + this.targets.filter((t) => t.state === 'FAILED').length;
  }

  private pending(): FleetStoreProgress | undefined {
    return this.stores.find((store) => store.state === 'PENDING');
  }

  private stopReason(): Stop | undefined {
    if (this.abortInfo) return 'abort';
    if (this.errors() > this.req.maxErrors) return 'maxErrors';
    if (!this.startable()) return 'done';
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
      // A store may wait for its location's own concurrency; without locations this is just
      // "a slot is free", as it always was.
      await condition(
        () =>
          this.abortInfo !== undefined ||
          (this.running < this.req.maxConcurrency &&
            (this.launchable() !== undefined || this.startable() === undefined)),
      );
      stop = this.stopReason();
      if (stop) break;
      const next = this.launchable();
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
    const region = store.region ?? this.region ?? '';
    const target = store.location !== undefined ? this.targetOf(store) : undefined;
    let handle;
    try {
      handle = await startChild(keyStoreMaintenance, {
        workflowId: store.workflowId,
        args: [
          storeRequest(this.req, store.customKeyStoreId, region, workflowInfo().workflowId, {
            ...(target?.account !== undefined ? { account: target.account } : {}),
            ...(target?.executionRole !== undefined ? { executionRole: target.executionRole } : {}),
            ...(target?.externalId !== undefined ? { externalId: target.externalId } : {}),
          }),
        ],
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

  /** The account-Region a store of a `locations` fleet belongs to. */
  private targetOf(store: FleetStoreProgress): FleetTarget | undefined {
    const selection = this.req.selection;
    if (selection.kind !== 'locations') return undefined;
    return selection.targets.find(
      (t) => t.location === store.location && t.account === store.account && t.region === store.region,
    );
  }

  private endWith(store: FleetStoreProgress, result: MaintenanceResult, wrapperType?: string): void {
    if (result.store.name && store.name === undefined) store.name = result.store.name;
    // What ended a FAILED run (GateBlocked, PreflightRefused, …) says more than the workflow's
    // own MaintenanceFailed; runs of older workers carry it only in their run.interrupted event.
    const errorType = failureTypeOf(result) ?? wrapperType;
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
    const skippedWhy = (store: FleetStoreProgress): string => {
      if (this.abortInfo)
        return `not started: the fleet was aborted by ${this.abortInfo.by} (${this.abortInfo.reason})`;
      if (store.location !== undefined && this.locationStopped(store.location)) {
        return `not started: location ${store.location} had more than its maxErrors (${this.req.locationLimits[store.location]?.maxErrors ?? 0}) errors`;
      }
      return `not started: more than maxErrors (${this.req.maxErrors}) runs ended other than COMPLETED`;
    };
    let skipped = 0;
    for (const store of this.stores) {
      if (store.state === 'PENDING' || store.state === 'RUNNING') {
        store.message = skippedWhy(store);
        store.state = 'SKIPPED' satisfies FleetStoreState;
        skipped++;
      }
    }
    const c = countStores(this.stores);
    const problems = this.stores.filter((s) => s.state === 'FAILED' || s.state === 'NEEDS_ATTENTION');
    const errors = this.errors();
    let outcome: FleetOutcome;
    if (this.abortInfo) outcome = 'ABORTED';
    else if (errors === 0) outcome = 'COMPLETED';
    else if (skipped > 0) outcome = 'STOPPED';
    else outcome = 'COMPLETED_WITH_ERRORS';
    const attention = this.stores.filter((s) => s.state === 'NEEDS_ATTENTION').map((s) => s.customKeyStoreId);
    const failedTargets = this.targets.filter((t) => t.state === 'FAILED');
    const tail =
      (attention.length ? ` NEEDS ATTENTION: ${attention.join(', ')} (traffic stays drained).` : '') +
      (failedTargets.length
        ? ` Not listed: ${failedTargets.map((t) => `${t.account ?? 'self'}/${t.region} (${t.errorType ?? 'error'})`).join(', ')}.`
        : '');
    switch (outcome) {
      case 'COMPLETED':
        this.message = `all ${c.total} stores completed`;
        break;
      case 'COMPLETED_WITH_ERRORS':
        this.message = `every store was run: ${c.completed} completed, ${c.errors} did not (maxErrors ${this.req.maxErrors}).${tail}`;
        break;
      case 'STOPPED':
        this.message = this.targets.length
          ? `stopped: ${errors} errors (runs not completed, account-Regions not listed; maxErrors ${this.req.maxErrors} for the fleet, and each location's own); ${c.completed} completed, ${skipped} not started.${tail}`
          : `stopped: ${c.errors} runs ended other than COMPLETED (maxErrors ${this.req.maxErrors}); ${c.completed} completed, ${skipped} not started.${tail}`;
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
    if (
      outcome === 'COMPLETED' ||
      (outcome === 'ABORTED' && problems.length === 0 && failedTargets.length === 0)
    )
      return result;
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
