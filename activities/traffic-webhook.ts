/**
 * The `webhook` traffic provider: a traffic controller (service mesh, load balancer, feature
 * flag service) is told to `drain` or `restore` by a signed POST of
 * `{ action, customKeyStoreId, workflowId, runId }`, then its status URL is polled until it
 * reports `drained` / `restored`, bounded by the spec's timeout.
 *
 * Errors: 5xx, 429 and network errors are retried (by Temporal, a bounded number of times); any
 * other non-2xx answer is a refusal that retrying cannot fix (wrong URL, bad signature, ...);
 * `failed` from the status URL and the timeout end the step.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
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
    throw ApplicationFailure.retryable(
      `webhook ${init.method} ${url} failed: ${networkCause(err)}`,
      'WebhookUnreachable',
    );
  }
  if (response.ok) return response;
  const text = (await response.text().catch(() => '')).slice(0, 200);
  if (response.status >= 500 || response.status === 429) {
    throw ApplicationFailure.retryable(
      `webhook ${init.method} ${url} answered ${response.status}${text ? `: ${text}` : ''}`,
      'WebhookServerError',
    );
  }
  throw ApplicationFailure.nonRetryable(
    `webhook ${init.method} ${url} refused with ${response.status}${text ? `: ${text}` : ''}; check the URL and that the controller has the same secret`,
    FAILURE_TYPES_WEBHOOK.refused,
  );
}

/** Sends the action; resolves when the controller accepted it (2xx). */
export async function sendWebhookAction(
  spec: WebhookSpec,
  plan: WebhookPlan,
  secrets: WebhookSecretSource,
  body: WebhookBody,
): Promise<{ acceptedAt: string; status: number }> {
  const response = await signedFetch(plan.url, secretFor(spec, secrets), {
    method: 'POST',
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  return { acceptedAt: new Date().toISOString(), status: response.status };
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
    const response = await signedFetch(url, secret, { method: 'GET', body: '' });
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
