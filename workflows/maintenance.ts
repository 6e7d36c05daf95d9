/**
 * keyStoreMaintenance: one maintenance run of one custom key store, phase by phase.
 *
 *   PREFLIGHT → [AWAITING_APPROVAL] → DRAINING → DISCONNECTING → WAITING_DISCONNECTED →
 *   IN_WINDOW → RECONNECTING → WAITING_CONNECTED → VERIFYING → RESTORING → COMPLETED
 *
 * Ends: `COMPLETED` (returned), `CANCELLED` (returned after an abort or an approval timeout;
 * after a Temporal cancellation the run is marked cancelled), `FAILED` (an `ApplicationFailure`
 * of type `MaintenanceFailed`) and `NEEDS_ATTENTION` (type `NeedsAttention`: the store did not
 * come back, traffic stays drained). Both failures carry the full result as their details, so
 * the Temporal UI shows them as failed runs — loudly — and the client still reads the result.
 *
 * Once traffic was drained, any failure, abort or cancellation runs compensation in a
 * non-cancellable scope: reconnect (if the store may be offline), verify, and only then restore
 * traffic. Traffic never goes back to a store that is not verified connected.
 *
 * The history does not grow with the window's length or with how long KMS takes: waiting happens
 * inside heartbeating activities and one durable timer per window end.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  condition,
  executeChild,
  isCancellation,
  log,
  sleep,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { StoreSnapshot, WaitOutcome } from '../activities/keystore';
import { RUNNER_ACTOR, type AuditEvent, type AuditOutcome } from '../src/domain/audit-event';
import { describeConnectionError, type ConnectionState } from '../src/domain/connection-state';
import { formatDuration, parseDuration } from '../src/domain/duration';
import { FAILURE_TYPES } from '../src/domain/errors';
import { maintenanceWorkflowId, parseMaintenanceWorkflowId, SEARCH_ATTRIBUTES } from '../src/domain/names';
import { AUDIT_SCHEMA_VERSION } from '../src/domain/audit-event';
import { isEndState, type EndState, type RunPhase } from '../src/domain/phases';
import {
  validateMaintenanceRequest,
  type MaintenanceRequest,
  type ResolvedMaintenanceRequest,
} from '../src/domain/request';
import type {
  ConnectionErrorReport,
  DrainRecord,
  MaintenanceResult,
  MaintenanceStatus,
  PhaseSpan,
  PlanStep,
} from '../src/domain/status';
import { activitiesFor, auditActivities, setupActivities } from './activity-options';
import type { DrainPlan } from '../src/domain/traffic';
import {
  abortUpdate,
  approveUpdate,
  endWindowNowUpdate,
  extendWindowUpdate,
  statusQuery,
  type AbortArgs,
} from './messages';

/** Phases in which an abort still has something to stop; later, the run is already returning. */
const ABORTABLE: ReadonlySet<RunPhase> = new Set([
  'PREFLIGHT',
  'AWAITING_APPROVAL',
  'DRAINING',
  'DISCONNECTING',
  'WAITING_DISCONNECTED',
  'IN_WINDOW',
]);

/** Why the run stopped before the end of the happy path. */
type Interruption =
  | { readonly kind: 'abort' }
  | { readonly kind: 'cancel'; readonly error: unknown }
  | { readonly kind: 'approval-timeout' }
  | { readonly kind: 'failure'; readonly error: unknown };

/** The store did not come back: the run ends NEEDS_ATTENTION. */
class StoreNotBack extends Error {
  constructor(
    message: string,
    readonly connectionError?: ConnectionErrorReport,
  ) {
    super(message);
    this.name = 'StoreNotBack';
  }
}

function rejectUpdate(message: string): never {
  throw ApplicationFailure.nonRetryable(message, 'UpdateRejected');
}

