/**
 * The `webhook` traffic provider: a traffic controller (service mesh, load balancer, feature
 * flag service) is told to `drain` or `restore` by a signed POST of
 * `{ action, customKeyStoreId, workflowId, runId }`, then its status URL is polled until it
 * reports `drained` / `restored`, bounded by the spec's timeout.
 *
 * Sending an action: up to five tries inside one activity attempt, with backoff, because the
 * sender must know whether any try may have reached the controller — a restore is owed for every
 * drain that may have been accepted. A connection that could not be made, or a 4xx answer (the
 * controller refused: bad signature, unknown store), proves the controller did not act; a 2xx
 * means it accepted; a 5xx, a 429, a timeout or a connection lost mid-request leaves the outcome
 * unknown. The final failure carries `possiblyDelivered` and the activity attempt, so the
 * workflow restores exactly when it must (an earlier attempt lost with its worker counts as
 * possibly delivered).
 *
 * Polling the status URL: 5xx, 429 and network errors are retried by Temporal; `failed` from the
 * status URL and the timeout end the step.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  WEBHOOK_SECRET_ENV,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type DrainPlan,
  type DrainSpec,
  type WebhookBody,
  type WebhookStatus,
} from '../src/domain/traffic';
import type { WebhookSecretSource } from '../src/traffic/webhook-secret';
import { webhookSignature } from '../src/traffic/webhook-signature';

type WebhookSpec = Extract<DrainSpec, { provider: 'webhook' }>;
type WebhookPlan = Extract<DrainPlan, { provider: 'webhook' }>;

const REQUEST_TIMEOUT_MS = 10_000;

export function planWebhookDrain(spec: WebhookSpec, secrets: WebhookSecretSource): WebhookPlan {
  secretFor(spec, secrets);
  return {
    provider: 'webhook',
    url: spec.url,
    statusUrl: spec.statusUrl ?? `${spec.url.replace(/\/$/, '')}/status`,
  };
}

function secretFor(spec: WebhookSpec, secrets: WebhookSecretSource): string {
  const variable = spec.secretEnv ?? WEBHOOK_SECRET_ENV;
  const secret = secrets(variable);
  if (!secret) {
    throw ApplicationFailure.nonRetryable(
      `the worker has no webhook secret: set ${variable} (or ${variable}_FILE, a file holding it) in the worker's environment`,
      FAILURE_TYPES_WEBHOOK.config,
    );
  }
  return secret;
}

export const FAILURE_TYPES_WEBHOOK = {
  config: 'WebhookNotConfigured',
  refused: 'WebhookRefused',
  failed: 'WebhookReportedFailure',
  timeout: 'WebhookTimeout',
} as const;

/** fetch() wraps the socket error (sometimes an AggregateError of several attempts) as `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; errors?: { code?: unknown }[]; message?: unknown } })
    .cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (err instanceof Error && err.name === 'TimeoutError')
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return typeof cause?.message === 'string' ? cause.message : String(err);
}

/** Errors raised before a connection existed: the request cannot have reached the controller. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** What one signed request ended in, for a sender that must know whether the far side may have acted. */
export class WebhookCallError extends Error {
  constructor(
    readonly failure: ApplicationFailure,
    /** False only when the controller provably did not act (no connection, or a 4xx refusal). */
    readonly possiblyDelivered: boolean,
  ) {
    super(failure.message);
    this.name = 'WebhookCallError';
  }
}

const SEND_TRIES = 5;
const SEND_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000] as const;

async function signedFetch(
  url: string,
  secret: string,
  init: { method: 'POST' | 'GET'; body: string },
): Promise<Response> {
  const timestamp = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(secret, timestamp, init.body),
  };
  if (init.method === 'POST') headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers,
      ...(init.method === 'POST' ? { body: init.body } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = networkCause(err);
    throw new WebhookCallError(
      ApplicationFailure.retryable(`webhook ${init.method} ${url} failed: ${cause}`, 'WebhookUnreachable'),
      !NOT_CONNECTED.has(cause),
    );
  }
  if (response.ok) return response;
  const text = (await response.text().catch(() => '')).slice(0, 200);
  if (response.status >= 500 || response.status === 429) {
    throw new WebhookCallError(
      ApplicationFailure.retryable(
        `webhook ${init.method} ${url} answered ${response.status}${text ? `: ${text}` : ''}`,
        'WebhookServerError',
      ),
      true,
    );
  }
  throw new WebhookCallError(
    ApplicationFailure.nonRetryable(
      `webhook ${init.method} ${url} refused with ${response.status}${text ? `: ${text}` : ''}; check the URL and that the controller has the same secret`,
      FAILURE_TYPES_WEBHOOK.refused,
    ),
    false,
  );
}

