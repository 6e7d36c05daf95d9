/**
 * The messages a maintenance run answers, shared by the workflow, the typed client and the CLI.
 * Steering is done with updates, not signals: the caller gets the validator's rejection or the
 * handler's answer, e.g. "extending past maxWindow is not allowed", instead of silence.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { MaintenanceStatus } from '../src/domain/status';

export interface ApproveArgs {
  readonly by: string;
}
export interface ApproveAnswer {
  readonly approvedBy: string;
  readonly approvedAt: string;
  /** True when the run was approved before (approving twice is harmless). */
  readonly alreadyApproved: boolean;
}

export interface ExtendWindowArgs {
  readonly by: string;
  /** How much longer, e.g. "30m" or "PT30M". */
  readonly duration: string;
}
export interface EndWindowNowArgs {
  readonly by: string;
  /**
   * While the run waits for its readiness probes before connecting: connect anyway. The window
   * must already be over; it is audited with the probes' last answer.
   */
  readonly force?: boolean;
}
export interface WindowAnswer {
  readonly windowEndsAt: string;
}

export interface AbortArgs {
  readonly by: string;
  readonly reason: string;
}
export interface AbortAnswer {
  readonly accepted: true;
  /** The phase the run was in when the abort arrived. */
  readonly phase: string;
}

export const statusQuery = defineQuery<MaintenanceStatus>('status');
export const approveUpdate = defineUpdate<ApproveAnswer, [ApproveArgs]>('approve');
export const extendWindowUpdate = defineUpdate<WindowAnswer, [ExtendWindowArgs]>('extendWindow');
export const endWindowNowUpdate = defineUpdate<WindowAnswer, [EndWindowNowArgs]>('endWindowNow');
export const abortUpdate = defineUpdate<AbortAnswer, [AbortArgs]>('abort');
