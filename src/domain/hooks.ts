/**
 * Hooks (docs/hooks.md): HTTP calls at named points of a run, to a service configured on the
 * worker by name — a change-management system that opens and closes a change, a pager.
 *
 * Glossary:
 * - point: where in a run a hook is called — `beforeDrain` (after the gates, right before
 *   DRAINING), `afterRestore` (the run COMPLETED, traffic restored), `onNeedsAttention` (the run
 *   ended NEEDS_ATTENTION); for a fleet, `beforeFleet` (before any store starts) and `afterFleet`
 *   (once the fleet has ended);
 * - hook: the worker-side target a point names (URL, signing secret, timeout; src/gates/config.ts);
 * - veto: a `beforeDrain` (or `beforeFleet`) answer `{"allow": false}`. The run ends CANCELLED
 *   with nothing touched. The before points fail closed: no answer is a veto unless the request
 *   says `"onNoAnswer": "proceed"`.
 *
 * The after points are best-effort: they run once the run's outcome is fixed (the store back, or
 * reported), their failure is audited and shown in `status.hooks`, and it changes nothing else.
 *
 * Requests never carry a URL or a secret, only names (like gates): whoever can start a run cannot
 * make the worker call a server of their choosing.
 */
import { z } from 'zod';
import { GATE_SOURCE_NAME_PATTERN } from './gates';

export const STORE_HOOK_POINTS = ['beforeDrain', 'afterRestore', 'onNeedsAttention'] as const;
export const FLEET_HOOK_POINTS = ['beforeFleet', 'afterFleet'] as const;
export type StoreHookPoint = (typeof STORE_HOOK_POINTS)[number];
export type FleetHookPoint = (typeof FLEET_HOOK_POINTS)[number];
export type HookPoint = StoreHookPoint | FleetHookPoint;

/** Points whose answer can stop what follows; the others are told, and their answer is recorded. */
export const VETO_POINTS: ReadonlySet<HookPoint> = new Set<HookPoint>(['beforeDrain', 'beforeFleet']);

/**
 * The `error.type` of a `hook.<point>` audit event whose hook gave no usable answer (none in time,
 * a non-2xx, a bad or missing signature, not the contract). Not an ApplicationFailure: a hook
 * never fails a run.
 */
export const HOOK_NO_ANSWER = 'HookNoAnswer';

/** What a hook's answer may put in the history and the audit trail (after `oneLine`). */
export const HOOK_TEXT_LIMITS = { reason: 240, ticket: 128, error: 500 } as const;

const hookName = () =>
  z
    .string({ error: 'must be the name of a hook configured on the worker' })
    .regex(
      GATE_SOURCE_NAME_PATTERN,
      'must be the name of a hook configured on the worker ("hooks" in KEYSTORE_MAINT_GATES_FILE; lower-case letters, digits, ".", "_", "-"), e.g. "change-mgmt"',
    );

const vetoPointSchema = () =>
  z.strictObject(
    {
      hook: hookName(),
      onNoAnswer: z
        .enum(['veto', 'proceed'], {
          error:
            'must be "veto" (the default: no answer stops the run) or "proceed" (no answer lets it go ahead)',
        })
        .optional(),
    },
    { error: 'must be {"hook": "<name>"} or {"hook": "<name>", "onNoAnswer": "veto"|"proceed"}' },
  );

const notifyPointSchema = () =>
  z.strictObject(
    { hook: hookName() },
    {
      error: 'must be {"hook": "<name>"} (an after-point cannot veto, so it takes no "onNoAnswer")',
    },
  );

/** The request's `hooks` member (built per validation, like every request schema). */
export const storeHooksSchema = () =>
  z
    .strictObject({
      beforeDrain: vetoPointSchema().optional(),
      afterRestore: notifyPointSchema().optional(),
      onNeedsAttention: notifyPointSchema().optional(),
    })
    .refine((h) => STORE_HOOK_POINTS.some((p) => h[p] !== undefined), {
      message:
        'name at least one point: "beforeDrain", "afterRestore" or "onNeedsAttention" (or leave "hooks" out)',
    });

/** A fleet request's `hooks` member. */
export const fleetHooksSchema = () =>
  z
    .strictObject({
      beforeFleet: vetoPointSchema().optional(),
      afterFleet: notifyPointSchema().optional(),
    })
    .refine((h) => FLEET_HOOK_POINTS.some((p) => h[p] !== undefined), {
      message: 'name at least one point: "beforeFleet" or "afterFleet" (or leave "hooks" out)',
    });

export type StoreHooksInput = z.input<ReturnType<typeof storeHooksSchema>>;
export type FleetHooksInput = z.input<ReturnType<typeof fleetHooksSchema>>;

