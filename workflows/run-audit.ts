/**
 * A run's audit events, and how they reach the sink without ever holding up the run.
 *
 * Events are kept in the run (the `status` query and the result carry them all) and written by
 * the `audit` activity in batches, one batch per phase change — deterministic points, so the
 * history's size does not depend on timing. The batches are written **in the background**, one
 * after another in a non-cancellable chain: a phase change schedules its batch and moves on. A
 * sink that is slow, down, or refuses an event can therefore never keep a disconnected store
 * offline longer; a failed batch is written again with the next one, and at the end of the run
 * (the store back, traffic restored) the run waits, bounded, for the last events to land.
 *
 * An event the sink refuses (it looks like it carries a secret, or cannot be stored) is not
 * resent forever: the activity stores an `audit.refused` marker in its place, keeping the chain
 * whole, and the run counts it. Everything that went wrong is in `status().audit`, the result,
 * and the CLI's exit code.
 */
import { CancellationScope, isCancellation, log, sleep, type WorkflowInfo } from '@temporalio/workflow';
import {
  AUDIT_SCHEMA_VERSION,
  RUNNER_ACTOR,
  type AuditEvent,
  type AuditOutcome,
} from '../src/domain/audit-event';
import { executionRoleArn, roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import type { AuditReport } from '../src/domain/status';
import { backgroundAuditActivities, legacyAuditActivities } from './activity-options';
import { rootMessage } from './failures';

/** At the end of a run: how often, and how far apart, the last unwritten events are retried. */
const FINAL_ATTEMPTS = 8;
const FINAL_BACKOFF_MS = [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000] as const;

/**
 * What each event of a run in another account records about its KMS calls: the account, the
 * execution role's ARN and the role session name (what CloudTrail shows in that account). Never
 * credentials: the worker alone holds them. Empty for the worker's own account, as before.
 */
export function auditLocation(target: KmsTarget, customKeyStoreId: string): Record<string, string> {
  const roleArn = executionRoleArn(target);
  return {
    ...(target.account !== undefined ? { account: target.account } : {}),
    ...(roleArn !== undefined ? { roleArn, roleSessionName: roleSessionNameFor(customKeyStoreId) } : {}),
  };
}

export class RunAudit {
  readonly events: AuditEvent[] = [];
  private writtenUpTo = 0;
  private enqueuedUpTo = 0;
  private failures = 0;
  private refused = 0;
  private lastProblem: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** False when replaying a run that started before background writes (it waited per phase). */
  private readonly background: boolean;

  constructor(
    private readonly info: WorkflowInfo,
    /** The run's `interruption-safety` patch decision (workflows/patches.ts). */
    background: boolean,
    private readonly context: () => {
      phase: string;
      customKeyStoreId: string | undefined;
      /** Where the store is and as whom KMS is called (`auditLocation`); empty for the worker's own. */
      location?: Readonly<Record<string, string>>;
    },
  ) {
    this.background = background;
  }

  record(
    action: string,
    detail: Record<string, unknown>,
    outcome: AuditOutcome,
    actor: string = RUNNER_ACTOR,
    error?: { type: string; message: string },
  ): void {
    const { phase, customKeyStoreId, location } = this.context();
    this.events.push({
      schemaVersion: AUDIT_SCHEMA_VERSION,
      workflowId: this.info.workflowId,
      runId: this.info.runId,
      seq: this.events.length + 1,
      at: new Date(Date.now()).toISOString(),
      phase,
      action,
      actor,
      detail: { customKeyStoreId, ...location, ...detail },
      outcome,
      ...(error ? { error } : {}),
    });
  }

  /** Sends the events recorded so far on their way (in the background; waits only when replaying old runs). */
  async flush(): Promise<void> {
    if (!this.background) return this.flushInline();
    const upTo = this.events.length;
    if (upTo <= this.enqueuedUpTo) return;
    this.enqueuedUpTo = upTo;
    const previous = this.chain;
    this.chain = CancellationScope.nonCancellable(async () => {
      await previous;
      await this.write(upTo);
    });
  }

  /**
   * At the end of the run: waits for the batches under way, then retries what is still unwritten
   * for a few minutes. The store is already back (or reported NEEDS_ATTENTION) by then, so this
   * wait extends nothing but the run's own end.
   */
  async settle(): Promise<void> {
    if (!this.background) return;
    await CancellationScope.nonCancellable(async () => {
      await this.chain;
      for (let attempt = 0; attempt < FINAL_ATTEMPTS && this.writtenUpTo < this.events.length; attempt++) {
        await sleep(FINAL_BACKOFF_MS[attempt] ?? 60_000);
        const upTo = this.events.length;
        this.enqueuedUpTo = upTo;
        await this.write(upTo);
      }
    });
  }

  report(): AuditReport {
    return {
      written: this.writtenUpTo,
      unwritten: this.events.length - this.writtenUpTo,
      failures: this.failures,
      refused: this.refused,
      ...(this.lastProblem ? { lastProblem: this.lastProblem } : {}),
    };
  }

  private async write(upTo: number): Promise<void> {
    if (this.writtenUpTo >= upTo) return;
    const batch = this.events.slice(this.writtenUpTo, upTo);
    try {
      const answer = await backgroundAuditActivities.audit(batch);
      this.writtenUpTo = upTo;
      if (answer.refused.length) {
        this.refused += answer.refused.length;
        const first = answer.refused[0];
        this.lastProblem = `the audit sink refused ${answer.refused.length} event(s) (first: seq ${first?.seq} ${first?.action}: ${first?.reason}); an audit.refused marker stands in each one's place`;
        log.warn('audit sink refused events; markers were written in their place', {
          refused: answer.refused,
        });
      }
    } catch (err) {
      this.failures++;
      this.lastProblem = `writing audit events ${this.writtenUpTo + 1}..${upTo} failed: ${rootMessage(err)}`;
      log.warn('audit sink write failed; the events stay in the run and go out with the next batch', {
        error: rootMessage(err),
        pending: this.events.length - this.writtenUpTo,
      });
    }
  }

  /** The behaviour of runs started before `audit-in-background`, kept for their replay. */
  private async flushInline(): Promise<void> {
    if (this.writtenUpTo >= this.events.length) return;
    const batch = this.events.slice(this.writtenUpTo);
    try {
      await legacyAuditActivities.audit(batch);
      this.writtenUpTo += batch.length;
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.failures++;
      this.lastProblem = rootMessage(err);
    }
  }
}
