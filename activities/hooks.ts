/**
 * The hook activity (docs/hooks.md): `callHook` calls one point's hook once — its attempts all
 * within the hook's timeout (src/hooks/http-hook.ts) — and reports what came back. It never fails
 * for a hook that did not answer; the workflow decides what no answer means (a veto before the
 * drain unless the request says "proceed"; a recorded failure after it). It throws only when
 * cancelled.
 *
 * No heartbeat: one call takes at most the hook's timeout (at most one minute), and a cancelled
 * call changes nothing worth waiting for — the workflow abandons it (`TRY_CANCEL`).
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { HookCallOutcome, HookPayload, HookPoint } from '../src/domain/hooks';
import type { GatesConfig } from '../src/gates/config';
import { callHook as callHttpHook } from '../src/hooks/http-hook';

export interface HookActivityDeps {
  /** The worker's hooks, in the gates configuration (`"hooks"`, src/gates/config.ts). */
  readonly gatesConfig: GatesConfig;
}

export interface CallHookInput {
  readonly point: HookPoint;
  /** The name of a hook configured on the worker. */
  readonly hook: string;
  /** The point's payload, without `point` (added here, so it always matches). */
  readonly payload: Omit<HookPayload, 'point'>;
}

export function createHookActivities(deps: HookActivityDeps) {
  async function callHook(input: CallHookInput): Promise<HookCallOutcome> {
    const signal = Context.current().cancellationSignal;
    const outcome = await callHttpHook(
      deps.gatesConfig,
      input.point,
      input.hook,
      { point: input.point, ...input.payload },
      { signal },
    );
    if (signal.aborted) throw new CancelledFailure(`cancelled while calling hook "${input.hook}"`);
    return outcome;
  }
  return { callHook };
}