/** One point's hook with its default applied (`onNoAnswer` only matters at a veto point). */
export interface ResolvedHook {
  readonly hook: string;
  readonly onNoAnswer: 'veto' | 'proceed';
}

export type ResolvedStoreHooks = { readonly [P in StoreHookPoint]?: ResolvedHook };
export type ResolvedFleetHooks = { readonly [P in FleetHookPoint]?: ResolvedHook };

export function resolveHooks<P extends HookPoint>(
  hooks: Partial<Record<P, { hook: string; onNoAnswer?: 'veto' | 'proceed' | undefined } | undefined>>,
): { readonly [K in P]?: ResolvedHook } {
  const resolved: { [K in P]?: ResolvedHook } = {};
  for (const [point, spec] of Object.entries(hooks) as [
    P,
    { hook: string; onNoAnswer?: 'veto' | 'proceed' } | undefined,
  ][]) {
    if (spec) resolved[point] = { hook: spec.hook, onNoAnswer: spec.onNoAnswer ?? 'veto' };
  }
  return resolved;
}

/** What the worker tells the hook (the signed JSON body). Never a secret. */
export interface HookPayload {
  readonly point: HookPoint;
  readonly workflowId: string;
  readonly runId: string;
  /** Absent at the fleet's points. */
  readonly customKeyStoreId?: string;
  readonly region?: string;
  readonly account?: string;
  readonly requestedBy: string;
  readonly reason: string;
  readonly ticket?: string;
  /** The run's (or fleet's) phase when the hook is called. */
  readonly phase: string;
  /** At the after points: how the run (or fleet) ended. */
  readonly outcome?: string;
  readonly message: string;
  /** At the fleet's points: the stores the fleet selected so far. */
  readonly stores?: readonly string[];
}

/** One call of one hook, as the activity saw it. The activity never throws for a hook that fails. */
export interface HookCallOutcome {
  readonly point: HookPoint;
  readonly hook: string;
  /** A 2xx answer, signed when the hook has a secret, that is the contract (`allow` at veto points). */
  readonly answered: boolean;
  /** At a veto point, with `answered`: what the hook decided. */
  readonly allow?: boolean;
  readonly reason?: string;
  readonly ticket?: string;
  /** The last HTTP status seen, if any. */
  readonly status?: number;
  /** Why there is no usable answer (`answered` false). */
  readonly error?: string;
  readonly attempts: number;
  readonly elapsedMs: number;
}

/** What a point's hook did, in `status.hooks` and the result. */
export interface HookReport {
  readonly hook: string;
  /** When the call ended (workflow time). */
  readonly at: string;
  /**
   * `allowed`, `vetoed` (an answer or, with `onNoAnswer: "veto"`, no answer), `proceeded` (no
   * answer, `onNoAnswer: "proceed"`); at the after points `ok` or `failed`.
   */
  readonly decision: 'allowed' | 'vetoed' | 'proceeded' | 'ok' | 'failed';
  readonly answered: boolean;
  readonly reason?: string;
  readonly ticket?: string;
  readonly error?: string;
  readonly attempts: number;
  readonly elapsedMs: number;
}

export type HooksStatus = { readonly [P in StoreHookPoint]?: HookReport };
export type FleetHooksStatus = { readonly [P in FleetHookPoint]?: HookReport };

/** At a veto point: what the hook's call decides, failing closed unless `onNoAnswer` is "proceed". */
export function vetoPointDecision(
  outcome: HookCallOutcome,
  onNoAnswer: ResolvedHook['onNoAnswer'],
): HookReport['decision'] {
  if (outcome.answered) return outcome.allow === true ? 'allowed' : 'vetoed';
  return onNoAnswer === 'proceed' ? 'proceeded' : 'vetoed';
}

/** What `status.hooks` keeps of one call. */
export function hookReportOf(
  outcome: HookCallOutcome,
  decision: HookReport['decision'],
  at: string,
): HookReport {
  return {
    hook: outcome.hook,
    at,
    decision,
    answered: outcome.answered,
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
    ...(outcome.ticket !== undefined ? { ticket: outcome.ticket } : {}),
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    attempts: outcome.attempts,
    elapsedMs: outcome.elapsedMs,
  };
}

/** A hook activity that did not complete (its worker lost, its attempts spent): no answer. */
export function hookCallNotCompleted(
  point: HookPoint,
  hook: string,
  why: string,
  elapsedMs: number,
): HookCallOutcome {
  return {
    point,
    hook,
    answered: false,
    error: `the hook call did not complete: ${why}`,
    attempts: 0,
    elapsedMs,
  };
}