/** Sends the action; resolves when the controller accepted it (2xx). */
export async function sendWebhookAction(
  spec: WebhookSpec,
  plan: WebhookPlan,
  secrets: WebhookSecretSource,
  body: WebhookBody,
): Promise<{ acceptedAt: string; status: number }> {
  const ctx = Context.current();
  const secret = secretFor(spec, secrets);
  let possiblyDelivered = false;
  let last: ApplicationFailure | undefined;
  for (let attempt = 1; attempt <= SEND_TRIES; attempt++) {
    if (ctx.cancellationSignal.aborted) {
      throw new CancelledFailure(`cancelled before ${body.action} try ${attempt} was sent`);
    }
    try {
      // Not cut off by a cancellation once sent: the controller may act on it whatever happens here.
      const response = await signedFetch(plan.url, secret, { method: 'POST', body: JSON.stringify(body) });
      await response.body?.cancel();
      return { acceptedAt: new Date().toISOString(), status: response.status };
    } catch (err) {
      if (!(err instanceof WebhookCallError)) throw err;
      possiblyDelivered ||= err.possiblyDelivered;
      last = err.failure;
      if (err.failure.nonRetryable) break;
    }
    ctx.heartbeat();
    const backoff = SEND_BACKOFF_MS[attempt - 1];
    if (backoff !== undefined) await ctx.sleep(backoff);
  }
  throw ApplicationFailure.create({
    type: last?.type ?? 'WebhookUnreachable',
    message: last?.message ?? `webhook ${body.action} failed`,
    nonRetryable: true,
    details: [{ possiblyDelivered, activityAttempt: ctx.info.attempt }],
  });
}

/** Polls the status URL until it reports `want`, heartbeating; bounded by the spec's timeout. */
export async function waitForWebhookState(
  spec: WebhookSpec,
  plan: WebhookPlan,
  secrets: WebhookSecretSource,
  body: WebhookBody,
  want: 'drained' | 'restored',
): Promise<{ polls: number }> {
  const ctx = Context.current();
  const secret = secretFor(spec, secrets);
  const timeoutMs = spec.timeout ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const started = (ctx.info.heartbeatDetails as { started?: number } | undefined)?.started ?? Date.now();
  const query = new URLSearchParams({
    customKeyStoreId: body.customKeyStoreId,
    workflowId: body.workflowId,
    runId: body.runId,
  });
  const url = `${plan.statusUrl}${plan.statusUrl.includes('?') ? '&' : '?'}${query.toString()}`;
  let polls = 0;
  for (;;) {
    let response: Response;
    try {
      response = await signedFetch(url, secret, { method: 'GET', body: '' });
    } catch (err) {
      throw err instanceof WebhookCallError ? err.failure : err;
    }
    polls++;
    const status = (await response.json().catch(() => ({}))) as Partial<WebhookStatus>;
    if (status.state === want) return { polls };
    if (status.state === 'failed') {
      throw ApplicationFailure.nonRetryable(
        `the traffic controller reports that ${body.action} failed${status.message ? `: ${status.message}` : ''}`,
        FAILURE_TYPES_WEBHOOK.failed,
      );
    }
    if (Date.now() - started > timeoutMs) {
      throw ApplicationFailure.nonRetryable(
        `the traffic controller did not report ${want} within ${Math.round(timeoutMs / 1000)} s (last state: ${status.state ?? 'unknown'})`,
        FAILURE_TYPES_WEBHOOK.timeout,
      );
    }
    ctx.heartbeat({ started, polls });
    await ctx.sleep(Math.min(2_000, Math.max(200, timeoutMs / 50)));
  }
}