function requireActor(by: unknown, update: string): string {
  if (typeof by !== 'string' || !by.trim()) {
    rejectUpdate(`${update}: "by" is required (who is sending this, e.g. {"by": "alice@example.com"})`);
  }
  return by.trim();
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The failure's own message, without Temporal's wrapping ("Activity task failed") and without a
 * final period, so it can be embedded in a sentence.
 */
function rootMessage(err: unknown): string {
  let current: unknown = err;
  while (current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) {
    current = current.cause;
  }
  const text = current instanceof Error ? current.message : String(current);
  return text.trim().replace(/\.+$/, '');
}

function rootApplicationFailure(err: unknown): ApplicationFailure | undefined {
  let current: unknown = err;
  while (current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) {
    current = current.cause;
  }
  return current instanceof ApplicationFailure ? current : undefined;
}

class MaintenanceRun {
  private readonly info = workflowInfo();
  private request: ResolvedMaintenanceRequest | undefined;
  private region: string | undefined;
  private phase: RunPhase = 'PREFLIGHT';
  private readonly timeline: PhaseSpan[] = [];
  private readonly events: AuditEvent[] = [];
  private auditedUpTo = 0;
  private auditFailures = 0;
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
  private drainRecord: DrainRecord | undefined;
  private trafficRestore: MaintenanceStatus['trafficRestore'];
  private trafficRestored = false;
  private mayBeOffline = false;
  private connectAttempts = 0;
  private connectionError: ConnectionErrorReport | undefined;
  private message = 'starting';
  private outcome: EndState | undefined;
  private delegatedTo: string | undefined;
  private readonly mainScope = new CancellationScope();

  constructor(private readonly input: MaintenanceRequest) {
    this.registerHandlers();
  }

  // ---------------------------------------------------------------------------------------------
  // Messages

  private registerHandlers(): void {
    setHandler(statusQuery, () => this.status());

    setHandler(
      approveUpdate,
      ({ by }) => {
        const approver = by.trim();
        const alreadyApproved = this.approvedBy !== undefined;
        if (!alreadyApproved) {
          this.approvedBy = approver;
          this.approvedAt = iso(Date.now());
          this.audit('message.approve', { approvedBy: approver }, 'ok', approver);
        }
        return Promise.resolve({
          approvedBy: this.approvedBy ?? approver,
          approvedAt: this.approvedAt ?? iso(Date.now()),
          alreadyApproved,
        });
      },
      {
        validator: ({ by }) => {
          requireActor(by, 'approve');
          this.rejectIfDelegatedOrEnded('approve');
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

    setHandler(
      extendWindowUpdate,
      ({ by, duration }) => {
        const extraMs = parseDuration(duration) ?? 0;
        const newEnd = (this.windowEndMs ?? Date.now()) + extraMs;
        this.windowEndMs = newEnd;
        this.windowVersion++;
        const entry = { by: by.trim(), at: iso(Date.now()), newEnd: iso(newEnd) };
        this.extensions.push(entry);
        this.audit('message.extendWindow', { duration, newEnd: entry.newEnd }, 'ok', entry.by);
        return Promise.resolve({ windowEndsAt: entry.newEnd });
      },
      {
        validator: ({ by, duration }) => {
          requireActor(by, 'extendWindow');
          this.rejectIfDelegatedOrEnded('extendWindow');
          if (
            this.phase !== 'IN_WINDOW' ||
            this.windowEndMs === undefined ||
            this.windowStartMs === undefined
          ) {
            rejectUpdate(
              `extendWindow: the run is in ${this.phase}; the window can only be extended while IN_WINDOW`,
            );
          }
          const extraMs = typeof duration === 'string' ? parseDuration(duration) : undefined;
          if (extraMs === undefined || extraMs <= 0) {
            rejectUpdate(
              `extendWindow: duration ${JSON.stringify(duration)} is not a positive duration; use ISO-8601 (PT30M) or a short form (30m, 2h)`,
            );
          }
          const latest = this.windowStartMs + (this.request?.maxWindowMs ?? 0);
          if (this.windowEndMs + extraMs > latest) {
            rejectUpdate(
              `extendWindow: extending by ${formatDuration(extraMs)} would end the window at ${iso(this.windowEndMs + extraMs)}, past maxWindow (latest end ${iso(latest)}); extend by at most ${formatDuration(Math.max(0, latest - this.windowEndMs))}`,
            );
          }
        },
      },
    );

    setHandler(
      endWindowNowUpdate,
      ({ by }) => {
        const now = Date.now();
        this.windowEndMs = now;
        this.windowVersion++;
        this.windowEndedEarlyBy = by.trim();
        this.audit('message.endWindowNow', { newEnd: iso(now) }, 'ok', by.trim());
        return Promise.resolve({ windowEndsAt: iso(now) });
      },
      {
        validator: ({ by }) => {
          requireActor(by, 'endWindowNow');
          this.rejectIfDelegatedOrEnded('endWindowNow');
          if (this.phase !== 'IN_WINDOW') {
            rejectUpdate(
              `endWindowNow: the run is in ${this.phase}; the window can only be ended while IN_WINDOW`,
            );
          }
        },
      },
    );

    setHandler(
      abortUpdate,
      (args: AbortArgs) => {
        const phase = this.phase;
        this.abortInfo = { by: args.by.trim(), reason: args.reason.trim(), at: iso(Date.now()) };
        this.audit(
          'message.abort',
          { reason: this.abortInfo.reason, phaseAtAbort: phase },
          'ok',
          this.abortInfo.by,
        );
        this.mainScope.cancel();
        return Promise.resolve({ accepted: true as const, phase });
      },
      {
        validator: ({ by, reason }) => {
          requireActor(by, 'abort');
          this.rejectIfDelegatedOrEnded('abort');
          if (typeof reason !== 'string' || !reason.trim()) {
            rejectUpdate('abort: "reason" is required (why the run is being stopped)');
          }
          if (this.abortInfo) rejectUpdate(`abort: already aborted by ${this.abortInfo.by}`);
          if (!ABORTABLE.has(this.phase)) {
            rejectUpdate(
              `abort: the run is already in ${this.phase}, bringing the store back; there is nothing left to abort`,
            );
          }
        },
      },
    );
  }

  private rejectIfDelegatedOrEnded(update: string): void {
    if (this.delegatedTo) {
      rejectUpdate(
        `${update}: this run delegated the maintenance to workflow ${this.delegatedTo}; send it there`,
      );
    }
    if (isEndState(this.phase)) rejectUpdate(`${update}: the run has already ended (${this.phase})`);
  }

  // ---------------------------------------------------------------------------------------------
  // State, audit and phases

  private status(): MaintenanceStatus {
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
      message: this.message,
      events: [...this.events],
    };
  }

  private audit(
    action: string,
    detail: Record<string, unknown>,
    outcome: AuditOutcome,
    actor: string = RUNNER_ACTOR,
    error?: { type: string; message: string },
  ): void {
    this.events.push({
      schemaVersion: AUDIT_SCHEMA_VERSION,
      workflowId: this.info.workflowId,
      runId: this.info.runId,
      seq: this.events.length + 1,
      at: iso(Date.now()),
      phase: this.phase,
      action,
      actor,
      detail: { customKeyStoreId: this.request?.customKeyStoreId, ...detail },
      outcome,
      ...(error ? { error } : {}),
    });
  }

  /**
   * Writes the events not yet written. Called at every phase change (deterministic points, so
   * the history's size does not depend on timing). A sink outage is recorded, not fatal: the
   * unwritten events stay in the run and go out with the next flush.
   */
  private async flushAudit(): Promise<void> {
    if (this.auditedUpTo >= this.events.length) return;
    const batch = this.events.slice(this.auditedUpTo);
    try {
      await auditActivities.audit(batch);
      this.auditedUpTo += batch.length;
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.auditFailures++;
      log.error('audit sink write failed; events are kept in the run and retried at the next flush', {
        error: rootMessage(err),
        pending: batch.length,
      });
    }
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
    // From the disconnect call on, the store may be offline: compensation must reconnect it.
    if (phase === 'DISCONNECTING') this.mayBeOffline = true;
    this.audit(isEndState(phase) ? 'run.ended' : 'phase.entered', { message }, 'info');
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.phase, value: phase }]);
    await this.flushAudit();
  }

  private observe(snapshot: { state: ConnectionState; connectionErrorCode?: string | undefined }): void {
    this.store = {
      ...this.store,
      lastObservedState: snapshot.state,
      ...(snapshot.connectionErrorCode ? { connectionErrorCode: snapshot.connectionErrorCode } : {}),
    };
    if (!snapshot.connectionErrorCode)
      delete (this.store as { connectionErrorCode?: string }).connectionErrorCode;
  }

  private get req(): ResolvedMaintenanceRequest {
    if (!this.request) throw new Error('request used before validation');
    return this.request;
  }

  private get ref() {
    return { region: this.region ?? '', customKeyStoreId: this.req.customKeyStoreId };
  }

  // ---------------------------------------------------------------------------------------------
  // The run

  async execute(): Promise<MaintenanceResult> {
    const validation = validateMaintenanceRequest(this.input, Date.now());
    if (!validation.ok) {
      const message = `invalid maintenance request: ${validation.problems.join('; ')}`;
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
    this.region =
      validation.request.region ??
      parseMaintenanceWorkflowId(this.info.workflowId)?.region ??
      (await setupActivities.defaultRegion());
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: this.req.customKeyStoreId },
      { key: SEARCH_ATTRIBUTES.phase, value: this.phase },
    ]);

    const canonicalId = maintenanceWorkflowId(this.region, this.req.customKeyStoreId);
    if (this.info.workflowId !== canonicalId) return this.delegate(canonicalId);

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
      },
      'ok',
      this.req.requestedBy,
    );

    let interruption: Interruption | undefined;
    let result: MaintenanceResult | undefined;
    try {
      result = await this.mainScope.run(() => this.happyPath());
    } catch (err) {
      if (this.abortInfo && isCancellation(err)) interruption = { kind: 'abort' };
      else if (isCancellation(err)) interruption = { kind: 'cancel', error: err };
      else if (err instanceof ApprovalTimedOut) interruption = { kind: 'approval-timeout' };
      else interruption = { kind: 'failure', error: err };
    }
    if (result) return result;
    const stopped = interruption ?? { kind: 'failure', error: new Error('the run stopped without a reason') };
    return CancellationScope.nonCancellable(() => this.finishInterrupted(stopped));
  }

  /** Runs the maintenance under the canonical workflow id, so the per-store lock holds. */
  private async delegate(canonicalId: string): Promise<MaintenanceResult> {
    this.delegatedTo = canonicalId;
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
    const acts = activitiesFor(this.req);

    // PREFLIGHT ---------------------------------------------------------------------------------
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
    await this.planDrain(acts);
    if (this.req.dryRun) return this.finishDryRun(snapshot);

    // AWAITING_APPROVAL -------------------------------------------------------------------------
    if (this.req.approval.required && this.approvedBy === undefined) {
      await this.enter(
        'AWAITING_APPROVAL',
        `waiting up to ${formatDuration(this.req.approval.timeoutMs)} for approval (approve update)`,
      );
      const approved = await condition(() => this.approvedBy !== undefined, this.req.approval.timeoutMs);
      if (!approved) throw new ApprovalTimedOut(this.req.approval.timeoutMs);
    }

    // DRAINING ----------------------------------------------------------------------------------
    await this.enter('DRAINING', `moving traffic off the store (provider ${this.req.drain.provider})`);
    await this.drain(acts);

    // DISCONNECTING / WAITING_DISCONNECTED ------------------------------------------------------
    await this.enter('DISCONNECTING', 'DisconnectCustomKeyStore');
    const disconnect = await acts.disconnect.disconnectKeyStore(this.ref);
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
    await this.reconnectOrStop(acts);
    await this.verify(acts);

    // RESTORING ---------------------------------------------------------------------------------
    await this.restore(acts);
    await this.enter(
      'COMPLETED',
      `maintenance of ${this.req.customKeyStoreId} completed; store CONNECTED, traffic restored`,
    );
    return this.result();
  }

  private async describe(): Promise<StoreSnapshot> {
    const acts = activitiesFor(this.req);
    const snapshot = await acts.describe.describeKeyStore(this.ref);
    this.store = { type: snapshot.type, name: snapshot.name };
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
    proxy: ReturnType<typeof activitiesFor>['waitConnected'],
  ): Promise<WaitOutcome> {
    try {
      const outcome = await proxy.waitForConnectionState({
        ...this.ref,
        until,
        failOnFailed,
        pollIntervalMs: this.req.pollIntervalMs,
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
      if (failure?.type === FAILURE_TYPES.connectFailed)
        this.observe({
          state: 'FAILED',
          connectionErrorCode: detail.connectionErrorCode as string | undefined,
        });
      this.audit('wait.failed', { until, ...detail }, 'failed', RUNNER_ACTOR, {
        type: failure?.type ?? (err instanceof ActivityFailure ? 'ActivityTimeout' : 'Error'),
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

  private async planDrain(acts: ReturnType<typeof activitiesFor>): Promise<void> {
    const plan = await acts.traffic.planDrain(this.trafficInput());
    this.drainPlan = plan;
    this.audit('preflight.traffic', { plan }, 'ok');
  }

  private async drain(acts: ReturnType<typeof activitiesFor>): Promise<void> {
    const plan = this.drainPlan;
    if (!plan) throw new Error('drain without a plan');
    const traffic = { ...this.trafficInput(), plan };
    this.drainStarted = true;
    const record = await acts.traffic.drainTraffic(traffic);
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
   * Whether compensation must restore traffic: after a drain that completed, and after an alias
   * drain that failed part-way (its restore touches only aliases still on the fallback). A
   * webhook whose drain was never accepted was never told anything to undo.
   */
  private needsRestore(): boolean {
    if (this.trafficRestored || !this.drainPlan) return false;
    return this.drainRecord !== undefined || (this.drainStarted && this.drainPlan.provider === 'alias');
  }

  private trafficInput() {
    return {
      spec: this.req.drain,
      region: this.region ?? '',
      customKeyStoreId: this.req.customKeyStoreId,
      workflowId: this.info.workflowId,
      runId: this.info.runId,
    };
  }

  /**
   * Connects and waits for CONNECTED. A transient ConnectionErrorCode gets a bounded number of
   * disconnect-then-connect retries; anything else means the store is not back (StoreNotBack).
   */
  private async reconnectOrStop(acts: ReturnType<typeof activitiesFor>): Promise<void> {
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

  private async verify(acts: ReturnType<typeof activitiesFor>): Promise<void> {
    await this.enter(
      'VERIFYING',
      this.req.canaryKeyId ? 'confirming CONNECTED and running the canary' : 'confirming CONNECTED',
    );
    const snapshot = await this.describe();
    if (snapshot.state !== 'CONNECTED') {
      // The wait saw CONNECTED; a different read now is eventual consistency or a relapse: wait again.
      await this.waitFor(['CONNECTED'], true, acts.waitConnected);
    }
    if (this.req.canaryKeyId) {
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
  }

  private async restore(acts: ReturnType<typeof activitiesFor>): Promise<void> {
    const plan = this.drainPlan;
    if (!plan || !this.needsRestore()) return;
    await this.enter('RESTORING', `restoring traffic (provider ${plan.provider})`);
    let restored;
    try {
      restored = await acts.traffic.restoreTraffic({ ...this.trafficInput(), plan });
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.audit('traffic.restore', {}, 'failed', RUNNER_ACTOR, {
        type: rootApplicationFailure(err)?.type ?? 'Error',
        message: rootMessage(err),
      });
      throw new StoreNotBack(
        `the store is CONNECTED but restoring traffic failed: ${rootMessage(err)}. Restore it by hand.`,
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
    const window = this.req.window;
    const windowText =
      'durationMs' in window ? formatDuration(window.durationMs) : `until ${iso(window.untilMs)}`;
    const plan: PlanStep[] = [
      ...(this.req.approval.required
        ? [
            {
              phase: 'AWAITING_APPROVAL' as const,
              description: `wait up to ${formatDuration(this.req.approval.timeoutMs)} for approval`,
              kmsOperations: [],
            },
          ]
        : []),
      {
        phase: 'DRAINING',
        description: this.describeDrain(),
        kmsOperations: this.req.drain.provider === 'alias' ? ['UpdateAlias'] : [],
      },
      {
        phase: 'DISCONNECTING',
        description:
          snapshot.state === 'DISCONNECTED' ? 'store already DISCONNECTED: no call' : 'disconnect the store',
        kmsOperations: snapshot.state === 'DISCONNECTED' ? [] : ['DisconnectCustomKeyStore'],
      },
      {
        phase: 'WAITING_DISCONNECTED',
        description: `poll every ~${formatDuration(this.req.pollIntervalMs)} until DISCONNECTED (at most ${formatDuration(this.req.timeouts.disconnectMs)})`,
        kmsOperations: ['DescribeCustomKeyStores'],
      },
      {
        phase: 'IN_WINDOW',
        description: `hold the window ${windowText} (extensions up to ${formatDuration(this.req.maxWindowMs)} in all)`,
        kmsOperations: [],
      },
      {
        phase: 'RECONNECTING',
        description: `connect the store (up to ${this.req.reconnectAttempts} attempts for transient errors)`,
        kmsOperations: ['ConnectCustomKeyStore'],
      },
      {
        phase: 'WAITING_CONNECTED',
        description: `poll until CONNECTED (at most ${formatDuration(this.req.timeouts.connectMs)})`,
        kmsOperations: ['DescribeCustomKeyStores'],
      },
      {
        phase: 'VERIFYING',
        description: this.req.canaryKeyId
          ? `confirm CONNECTED and run the canary with ${this.req.canaryKeyId}`
          : 'confirm CONNECTED',
        kmsOperations: this.req.canaryKeyId
          ? ['DescribeCustomKeyStores', 'GenerateDataKey', 'Decrypt']
          : ['DescribeCustomKeyStores'],
      },
      {
        phase: 'RESTORING',
        description: `restore traffic with provider ${this.req.drain.provider}`,
        kmsOperations: this.req.drain.provider === 'alias' ? ['ListAliases', 'UpdateAlias'] : [],
      },
    ];
    this.audit('dryrun.plan', { steps: plan.length }, 'ok');
    await this.enter(
      'COMPLETED',
      `dry run: ${this.req.customKeyStoreId} is ${snapshot.state}; the plan is valid and nothing was changed`,
    );
    return this.result(plan);
  }

  private describeDrain(): string {
    const plan = this.drainPlan;
    const settle = this.req.drain.settle ? `, then settle ${formatDuration(this.req.drain.settle)}` : '';
    switch (plan?.provider) {
      case 'alias':
        return `point ${plan.aliases.map((a) => `${a.aliasName} (now ${a.originalTargetKeyId})`).join(', ')} at ${plan.fallbackKeyId}${settle}`;
      case 'webhook':
        return `POST drain to ${plan.url}, poll ${plan.statusUrl} until drained${settle}`;
      default:
        return `no traffic change (provider none)${settle}`;
    }
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
    }
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
      throw err;
    }

    const touched =
      this.mayBeOffline ||
      this.drainRecord !== undefined ||
      (this.drainStarted && this.drainPlan?.provider === 'alias');
    const undone = touched
      ? ' Everything it changed was undone: the store is CONNECTED and traffic restored.'
      : ' Nothing was changed.';
    if (interruption.kind === 'failure') {
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

  /** Undo what the run changed: reconnect if the store may be offline, then restore traffic. */
  private async compensate(): Promise<void> {
    if (!this.request || (!this.mayBeOffline && !this.needsRestore())) return;
    const acts = activitiesFor(this.req);
    if (this.mayBeOffline) {
      await this.reconnectOrStop(acts);
      await this.verify(acts);
    } else {
      // Only drained: traffic may go back only to a store that is verified connected.
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
    const message = `NEEDS ATTENTION: ${err.message}.${traffic}${context ? ` (The run was stopping because ${context}.)` : ''}`;
    this.audit('run.needsAttention', { connectionError: this.connectionError }, 'failed', RUNNER_ACTOR, {
      type: FAILURE_TYPES.needsAttention,
      message,
    });
    await this.enter('NEEDS_ATTENTION', message);
    throw ApplicationFailure.create({
      type: FAILURE_TYPES.needsAttention,
      message,
      nonRetryable: true,
      details: [this.result()],
    });
  }
}

class ApprovalTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no approval within ${formatDuration(timeoutMs)}`);
    this.name = 'ApprovalTimedOut';
  }
}

/** The maintenance workflow. Input: one plain JSON object (see `MaintenanceRequest`). */
export async function keyStoreMaintenance(request: MaintenanceRequest): Promise<MaintenanceResult> {
  return new MaintenanceRun(request).execute();
}
