/**
 * What a run reports about itself: the `status` query's answer while it runs, and (with its
 * outcome) the result when it ends.
 */
import type { GateReport } from './gates';
import type { HooksStatus } from './hooks';
import type { NotificationsStatus } from './notifications';
import type { ReadinessReport } from './probes';
import type { AuditEvent } from './audit-event';
import type { ConnectionState, KeyStoreType } from './connection-state';
import type { EndState, RunPhase } from './phases';
import type { DrainSpec } from './request';
import type { DrainPlan } from './traffic';

export interface PhaseSpan {
  readonly phase: RunPhase;
  readonly startedAt: string;
  endedAt?: string;
}

export interface ConnectionErrorReport {
  readonly code: string;
  readonly meaning: string;
  readonly action: string;
}

/** What the drain step changed, so that restore undoes exactly that. */
export interface DrainRecord {
  readonly provider: DrainSpec['provider'];
  readonly drainedAt: string;
  readonly changes: readonly Readonly<Record<string, unknown>>[];
}

/**
 * How the run's audit events fared at the sink. The audit trail is a side channel: the run never
 * waits on it while the store is offline, so its troubles are reported here instead.
 */
export interface AuditReport {
  /** Events the sink has stored (or set aside with an `audit.refused` marker). */
  readonly written: number;
  /** Events not stored yet: a write under way, or the sink failing. */
  readonly unwritten: number;
  /** Writes that failed (each is retried with the next batch). */
  readonly failures: number;
  /** Events the sink refused (e.g. they looked like they carried a secret); a marker took their place. */
  readonly refused: number;
  /** The last failure or refusal, for humans. */
  readonly lastProblem?: string;
}

export interface PlanStep {
  readonly phase: RunPhase;
  readonly description: string;
  /** KMS operations this step would call. */
  readonly kmsOperations: readonly string[];
}

export interface MaintenanceStatus {
  readonly workflowId: string;
  readonly runId: string;
  readonly customKeyStoreId: string;
  readonly region: string | undefined;
  readonly phase: RunPhase;
  readonly outcome: EndState | undefined;
  readonly dryRun: boolean;
  readonly requestedBy: string | undefined;
  readonly reason: string | undefined;
  readonly ticket: string | undefined;
  readonly timeline: readonly PhaseSpan[];
  readonly window: {
    readonly startedAt?: string;
    readonly endsAt?: string;
    /** The latest end that extensions may reach (start + maxWindow). */
    readonly latestEnd?: string;
  };
  readonly store: {
    readonly type?: KeyStoreType;
    readonly name?: string;
    readonly lastObservedState?: ConnectionState;
    /** When `lastObservedState` was read (workflow time of the read's answer). */
    readonly lastObservedAt?: string;
    /**
     * Present (true) when the run changed, or may have changed, the store after that read: the
     * state now is unknown to the run (it then ends NEEDS_ATTENTION if it cannot read again).
     */
    readonly changedSinceObserved?: true;
    readonly connectionErrorCode?: string;
  };
  readonly connectAttempts: number;
  readonly approval: {
    readonly required: boolean;
    readonly approvedBy?: string;
    readonly approvedAt?: string;
  };
  readonly extensions: readonly { readonly by: string; readonly at: string; readonly newEnd: string }[];
  readonly windowEndedEarlyBy?: string;
  readonly abort?: { readonly by: string; readonly reason: string; readonly at: string };
  /** What preflight checked and restore will put back (e.g. each alias's original target). */
  readonly drainPlan?: DrainPlan;
  readonly drain?: DrainRecord;
  readonly trafficRestored: boolean;
  /** What restore did, and what it left alone because someone else changed it meanwhile. */
  readonly trafficRestore?: {
    readonly restored: readonly Readonly<Record<string, unknown>>[];
    readonly leftAlone: readonly Readonly<Record<string, unknown>>[];
  };
  readonly connectionError?: ConnectionErrorReport;
  /**
   * FAILED runs: the stable type of what ended the run (e.g. `GateBlocked`, `PreflightRefused`,
   * `KeyStoreConnectFailed`; `Error` for an untyped failure) and its message. The workflow's own
   * failure type is always `MaintenanceFailed`; this says why.
   */
  readonly failure?: { readonly type: string; readonly message: string };
  /** The readiness probes' answers, when the request has `probes` (docs/probes.md). */
  readonly readiness?: ReadinessStatus;
  /** The gates' answers, when the request has `gates`. */
  readonly gates?: GatesStatus;
  /** What each point's hook did, when the request has `hooks` (docs/hooks.md). */
  readonly hooks?: HooksStatus;
  /** What became of the notifications, when the request has `notify` (docs/notifications.md). */
  readonly notifications?: NotificationsStatus;
  /** One line for humans: what is happening, or how the run ended and what to do. */
  readonly message: string;
  readonly audit: AuditReport;
  readonly events: readonly AuditEvent[];
}

export interface MaintenanceResult extends MaintenanceStatus {
  readonly outcome: EndState;
  /** For a dry run: what a real run would do. */
  readonly plan?: readonly PlanStep[];
}

/**
 * What ended a FAILED run: its `failure.type`, or, from a run of a worker older than that field,
 * the error type of its `run.interrupted` audit event. Undefined for any other outcome.
 */
export function failureTypeOf(result: MaintenanceResult): string | undefined {
  if (result.outcome !== 'FAILED') return undefined;
  return (
    result.failure?.type ?? result.events.find((e) => e.action === 'run.interrupted' && e.error)?.error?.type
  );
}

/** What the readiness probes said, and whether the run is waiting for them before a connect. */
export interface ReadinessStatus {
  /** The baseline, asked in PREFLIGHT. */
  readonly preflight?: ReadinessReport;
  /** The latest answer before a connect. */
  readonly last?: ReadinessReport;
  /** Set while the run holds the store disconnected until the probes say ready (or `until`). */
  readonly waiting?: { readonly since: string; readonly until: string };
  /** An operator connected without waiting (`endWindowNow` with `force`). */
  readonly forced?: { readonly by: string; readonly at: string };
}

/** What the gates said before the drain, and whether the run is waiting for them. */
export interface GatesStatus {
  readonly last?: GateReport;
  /** Set while a blocked gate holds the run (`onBlocked: "wait"`), until `until`. */
  readonly waiting?: { readonly since: string; readonly until: string };
}
