/**
 * One signed POST to a worker-configured HTTP endpoint and the check of its answer, shared by the
 * HTTP gate (http-gate.ts) and hooks (src/hooks/http-hook.ts), so both speak exactly the same
 * protocol: with a secret, the request is signed (src/traffic/webhook-signature.ts, signature
 * version 2: method, full URL, timestamp, nonce, body) and the answer must carry the endpoint's
 * signature over the request's nonce, the status and the body — an unsigned or badly signed
 * answer is not believed, since anyone on the path could fake it.
 *
 * Never throws: the caller reads either a believed answer or a phrase saying why there is none,
 * with `transient` telling whether asking again could change that (no answer, a 5xx, a 429), as
 * opposed to a misconfiguration that another try would only repeat.
 */
import { WEBHOOK_NONCE_HEADER, WEBHOOK_SIGNATURE_HEADER } from '../domain/traffic';
import { signWebhookRequest, verifyWebhookResponse } from '../traffic/webhook-signature';
import type { GateCredential } from './config';
import { fetchWithin } from './fetch';
import { oneLine } from './report';

export interface SignedPostTarget {
  readonly url: string;
  /** Signs requests and must sign answers; absent: unsigned both ways. */
  readonly secret: GateCredential | undefined;
}

/** What of an answer may be shown: its status and a short, redacted first line of its body. */
export type SeenAnswer = Readonly<Record<string, unknown>> & {
  readonly status: number;
  readonly body: string;
};

export type SignedPostOutcome =
  | { readonly ok: true; readonly status: number; readonly text: string; readonly seen: SeenAnswer }
  | {
      readonly ok: false;
      readonly error: string;
      readonly seen?: SeenAnswer;
      /** Another try might get an answer (none came, a 5xx, a 429). */
      readonly transient: boolean;
    };

export interface SignedPostOptions {
  /** How the endpoint is named in messages: `HTTP gate "freeze"`, `hook "change-mgmt"`. */
  readonly what: string;
  /** `gate` or `hook`, for the fixes the messages suggest. */
  readonly noun: string;
  /** The page that documents the endpoint's side, e.g. `docs/gates.md`. */
  readonly docs: string;
  readonly timeoutMs: number;
  /** Which statuses count as an answer (a gate: 200 only; a hook: any 2xx). */
  readonly accept: (status: number) => boolean;
  readonly signal?: AbortSignal | undefined;
}

export async function signedPost(
  target: SignedPostTarget,
  body: string,
  options: SignedPostOptions,
): Promise<SignedPostOutcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  let secret: string | undefined;
  if (target.secret) {
    secret = target.secret.read();
    if (!secret) {
      return {
        ok: false,
        error: `the worker has no signing secret for ${options.what}: ${target.secret.source} is missing or empty`,
        transient: false,
      };
    }
    Object.assign(headers, signWebhookRequest(secret, { method: 'POST', url: target.url, body }));
  }
  const answer = await fetchWithin(
    target.url,
    { method: 'POST', headers, body },
    options.timeoutMs,
    options.signal,
  );
  if (!answer.ok) return { ok: false, error: answer.error, transient: true };
  const seen = { status: answer.status, body: oneLine(answer.text, 200) };
  if (answer.status >= 300 && answer.status < 400) {
    return {
      ok: false,
      error: `answered ${answer.status} (a redirect); redirects are never followed — configure the ${options.noun}'s final URL on the worker`,
      seen,
      transient: false,
    };
  }
  if (!options.accept(answer.status)) {
    return {
      ok: false,
      error: `answered HTTP ${answer.status}${seen.body ? ` (${seen.body})` : ''}`,
      seen,
      transient: answer.status >= 500 || answer.status === 429,
    };
  }
  if (secret !== undefined) {
    const check = verifyWebhookResponse(secret, headers[WEBHOOK_NONCE_HEADER] ?? '', {
      status: answer.status,
      body: answer.text,
      signature: answer.headers.get(WEBHOOK_SIGNATURE_HEADER),
    });
    if (!check.ok) {
      return {
        ok: false,
        error: `the answer is not believed: ${check.reason}; the ${options.noun} must sign its answers (${options.docs})`,
        seen,
        transient: false,
      };
    }
  }
  return { ok: true, status: answer.status, text: answer.text, seen };
}
