/**
 * The HTTP gate: a service configured on the worker by name (config.ts) — a change-freeze
 * calendar, an incident tracker, a deploy lock — asked whether maintenance of one store may start.
 *
 * The request is a `POST` of
 * `{"gate", "customKeyStoreId", "workflowId", "runId", "region", "account"?}` as JSON (a POST, not
 * a GET, so the service can decide per store and per run with a body that is signed as a whole;
 * it must not change anything: it is asked again every `checkEvery` while a run waits). With a
 * `secretFile`, the request is signed like a traffic webhook (signed-post.ts, shared with hooks;
 * signature version 2: method, full URL, timestamp, nonce, body) and the answer must carry the
 * service's signature over the request's nonce, the status and the body — an unsigned or badly
 * signed answer is not believed, since anyone on the path could fake "open".
 *
 * The answer: HTTP 200 with `{"open": true}` or `{"open": false, "reason": "…"}`. Anything else —
 * another status, a redirect (never followed), another body, no answer within the timeout, a
 * refused connection, a missing secret file — blocks the gate, with what was seen.
 */
import { z } from 'zod';
import type { GateResult } from '../domain/gates';
import { GATES_FILE_ENV, type GatesConfig } from './config';
import { oneLine, safeEvidence, unansweredGate } from './report';
import { signedPost } from './signed-post';

/** What the service is told: which gate, for which store and run. */
export interface HttpGateRequest {
  readonly customKeyStoreId: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly region: string;
  readonly account?: string | undefined;
}

const answerSchema = z.object({ open: z.boolean(), reason: z.string().optional() });

export async function checkHttpGate(
  config: GatesConfig,
  gateName: string,
  request: HttpGateRequest,
  options: { signal?: AbortSignal } = {},
): Promise<GateResult> {
  const target = config.http(gateName);
  if (!target) {
    const configured = config.httpNames.length
      ? `configured: ${config.httpNames.join(', ')}`
      : `none is configured (${GATES_FILE_ENV})`;
    return unansweredGate(
      'http',
      gateName,
      `HTTP gate "${gateName}" is not one this worker may ask (${configured}); name a configured gate, or configure it on the worker (docs/gates.md)`,
    );
  }
  const body = JSON.stringify({
    gate: gateName,
    customKeyStoreId: request.customKeyStoreId,
    workflowId: request.workflowId,
    runId: request.runId,
    region: request.region,
    ...(request.account !== undefined ? { account: request.account } : {}),
  });
  const answer = await signedPost(target, body, {
    what: `HTTP gate "${gateName}"`,
    noun: 'gate',
    docs: 'docs/gates.md',
    timeoutMs: target.timeoutMs,
    accept: (status) => status === 200,
    signal: options.signal,
  });
  if (!answer.ok) return unansweredGate('http', gateName, answer.error, answer.seen ?? {});
  const seen = answer.seen;
  let parsed: z.infer<typeof answerSchema> | undefined;
  try {
    const json = answerSchema.safeParse(JSON.parse(answer.text));
    parsed = json.success ? json.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed) {
    return unansweredGate('http', gateName, 'the answer is not {"open": true|false, "reason": "…"}', seen);
  }
  const reason = parsed.reason !== undefined ? oneLine(parsed.reason, 200) : undefined;
  const evidence = safeEvidence({ status: answer.status, open: parsed.open, ...(reason ? { reason } : {}) });
  if (parsed.open) return { kind: 'http', name: gateName, open: true, reason: 'open', evidence };
  return {
    kind: 'http',
    name: gateName,
    open: false,
    reason: `closed: ${reason ?? 'no reason given'}`,
    evidence,
  };
}
