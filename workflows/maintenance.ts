/**
 * keyStoreMaintenance: one maintenance run of one custom key store, phase by phase.
 *
 *   PREFLIGHT → [AWAITING_APPROVAL] → DRAINING → DISCONNECTING → WAITING_DISCONNECTED →
 *   IN_WINDOW → RECONNECTING → WAITING_CONNECTED → VERIFYING → RESTORING → COMPLETED
 *
 * Ends: `COMPLETED` (returned), `CANCELLED` (returned after an abort or an approval timeout;
 * after a Temporal cancellation the run is marked cancelled), `FAILED` (an `ApplicationFailure`
 * of type `MaintenanceFailed`) and `NEEDS_ATTENTION` (type `NeedsAttention`: the store is not
 * confirmed back, or traffic could not be restored). Both failures carry the full result as their
 * details, so the Temporal UI shows them as failed runs — loudly — and the client still reads the
 * result.
 *
 * The invariant (docs/architecture.md): **the final report — outcome, `store.lastObservedState`,
 * `trafficRestored`, message — equals the truth.** "Back" means CONNECTED confirmed by the
 * confirmation rule (reads that agree across `confirmSettle`, all after every mutation this run
 * may have had in flight finished); traffic returns only after that. Whatever stops the run —
 * abort, Temporal cancellation, a failure, a worker killed anywhere — compensation waits for the
 * step under way (mutating activities are cancelled with WAIT_CANCELLATION_COMPLETED), then, in a
 * non-cancellable scope, brings the store back if it may be offline, confirms it, and only then
 * restores traffic. When the run cannot establish the truth, it ends NEEDS_ATTENTION and says
 * what it knows and what it does not.
 *
 * The history does not grow with the window's length or with how long KMS takes: waiting happens
 * inside heartbeating activities and one durable timer per window end.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  condition,
  executeChild,
  isCancellation,
  patched,
  sleep,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConfirmOutcome, StoreSnapshot, WaitOutcome } from '../activities/keystore';
import { RUNNER_ACTOR, type AuditOutcome } from '../src/domain/audit-event';
import { describeConnectionError, type ConnectionState } from '../src/domain/connection-state';
import { formatDuration, parseDuration } from '../src/domain/duration';
import { FAILURE_TYPES } from '../src/domain/errors';
import { maintenanceWorkflowId, parseMaintenanceWorkflowId, SEARCH_ATTRIBUTES } from '../src/domain/names';
import { isEndState, type EndState, type RunPhase } from '../src/domain/phases';
import {
  validateMaintenanceRequest,
  type MaintenanceRequest,
  type ResolvedMaintenanceRequest,
} from '../src/domain/request';
import type { GateReport } from '../src/domain/gates';
import {
  HOOK_NO_ANSWER,
  hookCallNotCompleted,
  hookReportOf,
  vetoPointDecision,
  type HookCallOutcome,
  type HookReport,
  type StoreHookPoint,
} from '../src/domain/hooks';
import type { ReadinessReport } from '../src/domain/probes';
import type {
  ConnectionErrorReport,
  DrainRecord,
  MaintenanceResult,
  MaintenanceStatus,
  PhaseSpan,
  GatesStatus,
  PlanStep,
  ReadinessStatus,
} from '../src/domain/status';
import type { DrainPlan } from '../src/domain/traffic';
import { activitiesFor, notificationCheckActivities, setupActivities } from './activity-options';
import { dryRunPlan } from './dry-run-plan';
import { rootApplicationFailure, rootMessage } from './failures';
import {
  abortUpdate,
  approveUpdate,
  endWindowNowUpdate,
  extendWindowUpdate,
  statusQuery,
  type AbortAnswer,
  type ApproveAnswer,
  type WindowAnswer,
} from './messages';
import { PATCHES } from './patches';
import { auditLocation, RunAudit } from './run-audit';
import { RunMetrics } from './run-metrics';
import { RunNotifications, type EventFacts } from './run-notifications';
import { actorField, argumentObject, reasonField, rejectUpdate } from './update-arguments';

/** Phases in which an abort still has something to stop; later, the run is already returning. */
const ABORTABLE: ReadonlySet<RunPhase> = new Set([
  'PREFLIGHT',
  'AWAITING_APPROVAL',
  'DRAINING',
  'DISCONNECTING',
  'WAITING_DISCONNECTED',
  'IN_WINDOW',
]);

/**
 * How often the confirmation may find the store not CONNECTED after it looked back (a stale read
 * believed, a relapse) before the run stops trying and asks for a human.
 */
const MAX_RELAPSES = 3;

/** Why the run stopped before the end of the happy path. */
type Interruption =
  | { readonly kind: 'abort' }
  | { readonly kind: 'cancel'; readonly error: unknown }
  | { readonly kind: 'approval-timeout' }
  | { readonly kind: 'failure'; readonly error: unknown }
  | { readonly kind: 'veto'; readonly why: string };

/** The store is not confirmed back (or traffic could not be restored): the run ends NEEDS_ATTENTION. */
class StoreNotBack extends Error {
  constructor(
    message: string,
    readonly connectionError?: ConnectionErrorReport,
  ) {
    super(message);
    this.name = 'StoreNotBack';
  }
}

/** The `beforeDrain` hook vetoed the drain (or, failing closed, did not answer): nothing was touched. */
class HookVetoed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookVetoed';
  }
}

class ApprovalTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no approval within ${formatDuration(timeoutMs)}`);
    this.name = 'ApprovalTimedOut';
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

type Acts = ReturnType<typeof activitiesFor>;

class MaintenanceRun {
  private readonly info = workflowInfo();
  private request: ResolvedMaintenanceRequest | undefined;
  private region: string | undefined;
  private phase: RunPhase = 'PREFLIGHT';
  private readonly timeline: PhaseSpan[] = [];
  private readonly auditTrail: RunAudit;
  /** Phase durations and the ending, for the worker's metrics (a sink: never affects the run). */
  private readonly runMetrics = new RunMetrics();
  /** Messages to the request's destinations (requests with `notify` only; docs/notifications.md). */
  private readonly notifications = new RunNotifications(
    () => this.request?.notify,
    (action, detail, outcome, actor, error) => this.audit(action, detail, outcome, actor, error),
  );
  private store: MaintenanceStatus['store'] = {};
  private windowStartMs: number | undefined;
  private windowEndMs: number | undefined;
  /** Bumped whenever the window's end moves, to wake the window timer. */
  private windowVersion = 0;
  private approvedBy: string | undefined;
  private approvedAt: string | undefined;
  private readonly extensions: { by: string; at: string; newEnd: string }[] = [];
  private windowEndedEarlyBy: string | undefined;
  private abortInfo: { by: string; reason: string; at: string } | undefined;
  private drainPlan: DrainPlan | undefined;
  /** The drain step was attempted: some traffic may have moved even if it did not finish. */
  private drainStarted = false;
  /** The drain step failed in a way that proves nothing reached the traffic controller. */
  private drainNeverDelivered = false;
  private drainRecord: DrainRecord | undefined;
  private trafficRestore: MaintenanceStatus['trafficRestore'];
  private trafficRestored = false;
  /** From the disconnect step on: the store may be offline, whatever the step answered. */
  private mayBeOffline = false;
  /** This run changed (or may have changed) the store after its last read of it. */
  private changedSinceObserved = false;
  private connectAttempts = 0;
  private connectionError: ConnectionErrorReport | undefined;
  /** Why a FAILED run failed (`status.failure`). */
  private failure: { type: string; message: string } | undefined;
  /** The readiness probes' answers and wait (requests with `probes` only). */
  private readiness: { -readonly [K in keyof ReadinessStatus]: ReadinessStatus[K] } | undefined;
  /** The gates' answers and wait (requests with `gates` only). */
  private gates: { -readonly [K in keyof GatesStatus]: GatesStatus[K] } | undefined;
  /** What each point's hook did (requests with `hooks` only). */
  private hooks: { [P in StoreHookPoint]?: HookReport } | undefined;
  /** The wait for readiness under way: cancelled by `endWindowNow` with `force`. */
  private readinessScope: CancellationScope | undefined;
  private message = 'starting';
  private outcome: EndState | undefined;
  /** Why the run is stopping, once it is: later aborts are refused. */
  private stopping: string | undefined;
  /** Set in the first activation: this run hands the maintenance to the store's canonical run. */
  private delegating = false;
  private delegatedTo: string | undefined;
  private readonly mainScope = new CancellationScope();
  /**
   * Decided once at the start (patched() is memoized here): a run started by an older worker
   * keeps the behaviour it started with for its whole life (workflows/patches.ts).
   */
  private readonly safe: boolean;
  /** The request names a webhook controller (workflows/patches.ts), rather than a URL. */
  private readonly controllersOnWorker: boolean;
  /** The store is read once more after traffic is restored (workflows/patches.ts). */
  private readonly finalRead: boolean;

  constructor(private readonly input: MaintenanceRequest) {
    setHandler(statusQuery, () => this.status());
    this.safe = patched(PATCHES.interruptionSafety);
    this.controllersOnWorker = patched(PATCHES.webhookControllersOnWorker);
    this.finalRead = patched(PATCHES.finalReadAfterRestore);
    this.auditTrail = new RunAudit(this.info, this.safe, () => ({
      phase: this.phase,
      customKeyStoreId: this.request?.customKeyStoreId,
      ...(this.request && this.region !== undefined
        ? {
            location: auditLocation(
              { region: this.region, ...this.request.location },
              this.request.customKeyStoreId,
            ),
          }
        : {}),
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Messages
  //
  // Handlers are registered in the run's first activation, as soon as it knows whether it runs
  // the maintenance itself or delegates it to the store's canonical run (decided without waiting
  // for anything). A delegating run refuses every update with the canonical workflow id to send
  // it to; when that id still needs the worker's Region (no region in the request), the update is
  // held until the Region is known and then refused with the id — never accepted and ignored.

  private registerUpdateHandlers(): void {
    setHandler(
      approveUpdate,
      async (arg) => {
        // Not awaited otherwise: the handler's change must be in place before the next validator.
        if (this.delegating) await this.refuseDelegated('approve');
        const approver = actorField('approve', argumentObject('approve', arg, '{"by": "alice@example.com"}'));
        const alreadyApproved = this.approvedBy !== undefined;
        if (!alreadyApproved) {
          this.approvedBy = approver;
          this.approvedAt = iso(Date.now());
          this.audit('message.approve', { approvedBy: approver }, 'ok', approver);
        }
        return {
          approvedBy: this.approvedBy ?? approver,
          approvedAt: this.approvedAt ?? iso(Date.now()),
          alreadyApproved,
        } satisfies ApproveAnswer;
      },
      {
        validator: (arg: unknown) => {
          actorField('approve', argumentObject('approve', arg, '{"by": "alice@example.com"}'));
          if (this.refusedHere('approve')) return;
          if (this.request && !this.request.approval.required) {
            rejectUpdate('approve: this run does not require approval (approval.required is false)');
          }
          if (
            this.approvedBy === undefined &&
            this.phase !== 'PREFLIGHT' &&
            this.phase !== 'AWAITING_APPROVAL'
          ) {
            rejectUpdate(`approve: the run is in ${this.phase}; approval is only possible before it starts`);
          }
        },
      },
    );

    const extendExample = '{"by": "alice@example.com", "duration": "30m"}';
    setHandler(
      extendWindowUpdate,
      async (arg) => {
        // Not awaited otherwise: the handler's change must be in place before the next validator.
        if (this.delegating) await this.refuseDelegated('extendWindow');
        const args = argumentObject('extendWindow', arg, extendExample);
        const by = actorField('extendWindow', args);
        const duration = String(args.duration);
        const extraMs = parseDuration(duration) ?? 0;
        const newEnd = (this.windowEndMs ?? Date.now()) + extraMs;
        this.windowEndMs = newEnd;
        this.windowVersion++;
        const entry = { by, at: iso(Date.now()), newEnd: iso(newEnd) };
        this.extensions.push(entry);
        this.audit('message.extendWindow', { duration, newEnd: entry.newEnd }, 'ok', by);
        return { windowEndsAt: entry.newEnd } satisfies WindowAnswer;
      },
      {
        validator: (arg: unknown) => {
          const args = argumentObject('extendWindow', arg, extendExample);
          actorField('extendWindow', args);
          if (this.refusedHere('extendWindow')) return;
          const duration = args.duration;
          const extraMs =
            typeof duration === 'string' && duration.length <= 64 ? parseDuration(duration) : undefined;
          if (extraMs === undefined || extraMs <= 0) {
            rejectUpdate(
              `extendWindow: "duration" ${JSON.stringify(duration) ?? 'is missing'}${duration === undefined ? '' : ' is not a positive duration'}; use ISO-8601 (PT30M) or a short form (30m, 2h)`,
            );
          }
          this.rejectUnlessWindowOpen('extendWindow', 'extended');
          const start = this.windowStartMs ?? 0;
          const end = this.windowEndMs ?? 0;
          const latest = start + (this.request?.maxWindowMs ?? 0);
          if (end + extraMs > latest) {
            rejectUpdate(
              `extendWindow: extending by ${formatDuration(extraMs)} would end the window at ${iso(end + extraMs)}, past maxWindow (latest end ${iso(latest)}); extend by at most ${formatDuration(Math.max(0, latest - end))}`,
            );
          }
        },
      },
    );

    setHandler(
      endWindowNowUpdate,
      async (arg) => {
        // Not awaited otherwise: the handler's change must be in place before the next validator.
        if (this.delegating) await this.refuseDelegated('endWindowNow');
        const args = argumentObject('endWindowNow', arg, '{"by": "alice@example.com"}');
        const by = actorField('endWindowNow', args);
        if (args.force === true && this.readiness?.waiting) {
          const at = iso(Date.now());
          this.readiness.forced = { by, at };
          this.audit(
            'message.endWindowNow',
            {
              force: true,
              readiness: this.readiness.last?.summary,
              waitingSince: this.readiness.waiting.since,
            },
            'ok',
            by,
          );
          this.readinessScope?.cancel();
          return {
            windowEndsAt: this.windowEndMs !== undefined ? iso(this.windowEndMs) : at,
          } satisfies WindowAnswer;
        }
        const now = Date.now();
        this.windowEndMs = now;
        this.windowVersion++;
        this.windowEndedEarlyBy = by;
        this.audit('message.endWindowNow', { newEnd: iso(now) }, 'ok', by);
        return { windowEndsAt: iso(now) } satisfies WindowAnswer;
      },
      {
        validator: (arg: unknown) => {
          const args = argumentObject('endWindowNow', arg, '{"by": "alice@example.com"}');
          actorField('endWindowNow', args);
          if (args.force !== undefined && typeof args.force !== 'boolean') {
            rejectUpdate('endWindowNow: "force" must be true or false');
          }
          if (this.refusedHere('endWindowNow')) return;
          if (this.readiness?.waiting) {
            if (args.force !== true) {
              rejectUpdate(
                `endWindowNow: the window is over and the run is holding the store disconnected until its readiness probes say ready (${this.readiness.last?.summary ?? 'not yet answered'}); to connect anyway, send {"by": "…", "force": true}`,
              );
            }
            if (this.readiness.forced) {
              rejectUpdate(`endWindowNow: already forced by ${this.readiness.forced.by}`);
            }
            return;
          }
          if (args.force === true) {
            rejectUpdate(
              `endWindowNow: "force" applies only while the run waits for its readiness probes before connecting; the run is in ${this.phase}`,
            );
          }
          this.rejectUnlessWindowOpen('endWindowNow', 'ended');
        },
      },
    );

    const abortExample = '{"by": "alice@example.com", "reason": "vendor postponed"}';
    setHandler(
      abortUpdate,
      async (arg) => {
        // Not awaited otherwise: the handler's change must be in place before the next validator.
        if (this.delegating) await this.refuseDelegated('abort');
        const args = argumentObject('abort', arg, abortExample);
        const phase = this.phase;
        this.abortInfo = {
          by: actorField('abort', args),
          reason: reasonField('abort', args),
          at: iso(Date.now()),
        };
        this.audit(
          'message.abort',
          { reason: this.abortInfo.reason, phaseAtAbort: phase },
          'ok',
          this.abortInfo.by,
        );
        this.mainScope.cancel();
        return { accepted: true, phase } satisfies AbortAnswer;
      },
      {
        validator: (arg: unknown) => {
          const args = argumentObject('abort', arg, abortExample);
          actorField('abort', args);
          reasonField('abort', args);
          if (this.refusedHere('abort')) return;
          if (this.abortInfo) rejectUpdate(`abort: already aborted by ${this.abortInfo.by}`);
          if (this.stopping !== undefined || this.mainScope.consideredCancelled) {
            rejectUpdate(
              `abort: the run is already stopping (${this.stopping ?? 'the workflow was cancelled'}) and is undoing what it changed; there is nothing left to abort`,
            );
          }
          if (!ABORTABLE.has(this.phase)) {
            rejectUpdate(
              `abort: the run is already in ${this.phase}, bringing the store back; there is nothing left to abort`,
            );
          }
        },
      },
    );
  }

  /**
   * Refuses an update sent to the wrong run or too late. Returns true when the run is delegating
   * but its canonical id still waits for the Region: the validator then lets the update through
   * and its handler refuses it once the id is known.
   */
  private refusedHere(update: string): boolean {
    if (this.delegatedTo) rejectUpdate(this.delegatedMessage(update, this.delegatedTo));
    if (this.delegating) return true;
    if (isEndState(this.phase)) rejectUpdate(`${update}: the run has already ended (${this.phase})`);
    return false;
  }

  private delegatedMessage(update: string, canonicalId: string): string {
    return `${update}: this run delegates the maintenance to workflow ${canonicalId} (the store's canonical run, which holds the per-store lock); send the update there`;
  }

  /** In a delegating run, every update ends here, refused with the canonical id. */
  private async refuseDelegated(update: string): Promise<void> {
    await condition(() => this.delegatedTo !== undefined);
    rejectUpdate(this.delegatedMessage(update, this.delegatedTo ?? ''));
  }

  /** The window can be moved only while it is open: in IN_WINDOW, not yet ended, not stopping. */
  private rejectUnlessWindowOpen(update: string, verb: string): void {
    if (this.phase !== 'IN_WINDOW' || this.windowEndMs === undefined || this.windowStartMs === undefined) {
      rejectUpdate(`${update}: the run is in ${this.phase}; the window can only be ${verb} while IN_WINDOW`);
    }
    if (this.windowEndedEarlyBy !== undefined) {
      rejectUpdate(
        `${update}: the window was already ended by ${this.windowEndedEarlyBy}; it cannot be ${verb}`,
      );
    }
    if (this.stopping !== undefined || this.mainScope.consideredCancelled) {
      rejectUpdate(`${update}: the run is stopping and bringing the store back; the window is over`);
    }
    if (this.windowEndMs <= Date.now()) {
      rejectUpdate(
        `${update}: the window has already ended (at ${iso(this.windowEndMs)}); the store is being reconnected`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // State, audit and phases

  /** What a notification says about the run at this moment (docs/notifications.md). */
  private notificationFacts(): EventFacts {
    const request = this.request;
    return {
      at: iso(Date.now()),
      phase: this.phase,
      ...(this.outcome ? { outcome: this.outcome } : {}),
      message: this.message,
      customKeyStoreId: request?.customKeyStoreId ?? '',
      ...(this.store.name ? { storeName: this.store.name } : {}),
      ...(this.store.type ? { storeType: this.store.type } : {}),
      region: this.region ?? '',
      ...(request?.location.account !== undefined ? { account: request.location.account } : {}),
      ...(this.windowEndMs !== undefined ? { windowEndsAt: iso(this.windowEndMs) } : {}),
      requestedBy: request?.requestedBy ?? '',
      reason: request?.reason ?? '',
      ...(request?.ticket ? { ticket: request.ticket } : {}),
      dryRun: request?.dryRun ?? false,
      workflowId: this.info.workflowId,
      runId: this.info.runId,
    };
  }

  private status(): MaintenanceStatus {
    const notifications = this.notifications.report();
    const latestEnd =
      this.windowStartMs !== undefined && this.request
        ? iso(this.windowStartMs + this.request.maxWindowMs)
        : undefined;
    return {
      workflowId: this.info.workflowId,
      runId: this.info.runId,
      customKeyStoreId: this.request?.customKeyStoreId ?? String(this.input?.customKeyStoreId ?? ''),
      region: this.region,
      phase: this.phase,
      outcome: this.outcome,
      dryRun: this.request?.dryRun ?? false,
      requestedBy: this.request?.requestedBy,
      reason: this.request?.reason,
      ticket: this.request?.ticket,
      timeline: this.timeline.map((span) => ({ ...span })),
      window: {
        ...(this.windowStartMs !== undefined ? { startedAt: iso(this.windowStartMs) } : {}),
        ...(this.windowEndMs !== undefined ? { endsAt: iso(this.windowEndMs) } : {}),
        ...(latestEnd ? { latestEnd } : {}),
      },
      store: { ...this.store },
      connectAttempts: this.connectAttempts,
      approval: {
        required: this.request?.approval.required ?? false,
        ...(this.approvedBy ? { approvedBy: this.approvedBy, approvedAt: this.approvedAt } : {}),
      },
      extensions: [...this.extensions],
      ...(this.windowEndedEarlyBy ? { windowEndedEarlyBy: this.windowEndedEarlyBy } : {}),
      ...(this.abortInfo ? { abort: { ...this.abortInfo } } : {}),
      ...(this.drainPlan ? { drainPlan: this.drainPlan } : {}),
      ...(this.drainRecord ? { drain: this.drainRecord } : {}),
      ...(this.trafficRestore ? { trafficRestore: this.trafficRestore } : {}),
      trafficRestored: this.trafficRestored,
      ...(this.connectionError ? { connectionError: this.connectionError } : {}),
      ...(this.failure ? { failure: { ...this.failure } } : {}),
      ...(this.readiness ? { readiness: { ...this.readiness } } : {}),
      ...(this.gates ? { gates: { ...this.gates } } : {}),
      ...(this.hooks ? { hooks: { ...this.hooks } } : {}),
      ...(notifications ? { notifications } : {}),
      message: this.message,
      audit: this.auditTrail.report(),
      events: [...this.auditTrail.events],
    };
  }

  private audit(
    action: string,
    detail: Record<string, unknown>,
    outcome: AuditOutcome,
    actor: string = RUNNER_ACTOR,
    error?: { type: string; message: string },
  ): void {
    this.auditTrail.record(action, detail, outcome, actor, error);
  }

  private async enter(phase: RunPhase, message: string): Promise<void> {
    const now = iso(Date.now());
    const current = this.timeline[this.timeline.length - 1];
    if (current && current.endedAt === undefined) current.endedAt = now;
    if (this.timeline.length === 0 && phase !== 'PREFLIGHT') {
      // The run failed before its first phase began: record the preflight it spent.
      this.timeline.push({
        phase: 'PREFLIGHT',
        startedAt: iso(this.info.runStartTime.getTime()),
        endedAt: now,
      });
    }
    this.phase = phase;
    this.message = message;
    if (isEndState(phase)) {
      this.outcome = phase;
      this.timeline.push({ phase, startedAt: now, endedAt: now });
    } else {
      this.timeline.push({ phase, startedAt: now });
    }
    this.runMetrics.entered(this.timeline);
    // From the disconnect call on, the store may be offline: compensation must reconnect it.
    if (phase === 'DISCONNECTING') this.mayBeOffline = true;
    this.audit(isEndState(phase) ? 'run.ended' : 'phase.entered', { message }, 'info');
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    // Notifications that need no patched(): only requests with `notify` schedule them, and no run
    // started by older code can have one (its request schema refused the field).
    this.notifications.phaseEntered(
      phase,
      this.auditTrail.events.length,
      this.info.workflowId,
      this.info.runId,
      () => this.notificationFacts(),
    );
    await this.auditTrail.flush();
    if (isEndState(phase)) {
      // At the end the store is back (or reported), so waiting for the last deliveries and the
      // trail extends nothing; what became of the deliveries goes into the trail too.
      await this.notifications.settle();
      await this.auditTrail.flush();
      await this.auditTrail.settle();
    }
  }

  private observe(snapshot: { state: ConnectionState; connectionErrorCode?: string | undefined }): void {
    const { connectionErrorCode: _previous, changedSinceObserved: _changed, ...rest } = this.store;
    this.changedSinceObserved = false;
    this.store = {
      ...rest,
      lastObservedState: snapshot.state,
      lastObservedAt: iso(Date.now()),
      ...(snapshot.connectionErrorCode ? { connectionErrorCode: snapshot.connectionErrorCode } : {}),
    };
  }

  /** Before a step that may change the store: until the next read, the last one is history. */
  private changing(): void {
    this.changedSinceObserved = true;
    this.store = { ...this.store, changedSinceObserved: true };
  }

  private get req(): ResolvedMaintenanceRequest {
    if (!this.request) throw new Error('request used before validation');
    return this.request;
  }

  private get ref() {
    return { region: this.region ?? '', ...this.req.location, customKeyStoreId: this.req.customKeyStoreId };
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  async execute(): Promise<MaintenanceResult> {
    const validation = validateMaintenanceRequest(this.input, Date.now(), {
      legacyWebhook: !this.controllersOnWorker,
    });
    if (!validation.ok) {
      this.registerUpdateHandlers();
      const message = `invalid maintenance request: ${validation.problems.join('; ')}`;
      this.failure = { type: FAILURE_TYPES.invalidRequest, message };
      this.audit('request.refused', { problems: validation.problems }, 'refused', RUNNER_ACTOR, {
        type: FAILURE_TYPES.invalidRequest,
        message,
      });
      await this.enter('FAILED', message);
      throw ApplicationFailure.create({
        type: FAILURE_TYPES.invalidRequest,
        message,
        nonRetryable: true,
        details: [{ problems: validation.problems }],
      });
    }
    this.request = validation.request;
    // Only the canonical id keystore-maint/[<account>/]<region>/<store> runs the maintenance
    // itself; whether this is it needs nothing but the id and the request, so it is known before
    // any update. (A request without an account, as every run had before accounts, has the same
    // canonical id as before, so runs already in flight decide as they did.)
    const own = parseMaintenanceWorkflowId(this.info.workflowId);
    const knownRegion = validation.request.region ?? own?.region;
    this.delegating =
      own === undefined ||
      own.customKeyStoreId !== this.req.customKeyStoreId ||
      own.region !== knownRegion ||
      own.account !== this.req.location.account;
    this.registerUpdateHandlers();
    this.region = knownRegion ?? (await setupActivities.defaultRegion());
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: this.req.customKeyStoreId },
      { key: SEARCH_ATTRIBUTES.phase, value: this.phase },
    ]);

    const canonicalId = maintenanceWorkflowId(
      this.region,
      this.req.customKeyStoreId,
      this.req.location.account,
    );
    if (this.delegating) {
      this.delegatedTo = canonicalId;
      return this.delegate(canonicalId);
    }

    this.audit(
      'run.requested',
      {
        region: this.region,
        reason: this.req.reason,
        ticket: this.req.ticket,
        window: this.input.window,
        drain: this.req.drain.provider,
        canary: this.req.canaryKeyId !== undefined,
        dryRun: this.req.dryRun,
        approvalRequired: this.req.approval.required,
        confirmSettleMs: this.req.confirmSettleMs,
      },
      'ok',
      this.req.requestedBy,
    );

    let interruption: Interruption | undefined;
    let result: MaintenanceResult | undefined;
    try {
      result = await this.mainScope.run(() => this.happyPath());
    } catch (err) {
      interruption = this.classify(err);
    }
    if (result) return result;
    const stopped = interruption ?? { kind: 'failure', error: new Error('the run stopped without a reason') };
    return CancellationScope.nonCancellable(() => this.finishInterrupted(stopped));
  }

  /**
   * Why the happy path stopped. A cancelled scope decides, whatever the error looks like: a step
   * cancelled mid-way may surface as its own failure rather than as a cancellation.
   */
  private classify(err: unknown): Interruption {
    if (!this.safe) {
      if (this.abortInfo && isCancellation(err)) return { kind: 'abort' };
      if (isCancellation(err)) return { kind: 'cancel', error: err };
      if (err instanceof ApprovalTimedOut) return { kind: 'approval-timeout' };
      if (err instanceof HookVetoed) return { kind: 'veto', why: err.message };
      return { kind: 'failure', error: err };
    }
    if (this.mainScope.consideredCancelled || isCancellation(err)) {
      if (this.abortInfo) return { kind: 'abort' };
      return {
        kind: 'cancel',
        error: isCancellation(err) ? err : new CancelledFailure('the workflow was cancelled'),
      };
    }
    if (err instanceof ApprovalTimedOut) return { kind: 'approval-timeout' };
    if (err instanceof HookVetoed) return { kind: 'veto', why: err.message };
    return { kind: 'failure', error: err };
  }

  /** Runs the maintenance under the canonical workflow id, so the per-store lock holds. */
  private async delegate(canonicalId: string): Promise<MaintenanceResult> {
    this.message = `delegated to workflow ${canonicalId} (the per-store lock); follow that run`;
    try {
      const result = await executeChild(keyStoreMaintenance, {
        workflowId: canonicalId,
        args: [{ ...this.input, region: this.region }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: this.req.customKeyStoreId },
          { key: SEARCH_ATTRIBUTES.phase, value: 'PREFLIGHT' },
        ],
      });
      this.phase = result.outcome;
      this.outcome = result.outcome;
      this.message = result.message;
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: result.outcome }]);
      return result;
    } catch (err) {
      // @temporalio/workflow does not re-export this error class; its name is stable.
      if (err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError') {
        this.phase = 'FAILED';
        this.outcome = 'FAILED';
        upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: 'FAILED' }]);
        throw ApplicationFailure.create({
          type: FAILURE_TYPES.alreadyRunning,
          message: `another maintenance of ${this.req.customKeyStoreId} is already running as workflow ${canonicalId}; wait for it or abort it first`,
          nonRetryable: true,
          details: [{ runningWorkflowId: canonicalId }],
        });
      }
      const failure = rootApplicationFailure(err);
      const outcome = failure?.type === FAILURE_TYPES.needsAttention ? 'NEEDS_ATTENTION' : 'FAILED';
      if (!isCancellation(err)) {
        this.phase = outcome;
        this.outcome = outcome;
        upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: outcome }]);
      }
      throw err;
    }
  }

  private async happyPath(): Promise<MaintenanceResult> {
    const acts = activitiesFor(this.req, this.safe);

    // PREFLIGHT ---------------------------------------------------------------------------------
    // A misspelt destination refuses the run before anything is said or touched.
    if (this.req.notify) await notificationCheckActivities.checkNotificationDestinations(this.req.notify.to);
    await this.enter('PREFLIGHT', `checking ${this.req.customKeyStoreId} in ${this.region}`);
    let snapshot = await this.describe();
    if (snapshot.state === 'CONNECTING' || snapshot.state === 'DISCONNECTING') {
      const settled = await this.waitFor(['CONNECTED', 'DISCONNECTED', 'FAILED'], false, acts.settle);
      snapshot = { ...snapshot, state: settled.state, connectionErrorCode: settled.connectionErrorCode };
    }
    this.preflightPolicy(snapshot);
    if (this.req.canaryKeyId) {
      const canary = await acts.describe.checkCanaryKey({ ...this.ref, keyId: this.req.canaryKeyId });
      this.audit(
        'preflight.canaryKey',
        { kms: { operation: 'DescribeKey', requestId: canary.requestId }, keyArn: canary.keyArn },
        'ok',
      );
    }
    if (this.req.probes) await this.preflightProbes(acts);
    await this.planDrain(acts);
    if (this.req.dryRun) {
      if (this.req.gates) await this.checkGatesOnce(acts);
      return this.finishDryRun(snapshot);
    }

    // AWAITING_APPROVAL -------------------------------------------------------------------------
    if (this.req.approval.required && this.approvedBy === undefined) {
      await this.enter(
        'AWAITING_APPROVAL',
        `waiting up to ${formatDuration(this.req.approval.timeoutMs)} for approval (approve update)`,
      );
      const approved = await condition(() => this.approvedBy !== undefined, this.req.approval.timeoutMs);
      if (!approved) throw new ApprovalTimedOut(this.req.approval.timeoutMs);
    }

    // Gates: the last thing before anything changes ----------------------------------------------
    if (this.req.gates) await this.passGates(acts);
    // Hooks schedule activities only for requests that name them, which no run started by older
    // code can (its request schema refused `hooks`), so their commands need no patched().
    if (this.req.hooks?.beforeDrain) await this.beforeDrainHook();

    // DRAINING ----------------------------------------------------------------------------------
    await this.enter('DRAINING', `moving traffic off the store (provider ${this.req.drain.provider})`);
    await this.drain(acts);

    // DISCONNECTING / WAITING_DISCONNECTED ------------------------------------------------------
    await this.enter('DISCONNECTING', 'DisconnectCustomKeyStore');
    this.changing();
    const disconnect = await acts.disconnect.disconnectKeyStore(this.ref);
    if (disconnect.call === 'skipped') this.observe({ state: disconnect.stateBefore });
    this.audit(
      'kms.disconnect',
      {
        kms: {
          operation: 'DisconnectCustomKeyStore',
          requestId: disconnect.requestId,
          result: disconnect.call,
        },
        stateBefore: disconnect.stateBefore,
      },
      disconnect.call === 'accepted' ? 'ok' : 'skipped',
    );
    await this.enter('WAITING_DISCONNECTED', 'waiting for DISCONNECTED');
    await this.waitFor(['DISCONNECTED'], false, acts.waitDisconnected);

    // IN_WINDOW ---------------------------------------------------------------------------------
    this.windowStartMs = Date.now();
    const window = this.req.window;
    this.windowEndMs =
      'durationMs' in window
        ? this.windowStartMs + window.durationMs
        : Math.max(window.untilMs, this.windowStartMs);
    await this.enter('IN_WINDOW', `maintenance window until ${iso(this.windowEndMs)}`);
    await this.holdWindow();

    // RECONNECTING / WAITING_CONNECTED / VERIFYING ----------------------------------------------
    await this.bringBack(acts);

    // RESTORING ---------------------------------------------------------------------------------
    await this.restore(acts);
    // The result's last word on the store is a read made after traffic is back. Only a report:
    // a read that fails changes no outcome (the store was confirmed CONNECTED in VERIFYING).
    if (this.finalRead) {
      try {
        await this.describe();
      } catch (err) {
        if (isCancellation(err)) throw err;
        this.audit('kms.describe', { final: true }, 'failed', RUNNER_ACTOR, {
          type: rootApplicationFailure(err)?.type ?? 'Error',
          message: rootMessage(err),
        });
      }
    }
    // A cancellation that arrived while the last step finished anyway still ends the run as
    // cancelled (Temporal's contract with whoever cancelled), after compensation confirms the store.
    if (this.safe && this.mainScope.consideredCancelled)
      throw new CancelledFailure('the workflow was cancelled');
    await this.enter(
      'COMPLETED',
      `maintenance of ${this.req.customKeyStoreId} completed; store CONNECTED (confirmed), traffic restored`,
    );
    await this.afterHook('afterRestore');
    return this.result();
  }

  private async describe(): Promise<StoreSnapshot> {
    const acts = activitiesFor(this.req, this.safe);
    const snapshot = await acts.describe.describeKeyStore(this.ref);
    this.store = { ...this.store, type: snapshot.type, name: snapshot.name };
    this.observe(snapshot);
    this.audit(
      'kms.describe',
      {
        kms: { operation: 'DescribeCustomKeyStores', requestId: snapshot.requestId, result: snapshot.state },
        storeType: snapshot.type,
        storeName: snapshot.name,
        connectionErrorCode: snapshot.connectionErrorCode,
      },
      'ok',
    );
    return snapshot;
  }

  private preflightPolicy(snapshot: StoreSnapshot): void {
    const id = this.req.customKeyStoreId;
    if (snapshot.state === 'FAILED') {
      const info = describeConnectionError(snapshot.connectionErrorCode);
      this.connectionError = {
        code: snapshot.connectionErrorCode ?? '(none)',
        meaning: info.meaning,
        action: info.action,
      };
      throw ApplicationFailure.nonRetryable(
        `${id} is FAILED (${snapshot.connectionErrorCode ?? 'no code'}): ${info.meaning} Fix it first: ${info.action}`,
        FAILURE_TYPES.preflightRefused,
      );
    }
    if (snapshot.state === 'DISCONNECTED' && !this.req.allowAlreadyDisconnected) {
      throw ApplicationFailure.nonRetryable(
        `${id} is already DISCONNECTED; someone else may be working on it. If this run should take over and reconnect it afterwards, set "allowAlreadyDisconnected": true`,
        FAILURE_TYPES.preflightRefused,
      );
    }
    if (snapshot.state !== 'CONNECTED' && snapshot.state !== 'DISCONNECTED') {
      throw ApplicationFailure.nonRetryable(
        `${id} did not settle (still ${snapshot.state}); try again later`,
        FAILURE_TYPES.preflightRefused,
      );
    }
    this.audit('preflight.passed', { state: snapshot.state }, 'ok');
  }

  private async waitFor(
    until: ConnectionState[],
    failOnFailed: boolean,
    proxy: Acts['waitConnected'],
    settledIn?: { states: ConnectionState[]; forMs: number },
  ): Promise<WaitOutcome> {
    try {
      const outcome = await proxy.waitForConnectionState({
        ...this.ref,
        until,
        failOnFailed,
        pollIntervalMs: this.req.pollIntervalMs,
        ...(settledIn ? { settledIn } : {}),
      });
      this.observe(outcome);
      this.audit(
        'wait.completed',
        {
          until,
          state: outcome.state,
          connectionErrorCode: outcome.connectionErrorCode,
          polls: outcome.polls,
          transientErrors: outcome.transientErrors,
          elapsedMs: outcome.elapsedMs,
          firstRequestId: outcome.firstRequestId,
          lastRequestId: outcome.lastRequestId,
        },
        'ok',
      );
      return outcome;
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = rootApplicationFailure(err);
      const detail = (failure?.details?.[0] ?? {}) as Record<string, unknown>;
      if (failure?.type === FAILURE_TYPES.connectFailed) {
        this.observe({
          state: 'FAILED',
          connectionErrorCode: detail.connectionErrorCode as string | undefined,
        });
      } else if (this.safe) {
        // A wait that timed out still saw something: its last heartbeat says what.
        const timeout = err instanceof ActivityFailure ? err.cause : undefined;
        const last =
          timeout instanceof TimeoutFailure
            ? (timeout.lastHeartbeatDetails as { lastState?: unknown } | undefined)
            : undefined;
        if (typeof last?.lastState === 'string') this.observe({ state: last.lastState as ConnectionState });
      }
      this.audit('wait.failed', { until, ...detail }, 'failed', RUNNER_ACTOR, {
        type: failure?.type ?? 'ActivityTimeout',
        message: rootMessage(err),
      });
      throw err;
    }
  }

  private async holdWindow(): Promise<void> {
    for (;;) {
      const end = this.windowEndMs ?? Date.now();
      const remaining = end - Date.now();
      if (remaining <= 0) break;
      const version = this.windowVersion;
      await condition(() => this.windowVersion !== version, remaining);
    }
    this.audit(
      'window.ended',
      { endedAt: iso(Date.now()), endedEarlyBy: this.windowEndedEarlyBy, extensions: this.extensions.length },
      'ok',
    );
  }

  private async planDrain(acts: Acts): Promise<void> {
    const plan = await acts.traffic.planDrain(this.trafficInput());
    this.drainPlan = plan;
    this.audit('preflight.traffic', { plan }, 'ok');
  }

  private async drain(acts: Acts): Promise<void> {
    const plan = this.drainPlan;
    if (!plan) throw new Error('drain without a plan');
    const traffic = { ...this.trafficInput(), plan };
    this.drainStarted = true;
    let record: DrainRecord;
    try {
      record = await acts.trafficChange.drainTraffic(traffic);
    } catch (err) {
      // A webhook that provably never got the drain (no connection, or a 4xx refusal, on every
      // try of a first attempt) has nothing to undo; anything else may have been accepted.
      const detail = rootApplicationFailure(err)?.details?.[0] as
        { possiblyDelivered?: unknown; activityAttempt?: unknown } | undefined;
      if (this.safe && detail?.possiblyDelivered === false && detail.activityAttempt === 1) {
        this.drainNeverDelivered = true;
      }
      throw err;
    }
    this.drainRecord = record;
    this.audit(
      'traffic.drained',
      {
        provider: record.provider,
        changes: record.changes,
        explicitNoTrafficChange: record.provider === 'none' || undefined,
      },
      'ok',
    );
    const verified = await acts.traffic.verifyDrained(traffic);
    if (!verified.drained) {
      throw ApplicationFailure.nonRetryable(
        `traffic provider ${record.provider} did not confirm that traffic is drained`,
        'TrafficNotDrained',
      );
    }
    this.audit('traffic.verified', { provider: record.provider, polls: verified.polls }, 'ok');
    const settleMs = this.req.drain.settle ?? 0;
    if (settleMs > 0) {
      this.message = `traffic drained; settling for ${formatDuration(settleMs)} (cached data keys, connection pools)`;
      await sleep(settleMs);
      this.audit('traffic.settled', { settleMs }, 'ok');
    }
  }

  /**
   * Whether compensation must restore traffic. Restore is idempotent on every provider's side, so
   * it is sent whenever a drain may have been accepted: a drain that completed, an alias drain
   * that stopped part-way, and a webhook drain whose answer was lost, refused after acting, or cut
   * short by an abort.
   */
  private needsRestore(): boolean {
    if (this.trafficRestored || !this.drainPlan) return false;
    if (this.safe) return this.drainStarted && !this.drainNeverDelivered;
    return this.drainRecord !== undefined || (this.drainStarted && this.drainPlan.provider === 'alias');
  }

  /** Whether traffic may have been moved (a provider other than `none` started draining). */
  private trafficMayHaveMoved(): boolean {
    if (!this.safe) {
      return this.drainRecord !== undefined || (this.drainStarted && this.drainPlan?.provider === 'alias');
    }
    return this.drainStarted && !this.drainNeverDelivered && this.drainPlan?.provider !== 'none';
  }

  private trafficInput() {
    return {
      spec: this.req.drain,
      region: this.region ?? '',
      ...this.req.location,
      customKeyStoreId: this.req.customKeyStoreId,
      workflowId: this.info.workflowId,
      runId: this.info.runId,
    };
  }

  /**
   * Brings the store back and confirms it: connect (RECONNECTING), wait for CONNECTED
   * (WAITING_CONNECTED), then the confirmation rule (VERIFYING). A confirmation that finds the
   * store not CONNECTED — a stale read was believed, or it relapsed — starts over, a bounded
   * number of times. Then the canary, if one is configured.
   */
  private async bringBack(acts: Acts): Promise<void> {
    if (!this.safe) {
      await this.reconnectOrStop(acts);
      await this.legacyVerify(acts);
      return;
    }
    for (let relapses = 0; ; relapses++) {
      await this.reconnect(acts);
      await this.enter(
        'VERIFYING',
        `confirming CONNECTED: every read for ${formatDuration(this.req.confirmSettleMs)} must agree${this.req.canaryKeyId ? ', then the canary' : ''}`,
      );
      const confirmation = await this.confirmConnected(acts);
      if (confirmation.confirmed) break;
      const id = this.req.customKeyStoreId;
      if (confirmation.state === 'FAILED') {
        const info = describeConnectionError(confirmation.connectionErrorCode);
        this.connectionError = {
          code: confirmation.connectionErrorCode ?? '(none)',
          meaning: info.meaning,
          action: info.action,
        };
        if (!info.transient) {
          throw new StoreNotBack(
            `${id} went FAILED with ${confirmation.connectionErrorCode ?? 'no code'} right after it looked CONNECTED: ${info.meaning} Next step: ${info.action.replace(/\.$/, '')}`,
            this.connectionError,
          );
        }
      }
      if (relapses + 1 >= MAX_RELAPSES) {
        throw new StoreNotBack(
          `${id} did not stay CONNECTED: ${MAX_RELAPSES} times it looked CONNECTED and then read ${confirmation.state}`,
        );
      }
      this.audit(
        'verify.relapsed',
        {
          state: confirmation.state,
          connectionErrorCode: confirmation.connectionErrorCode,
          relapse: relapses + 1,
        },
        'info',
      );
    }
    await this.canary(acts);
  }

  /** The confirmation rule; the outcome is audited and observed either way. */
  private async confirmConnected(acts: Acts): Promise<ConfirmOutcome> {
    const outcome = await acts.confirm.confirmConnectionState({
      ...this.ref,
      want: 'CONNECTED',
      settleMs: this.req.confirmSettleMs,
      pollIntervalMs: this.req.pollIntervalMs,
    });
    if (outcome.confirmed) {
      this.observe({ state: outcome.state });
      this.audit(
        'verify.confirmed',
        {
          state: outcome.state,
          reads: outcome.reads,
          spanMs: outcome.spanMs,
          settleMs: this.req.confirmSettleMs,
          firstRequestId: outcome.firstRequestId,
          lastRequestId: outcome.lastRequestId,
        },
        'ok',
      );
    } else {
      this.observe(outcome);
      this.audit(
        'verify.notConfirmed',
        {
          state: outcome.state,
          connectionErrorCode: outcome.connectionErrorCode,
          reads: outcome.reads,
          requestId: outcome.requestId,
        },
        'info',
      );
    }
    return outcome;
  }

  /**
   * Connects and waits until CONNECTED is seen. A transient ConnectionErrorCode gets a bounded
   * number of disconnect-then-connect retries (`reconnectAttempts` accepted connects in all); a
   * store that stays DISCONNECTED for `confirmSettle` after the connect step has no connection
   * under way (the step saw a stale CONNECTED and skipped) and is connected again, a bounded
   * number of times. Anything else means the store is not back (StoreNotBack).
   */
  private async reconnect(acts: Acts): Promise<void> {
    const attempts = this.req.reconnectAttempts;
    const id = this.req.customKeyStoreId;
    let accepted = 0;
    for (let idle = 0; ;) {
      const connecting = `ConnectCustomKeyStore (attempt ${accepted + 1} of ${attempts})`;
      await this.enter('RECONNECTING', connecting);
      if (this.req.probes) {
        await this.awaitReadiness(acts);
        this.message = connecting;
      }
      this.connectAttempts++;
      try {
        this.changing();
        const connect = await acts.connect.connectKeyStore({
          ...this.ref,
          pollIntervalMs: this.req.pollIntervalMs,
        });
        if (connect.call === 'skipped') this.observe({ state: connect.stateBefore });
        else accepted++;
        this.audit(
          'kms.connect',
          {
            kms: { operation: 'ConnectCustomKeyStore', requestId: connect.requestId, result: connect.call },
            stateBefore: connect.stateBefore,
            attempt: accepted,
            ...(connect.disconnectRequestId ? { disconnectFirstRequestId: connect.disconnectRequestId } : {}),
          },
          connect.call === 'accepted' ? 'ok' : 'skipped',
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = rootApplicationFailure(err);
        const detail = (failure?.details?.[0] ?? {}) as Record<string, unknown>;
        this.audit('kms.connect', { attempt: accepted + 1, ...detail }, 'failed', RUNNER_ACTOR, {
          type: failure?.type ?? 'Error',
          message: rootMessage(err),
        });
        throw new StoreNotBack(`ConnectCustomKeyStore did not succeed: ${rootMessage(err)}`);
      }
      await this.enter('WAITING_CONNECTED', 'waiting for CONNECTED');
      try {
        const outcome = await this.waitFor(['CONNECTED'], true, acts.waitConnected, {
          states: ['DISCONNECTED'],
          forMs: this.req.confirmSettleMs,
        });
        if (outcome.state === 'CONNECTED') {
          this.connectionError = undefined;
          return;
        }
        idle++;
        if (idle >= MAX_RELAPSES) {
          throw new StoreNotBack(
            `${id} stayed DISCONNECTED after ${idle} connect steps: no connection got under way`,
          );
        }
        this.audit(
          'connect.notUnderWay',
          { state: outcome.state, settledForMs: this.req.confirmSettleMs },
          'info',
        );
      } catch (err) {
        if (isCancellation(err) || err instanceof StoreNotBack) throw err;
        const failure = rootApplicationFailure(err);
        if (failure?.type !== FAILURE_TYPES.connectFailed) {
          throw new StoreNotBack(
            `${id} did not reach CONNECTED within ${formatDuration(this.req.timeouts.connectMs)}: ${rootMessage(err)}`,
          );
        }
        const code = ((failure.details?.[0] ?? {}) as { connectionErrorCode?: string }).connectionErrorCode;
        const info = describeConnectionError(code);
        this.connectionError = { code: code ?? '(none)', meaning: info.meaning, action: info.action };
        if (!info.transient || accepted >= attempts) {
          throw new StoreNotBack(
            `${id} is FAILED with ${code ?? 'no code'}${info.transient ? ` after ${accepted} connect attempts` : ''}: ${info.meaning} Next step: ${info.action.replace(/\.$/, '')}`,
            this.connectionError,
          );
        }
        this.audit(
          'connect.retrying',
          { connectionErrorCode: code, transient: true, attempt: accepted, of: attempts },
          'info',
        );
      }
    }
  }

  /**
   * Connects and waits for CONNECTED, as runs started before `interruption-safety` did (kept for
   * their replay): a transient ConnectionErrorCode gets a bounded number of disconnect-then-connect
   * retries; anything else means the store is not back (StoreNotBack).
   */
  private async reconnectOrStop(acts: Acts): Promise<void> {
    const attempts = this.req.reconnectAttempts;
    for (let attempt = 1; ; attempt++) {
      await this.enter('RECONNECTING', `ConnectCustomKeyStore (attempt ${attempt} of ${attempts})`);
      this.connectAttempts++;
      try {
        const connect = await acts.connect.connectKeyStore({
          ...this.ref,
          pollIntervalMs: this.req.pollIntervalMs,
        });
        this.audit(
          'kms.connect',
          {
            kms: { operation: 'ConnectCustomKeyStore', requestId: connect.requestId, result: connect.call },
            stateBefore: connect.stateBefore,
            attempt,
            ...(connect.disconnectRequestId ? { disconnectFirstRequestId: connect.disconnectRequestId } : {}),
          },
          connect.call === 'accepted' ? 'ok' : 'skipped',
        );
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = rootApplicationFailure(err);
        const detail = (failure?.details?.[0] ?? {}) as Record<string, unknown>;
        this.audit('kms.connect', { attempt, ...detail }, 'failed', RUNNER_ACTOR, {
          type: failure?.type ?? 'Error',
          message: rootMessage(err),
        });
        throw new StoreNotBack(`ConnectCustomKeyStore did not succeed: ${rootMessage(err)}`);
      }
      await this.enter('WAITING_CONNECTED', 'waiting for CONNECTED');
      try {
        await this.waitFor(['CONNECTED'], true, acts.waitConnected);
        this.connectionError = undefined;
        return;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const failure = rootApplicationFailure(err);
        if (failure?.type !== FAILURE_TYPES.connectFailed) {
          throw new StoreNotBack(
            `${this.req.customKeyStoreId} did not reach CONNECTED within ${formatDuration(this.req.timeouts.connectMs)}: ${rootMessage(err)}`,
          );
        }
        const code = ((failure.details?.[0] ?? {}) as { connectionErrorCode?: string }).connectionErrorCode;
        const info = describeConnectionError(code);
        this.connectionError = { code: code ?? '(none)', meaning: info.meaning, action: info.action };
        if (!info.transient || attempt >= attempts) {
          throw new StoreNotBack(
            `${this.req.customKeyStoreId} is FAILED with ${code ?? 'no code'}${info.transient ? ` after ${attempt} connect attempts` : ''}: ${info.meaning} Next step: ${info.action.replace(/\.$/, '')}`,
            this.connectionError,
          );
        }
        this.audit(
          'connect.retrying',
          { connectionErrorCode: code, transient: true, attempt, of: attempts },
          'info',
        );
      }
    }
  }

  private gateInput() {
    const gates = this.req.gates;
    if (!gates) throw new Error('gates used without gates in the request');
    return { ...this.ref, workflowId: this.info.workflowId, runId: this.info.runId, gates };
  }

  private recordGates(report: GateReport, action: string, outcome: AuditOutcome): void {
    this.gates = { ...this.gates, last: report };
    this.audit(action, { open: report.open, summary: report.summary, gates: report.gates }, outcome);
  }

  /** A dry run asks the gates once and says what they answered; it neither waits nor refuses. */
  private async checkGatesOnce(acts: Acts): Promise<void> {
    const report = await acts.gate.checkGates(this.gateInput());
    this.recordGates(report, 'gate.checked', report.open ? 'ok' : 'info');
  }

  /**
   * Before the drain: every gate must be open. Blocked, the run refuses (`onBlocked: "refuse"`)
   * or waits up to `waitUpTo`, re-checking every `checkEvery`, and refuses when that runs out. A
   * refusal ends the run FAILED (`GateBlocked`) with nothing changed; an abort or a cancellation
   * while it waits ends it CANCELLED, likewise.
   */
  private async passGates(acts: Acts): Promise<void> {
    const gates = this.req.gates;
    if (!gates) return;
    const input = this.gateInput();
    const id = this.req.customKeyStoreId;
    let report = await acts.gate.checkGates(input);
    this.recordGates(
      report,
      'gate.checked',
      report.open ? 'ok' : gates.onBlocked === 'refuse' ? 'refused' : 'info',
    );
    if (report.open) return;
    if (gates.onBlocked === 'refuse') {
      throw ApplicationFailure.nonRetryable(
        `a gate is blocked, so ${id} was not touched: ${report.summary}. Start again when it clears, or let the run wait ("gates": {"onBlocked": "wait"})`,
        FAILURE_TYPES.gateBlocked,
        { summary: report.summary },
      );
    }
    const since = iso(Date.now());
    const untilMs = Date.now() + gates.waitUpToMs;
    this.gates = { ...this.gates, waiting: { since, until: iso(untilMs) } };
    try {
      for (;;) {
        this.message = `waiting for the gates before draining (at most until ${iso(untilMs)}): ${report.summary}`;
        if (Date.now() >= untilMs) {
          this.recordGates(report, 'gate.timedOut', 'refused');
          throw ApplicationFailure.nonRetryable(
            `a gate stayed blocked for ${formatDuration(gates.waitUpToMs)} (waitUpTo), so ${id} was not touched: ${report.summary}`,
            FAILURE_TYPES.gateBlocked,
            { summary: report.summary },
          );
        }
        const lastSummary = report.summary;
        report = await acts
          .awaitGates(untilMs)
          .awaitGatesOpen({ ...input, untilMs, checkEveryMs: gates.checkEveryMs, lastSummary });
        if (report.open) {
          this.recordGates(report, 'gate.opened', 'ok');
          break;
        }
        if (report.summary !== lastSummary) this.recordGates(report, 'gate.checked', 'info');
        else this.gates = { ...this.gates, last: report };
      }
    } finally {
      const { waiting: _waiting, ...rest } = this.gates;
      this.gates = rest;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Hooks (docs/hooks.md)

  /** Calls a point's hook; a call that did not complete (a lost worker, an old worker) is no answer. */
  private async callHook(point: StoreHookPoint, hook: string, message: string): Promise<HookCallOutcome> {
    const acts = activitiesFor(this.req, this.safe);
    const started = Date.now();
    try {
      return await acts.hook.callHook({
        point,
        hook,
        payload: {
          workflowId: this.info.workflowId,
          runId: this.info.runId,
          customKeyStoreId: this.req.customKeyStoreId,
          region: this.region ?? '',
          ...(this.req.location.account !== undefined ? { account: this.req.location.account } : {}),
          requestedBy: this.req.requestedBy,
          reason: this.req.reason,
          ...(this.req.ticket !== undefined ? { ticket: this.req.ticket } : {}),
          phase: this.phase,
          ...(this.outcome !== undefined ? { outcome: this.outcome } : {}),
          message,
        },
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      return hookCallNotCompleted(point, hook, rootMessage(err), Date.now() - started);
    }
  }

  private recordHook(
    point: StoreHookPoint,
    outcome: HookCallOutcome,
    decision: HookReport['decision'],
    auditOutcome: AuditOutcome,
    extra: Record<string, unknown> = {},
  ): void {
    const { point: _point, ...seen } = outcome;
    this.hooks = {
      ...this.hooks,
      [point]: hookReportOf(outcome, decision, iso(Date.now())),
    };
    this.audit(
      `hook.${point}`,
      { decision, ...seen, ...extra },
      auditOutcome,
      RUNNER_ACTOR,
      outcome.answered ? undefined : { type: HOOK_NO_ANSWER, message: outcome.error ?? 'no answer' },
    );
  }

  /**
   * After the gates, right before DRAINING: the hook may veto. It fails closed — no answer is a
   * veto unless the request says `"onNoAnswer": "proceed"`. A veto ends the run CANCELLED with
   * nothing touched (nothing has been by then); an abort while the hook is asked wins, likewise.
   */
  private async beforeDrainHook(): Promise<void> {
    const spec = this.req.hooks?.beforeDrain;
    if (!spec) return;
    const id = this.req.customKeyStoreId;
    this.message = `asking hook "${spec.hook}" (beforeDrain) whether ${id} may be drained and disconnected`;
    const outcome = await this.callHook(
      'beforeDrain',
      spec.hook,
      `about to drain traffic (provider ${this.req.drain.provider}) and disconnect ${id} for maintenance`,
    );
    const decision = vetoPointDecision(outcome, spec.onNoAnswer);
    this.recordHook(
      'beforeDrain',
      outcome,
      decision,
      decision === 'vetoed' ? 'refused' : decision === 'allowed' ? 'ok' : 'info',
      { onNoAnswer: spec.onNoAnswer },
    );
    if (decision !== 'vetoed') return;
    throw new HookVetoed(
      outcome.answered
        ? `hook "${spec.hook}" vetoed the drain (beforeDrain): ${outcome.reason ?? 'no reason given'}`
        : `hook "${spec.hook}" gave no answer before the drain (${outcome.error ?? 'no answer'}), and a beforeDrain hook fails closed; fix the hook, or let the run go ahead without an answer ("onNoAnswer": "proceed")`,
    );
  }

  /**
   * `afterRestore` (the run COMPLETED) and `onNeedsAttention` (it ended NEEDS_ATTENTION): called
   * once the outcome is entered — the store back, or reported — so a slow or failing hook can
   * neither extend an outage nor change the outcome. Non-cancellable: a cancellation arriving now
   * has nothing left to stop. Its audit event is sent on its way like the run's last ones.
   */
  private async afterHook(point: 'afterRestore' | 'onNeedsAttention'): Promise<void> {
    const spec = this.request?.hooks?.[point];
    if (!spec) return;
    await CancellationScope.nonCancellable(async () => {
      const outcome = await this.callHook(point, spec.hook, this.message);
      this.recordHook(point, outcome, outcome.answered ? 'ok' : 'failed', outcome.answered ? 'ok' : 'failed');
      await this.auditTrail.flush();
      await this.auditTrail.settle();
    });
  }

  /**
   * The baseline in PREFLIGHT. A probe that could not be asked (no credential on the worker, the
   * wrong probe for the store's type) refuses the run: the same probe would block the reconnect.
   * A store that is not ready is refused unless `allowUnhealthyAtStart` (then it is audited).
   */
  private async preflightProbes(acts: Acts): Promise<void> {
    const probes = this.req.probes;
    if (!probes) return;
    const report = await acts.probe.probeReadiness({ ...this.ref, probes });
    this.readiness = { ...this.readiness, preflight: report };
    const broken = report.probes.filter((p) => p.status === 'error');
    this.audit(
      'probe.preflight',
      { ready: report.ready, summary: report.summary, probes: report.probes },
      report.ready ? 'ok' : broken.length || !probes.allowUnhealthyAtStart ? 'refused' : 'info',
    );
    if (report.ready) return;
    const id = this.req.customKeyStoreId;
    if (broken.length) {
      throw ApplicationFailure.nonRetryable(
        `${id}: a readiness probe cannot be asked, so the reconnect could not be checked either: ${broken.map((p) => p.summary).join('; ')}`,
        FAILURE_TYPES.preflightRefused,
      );
    }
    if (!probes.allowUnhealthyAtStart) {
      throw ApplicationFailure.nonRetryable(
        `${id} is not ready (${report.summary}); taking it down now could leave it unable to reconnect. Fix it first, or set "probes": {"allowUnhealthyAtStart": true} to take it down anyway`,
        FAILURE_TYPES.preflightRefused,
      );
    }
  }

  /**
   * Before every connect: while the probes say the store is not ready, hold it disconnected and
   * wait — never connect into a known-bad proxy or cluster, which ends FAILED and costs another
   * disconnect and connect to undo. Bounded by `maxWindow` from the window's start; past that the
   * run ends NEEDS_ATTENTION with the probes' evidence and the store untouched. `endWindowNow`
   * with `force` connects anyway.
   */
  private async awaitReadiness(acts: Acts): Promise<void> {
    const probes = this.req.probes;
    if (!probes || !this.safe || this.readiness?.forced) return;
    const start = this.windowStartMs ?? Date.now();
    const untilMs = start + this.req.maxWindowMs;
    const input = { ...this.ref, probes };
    let report: ReadinessReport = await acts.probe.probeReadiness(input);
    this.readiness = { ...this.readiness, last: report };
    if (report.ready) {
      this.audit('probe.ready', { summary: report.summary, probes: report.probes }, 'ok');
      return;
    }
    const since = iso(Date.now());
    const id = this.req.customKeyStoreId;
    this.readiness = { ...this.readiness, waiting: { since, until: iso(untilMs) } };
    this.audit(
      'probe.notReady',
      { summary: report.summary, probes: report.probes, waitUntil: iso(untilMs) },
      'info',
    );
    try {
      for (;;) {
        this.message = `holding ${id} disconnected until it is ready to connect (at most until ${iso(untilMs)}): ${report.summary}`;
        if (Date.now() >= untilMs) {
          this.audit(
            'probe.timedOut',
            { summary: report.summary, probes: report.probes, since, until: iso(untilMs) },
            'failed',
          );
          throw new StoreNotBack(
            `${id} was not ready to connect by ${iso(untilMs)} (maxWindow from the window's start), so it was not connected: ${report.summary}. It stays DISCONNECTED; when the cause is fixed, connect it (ConnectCustomKeyStore) or run again with "allowAlreadyDisconnected": true`,
          );
        }
        const scope = new CancellationScope();
        this.readinessScope = scope;
        const lastSummary = report.summary;
        try {
          report = await scope.run(() =>
            acts.awaitReadiness(untilMs).awaitReadiness({ ...input, untilMs, lastSummary }),
          );
        } catch (err) {
          if (this.readiness.forced && isCancellation(err)) break;
          throw err;
        } finally {
          this.readinessScope = undefined;
        }
        this.readiness = { ...this.readiness, last: report };
        if (report.ready) {
          this.audit(
            'probe.ready',
            { summary: report.summary, probes: report.probes, waitedSince: since },
            'ok',
          );
          break;
        }
        if (report.summary !== lastSummary) {
          this.audit('probe.notReady', { summary: report.summary, probes: report.probes }, 'info');
        }
      }
    } finally {
      const { waiting: _waiting, ...rest } = this.readiness;
      this.readiness = rest;
    }
    if (this.readiness.forced) {
      this.audit(
        'probe.forced',
        { summary: report.summary, probes: report.probes, waitedSince: since },
        'info',
        this.readiness.forced.by,
      );
    }
  }

  /** The canary round-trip, when the request names a canary key. */
  private async canary(acts: Acts): Promise<void> {
    if (!this.req.canaryKeyId) return;
    try {
      const canary = await acts.canary.canaryRoundTrip({ ...this.ref, keyId: this.req.canaryKeyId });
      this.audit(
        'canary.passed',
        {
          kms: { operation: 'GenerateDataKey+Decrypt', requestId: canary.decryptRequestId },
          generateRequestId: canary.generateRequestId,
          decryptRequestId: canary.decryptRequestId,
        },
        'ok',
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = rootApplicationFailure(err);
      this.audit('canary.failed', {}, 'failed', RUNNER_ACTOR, {
        type: failure?.type ?? FAILURE_TYPES.canaryFailed,
        message: rootMessage(err),
      });
      throw new StoreNotBack(
        `the canary round-trip with ${this.req.canaryKeyId} failed: ${rootMessage(err)}`,
      );
    }
  }

  /** VERIFYING as runs started before `confirm-back` did it: one Describe (kept for their replay). */
  private async legacyVerify(acts: Acts): Promise<void> {
    await this.enter(
      'VERIFYING',
      this.req.canaryKeyId ? 'confirming CONNECTED and running the canary' : 'confirming CONNECTED',
    );
    const snapshot = await this.describe();
    if (snapshot.state !== 'CONNECTED') {
      await this.waitFor(['CONNECTED'], true, acts.waitConnected);
    }
    await this.canary(acts);
  }

  private async restore(acts: Acts): Promise<void> {
    const plan = this.drainPlan;
    if (!plan || !this.needsRestore()) return;
    await this.enter('RESTORING', `restoring traffic (provider ${plan.provider})`);
    let restored;
    try {
      restored = await acts.trafficChange.restoreTraffic({ ...this.trafficInput(), plan });
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.audit('traffic.restore', {}, 'failed', RUNNER_ACTOR, {
        type: rootApplicationFailure(err)?.type ?? 'Error',
        message: rootMessage(err),
      });
      throw new StoreNotBack(
        `the store is CONNECTED but restoring traffic failed: ${rootMessage(err)}. Restore it by hand`,
      );
    }
    this.trafficRestored = true;
    this.trafficRestore = { restored: restored.restored, leftAlone: restored.leftAlone };
    this.audit('traffic.restored', { restored: restored.restored, leftAlone: restored.leftAlone }, 'ok');
    if (restored.leftAlone.length) {
      // Someone else changed these during the window; their decision stands, and it is reported.
      this.audit('traffic.leftAlone', { leftAlone: restored.leftAlone }, 'info');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Endings

  private result(plan?: PlanStep[]): MaintenanceResult {
    const status = this.status();
    return { ...status, outcome: status.outcome ?? 'FAILED', ...(plan ? { plan } : {}) };
  }

  private async finishDryRun(snapshot: StoreSnapshot): Promise<MaintenanceResult> {
    const plan = dryRunPlan(this.req, snapshot.state, this.drainPlan);
    this.audit('dryrun.plan', { steps: plan.length }, 'ok');
    await this.enter(
      'COMPLETED',
      `dry run: ${this.req.customKeyStoreId} is ${snapshot.state}; the plan is valid and nothing was changed`,
    );
    return this.result(plan);
  }

  /** Compensation and the end of a run that did not complete its happy path. */
  private async finishInterrupted(interruption: Interruption): Promise<MaintenanceResult> {
    let why: string;
    switch (interruption.kind) {
      case 'abort':
        why = `aborted by ${this.abortInfo?.by ?? 'unknown'}: ${this.abortInfo?.reason ?? ''}`;
        break;
      case 'cancel':
        why = 'the workflow was cancelled';
        break;
      case 'approval-timeout':
        why = `no approval within ${formatDuration(this.req.approval.timeoutMs)}`;
        break;
      case 'failure':
        why = rootMessage(interruption.error);
        break;
      case 'veto':
        why = interruption.why;
        break;
    }
    this.stopping = why;
    const failureType =
      interruption.kind === 'failure' ? rootApplicationFailure(interruption.error)?.type : undefined;
    if (interruption.kind === 'failure' && interruption.error instanceof StoreNotBack) {
      return this.endNeedsAttention(interruption.error);
    }
    this.audit(
      'run.interrupted',
      { why, kind: interruption.kind },
      interruption.kind === 'failure' ? 'failed' : 'info',
      RUNNER_ACTOR,
      interruption.kind === 'failure' ? { type: failureType ?? 'Error', message: why } : undefined,
    );

    try {
      await this.compensate();
    } catch (err) {
      if (err instanceof StoreNotBack) return this.endNeedsAttention(err, why);
      if (!this.safe) throw err;
      // Whatever failed while undoing, the truth is not established: say so, loudly.
      return this.endNeedsAttention(
        new StoreNotBack(
          `compensation could not confirm that ${this.req.customKeyStoreId} is back${this.needsRestore() ? ' and restore traffic' : ''}: ${rootMessage(err)}`,
        ),
        why,
      );
    }

    const touched = this.mayBeOffline || this.trafficMayHaveMoved();
    const undone = touched
      ? ' Everything it changed was undone: the store is CONNECTED and traffic restored.'
      : ' Nothing was changed.';
    if (interruption.kind === 'failure') {
      this.failure = { type: failureType ?? 'Error', message: why };
      await this.enter('FAILED', `maintenance of ${this.req.customKeyStoreId} failed: ${why}.${undone}`);
      throw ApplicationFailure.create({
        type: FAILURE_TYPES.maintenanceFailed,
        message: this.message,
        nonRetryable: true,
        details: [this.result()],
      });
    }
    await this.enter('CANCELLED', `maintenance of ${this.req.customKeyStoreId} cancelled: ${why}.${undone}`);
    // A Temporal cancellation is reported to Temporal as such, after compensation.
    if (interruption.kind === 'cancel') throw interruption.error;
    return this.result();
  }

  /**
   * Undo what the run changed. Every mutating step this run started has finished by now (they
   * are cancelled with WAIT_CANCELLATION_COMPLETED). If the store may be offline, bring it back
   * and confirm it; if only traffic moved, confirm the store is CONNECTED; then restore traffic.
   */
  private async compensate(): Promise<void> {
    if (!this.request || (!this.mayBeOffline && !this.needsRestore())) return;
    const acts = activitiesFor(this.req, this.safe);
    if (this.mayBeOffline) {
      await this.bringBack(acts);
    } else if (this.safe) {
      // Only drained: traffic may go back only to a store confirmed connected.
      await this.enter('VERIFYING', 'confirming CONNECTED before traffic returns');
      const confirmation = await this.confirmConnected(acts);
      if (!confirmation.confirmed) {
        throw new StoreNotBack(
          `${this.req.customKeyStoreId} reads ${confirmation.state}, not CONNECTED; traffic stays drained`,
        );
      }
    } else {
      const snapshot = await this.describe();
      if (snapshot.state !== 'CONNECTED') {
        throw new StoreNotBack(
          `${this.req.customKeyStoreId} is ${snapshot.state}, not CONNECTED; traffic stays drained`,
        );
      }
    }
    await this.restore(acts);
  }

  private async endNeedsAttention(err: StoreNotBack, context?: string): Promise<never> {
    if (err.connectionError) this.connectionError = err.connectionError;
    const traffic = this.needsRestore() ? ' Traffic stays drained.' : '';
    const seen = !this.store.lastObservedState
      ? ''
      : this.changedSinceObserved
        ? ` Its state now is unknown: the last read (${this.store.lastObservedState} at ${this.store.lastObservedAt ?? 'an unknown time'}) came before a change this run made or may have made; read it with DescribeCustomKeyStores.`
        : ` Last read: ${this.store.lastObservedState} at ${this.store.lastObservedAt ?? 'an unknown time'}.`;
    const message = `NEEDS ATTENTION: ${err.message}.${traffic}${seen}${context ? ` (The run was stopping because ${context}.)` : ''}`;
    this.audit('run.needsAttention', { connectionError: this.connectionError }, 'failed', RUNNER_ACTOR, {
      type: FAILURE_TYPES.needsAttention,
      message,
    });
    await this.enter('NEEDS_ATTENTION', message);
    await this.afterHook('onNeedsAttention');
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.needsAttention,
      message,
      nonRetryable: true,
      details: [this.result()],
    });
  }
}

/** The maintenance workflow. Input: one plain JSON object (see `MaintenanceRequest`). */
export async function keyStoreMaintenance(request: MaintenanceRequest): Promise<MaintenanceResult> {
  return new MaintenanceRun(request).execute();
}
