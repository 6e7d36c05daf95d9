/**
 * Calling a hook (docs/hooks.md): a signed POST of the point's payload to the endpoint the worker
 * configured under that name (src/gates/config.ts, `"hooks"`), exactly as an HTTP gate is asked
 * (src/gates/signed-post.ts: the request signed, the answer's signature required when the hook
 * has a secret).
 *
 * The hook's `timeout` bounds the whole call, retries included: a couple of quick attempts while
 * the failure may pass (no answer, a 5xx, a 429) and time remains, then the outcome — so a hook
 * never holds a run longer than its timeout. A hook that answers but breaks the contract, refuses
 * with a 4xx, or signs badly is not asked again: another try would only repeat it.
 *
 * The answer: any 2xx with `{"allow": true|false, "reason"?: "…", "ticket"?: "…"}`. Only the veto
 * points (`beforeDrain`, `beforeFleet`) need `allow`; elsewhere any 2xx counts as delivered and a
 * `reason` or `ticket` in it is recorded. Those texts go into the history and the audit trail, so
 * they are cut to one bounded line with secret-looking parts redacted, and dropped (with a note)
 * when they still cannot be stored faithfully — the same treatment as gate evidence.
 *
 * Never throws: whatever goes wrong is `answered: false` with why; the workflow decides.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { freeTextProblem } from '../domain/free-text';
import {
  HOOK_TEXT_LIMITS,
  VETO_POINTS,
  type HookCallOutcome,
  type HookPayload,
  type HookPoint,
} from '../domain/hooks';
import { GATES_FILE_ENV, type GatesConfig } from '../gates/config';
import { oneLine } from '../gates/report';
import { signedPost, type SignedPostOutcome } from '../gates/signed-post';

/** At most this many POSTs per call, all within the hook's timeout. */
export const HOOK_ATTEMPTS = 3;
/** Pauses between attempts: quick, since the hook's timeout bounds them all. */
const BACKOFF_MS: readonly number[] = [250, 750];
/** An attempt with less time than this left is not started. */
const MIN_ATTEMPT_MS = 250;

const answerSchema = z.looseObject({
  allow: z.boolean().optional(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
});

/** A hook's text as it may enter the history and the audit trail, or a note saying why not. */
function storable(text: string | undefined, max: number): string | undefined {
  if (text === undefined) return undefined;
  const line = oneLine(text, max);
  if (!line) return undefined;
  const problem = freeTextProblem(line);
  return problem ? `[not recorded: ${problem}]` : line;
}

export async function callHook(
  config: GatesConfig,
  point: HookPoint,
  hookName: string,
  payload: HookPayload,
  options: { signal?: AbortSignal } = {},
): Promise<HookCallOutcome> {
  const started = Date.now();
  const result = (rest: Omit<HookCallOutcome, 'point' | 'hook' | 'elapsedMs'>): HookCallOutcome => ({
    point,
    hook: hookName,
    ...rest,
    ...(rest.error !== undefined ? { error: oneLine(rest.error, HOOK_TEXT_LIMITS.error) } : {}),
    elapsedMs: Date.now() - started,
  });
  const target = config.hook(hookName);
  if (!target) {
    const configured = config.hookNames.length
      ? `configured: ${config.hookNames.join(', ')}`
      : `none is configured ("hooks" in ${GATES_FILE_ENV})`;
    return result({
      answered: false,
      attempts: 0,
      error: `hook "${hookName}" is not one this worker may call (${configured}); name a configured hook, or configure it on the worker (docs/hooks.md)`,
    });
  }
  const body = JSON.stringify(payload);
  const deadline = started + target.timeoutMs;
  let attempts = 0;
  let answer: SignedPostOutcome;
  for (;;) {
    attempts++;
    answer = await signedPost(target, body, {
      what: `hook "${hookName}"`,
      noun: 'hook',
      docs: 'docs/hooks.md',
      // The first attempt has the whole timeout (its message then names the hook's timeout, not
      // what was left of it a millisecond later); later ones what remains of it.
      timeoutMs: attempts === 1 ? target.timeoutMs : Math.max(MIN_ATTEMPT_MS, deadline - Date.now()),
      accept: (status) => status >= 200 && status < 300,
      signal: options.signal,
    });
    if (answer.ok || !answer.transient || attempts >= HOOK_ATTEMPTS) break;
    const pause = BACKOFF_MS[attempts - 1] ?? 1_000;
    if (options.signal?.aborted || Date.now() + pause + MIN_ATTEMPT_MS > deadline) break;
    await sleep(pause, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    if (options.signal?.aborted) break;
  }
  if (!answer.ok) {
    return result({
      answered: false,
      attempts,
      error: answer.error,
      ...(answer.seen ? { status: answer.seen.status } : {}),
    });
  }
  let parsed: z.infer<typeof answerSchema> | undefined;
  try {
    const json = answerSchema.safeParse(answer.text.trim() ? JSON.parse(answer.text) : {});
    parsed = json.success ? json.data : undefined;
  } catch {
    parsed = undefined;
  }
  const vetoPoint = VETO_POINTS.has(point);
  if (vetoPoint && parsed?.allow === undefined) {
    return result({
      answered: false,
      attempts,
      status: answer.status,
      error: `the answer is not {"allow": true|false, "reason": "…", "ticket": "…"}: ${answer.seen.body || '(empty)'}`,
    });
  }
  const reason = storable(parsed?.reason, HOOK_TEXT_LIMITS.reason);
  const ticket = storable(parsed?.ticket, HOOK_TEXT_LIMITS.ticket);
  return result({
    answered: true,
    attempts,
    status: answer.status,
    ...(vetoPoint && parsed?.allow !== undefined ? { allow: parsed.allow } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(ticket !== undefined ? { ticket } : {}),
  });
}
