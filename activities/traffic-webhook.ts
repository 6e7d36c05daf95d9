/**
 * The `webhook` traffic provider: a traffic controller (service mesh, load balancer, feature
 * flag service) is told to `drain` or `restore` by a signed POST of
 * `{ action, customKeyStoreId, workflowId, runId }`, then its status URL is polled until it
 * reports `drained` / `restored`, bounded by the spec's timeout.
 *
 * Where the controller is and which secret signs for it come from the worker's configuration
 * (src/traffic/webhook-controllers.ts): the request only names it. Every request is signed over
 * method, full URL, timestamp, nonce and body; every status answer must carry the controller's
 * signature over the poll's nonce and the answer (src/traffic/webhook-signature.ts); redirects are
 * never followed (a 3xx is a refusal: following one would hand a signed request to whoever
 * answers); error answers enter messages only as a status code and a redacted, bounded summary.
 *
 * Sending an action: up to five tries inside one activity attempt, with backoff, because the
 * sender must know whether any try may have reached the controller — a restore is owed for every
 * drain that may have been accepted. A connection that could not be made, or a 4xx answer (the
 * controller refused: bad signature, unknown store), proves the controller did not act; a 2xx
 * means it accepted; a 3xx, 5xx, 429, a timeout or a connection lost mid-request leaves the
 * outcome unknown. The final failure carries `possiblyDelivered` and the activity attempt, so the
 * workflow restores exactly when it must (an earlier attempt lost with its worker counts as
 * possibly delivered).
 *
 * Polling the status URL: 5xx, 429 and network errors are retried by Temporal; an answer without
 * a valid controller signature, `failed`, and the timeout end the step.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/domain/errors';
import {
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  WEBHOOK_NONCE_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type DrainPlan,
  type DrainSpec,
  type WebhookBody,
  type WebhookStatus,
} from '../src/domain/traffic';
import { responseSummary } from '../src/traffic/response-summary';
import {
  WEBHOOK_CONTROLLERS_FILE_ENV,
  type WebhookController,
  type WebhookControllers,
} from '../src/traffic/webhook-controllers';
import { signWebhookRequest, verifyWebhookResponse } from '../src/traffic/webhook-signature';

type WebhookSpec = Extract<DrainSpec, { provider: 'webhook' }>;
type WebhookPlan = Extract<DrainPlan, { provider: 'webhook' }>;

const REQUEST_TIMEOUT_MS = 10_000;

export const FAILURE_TYPES_WEBHOOK = {
  config: 'WebhookNotConfigured',
  refused: 'WebhookRefused',
  redirect: 'WebhookRedirectRefused',
  unauthenticated: 'WebhookAnswerUnauthenticated',
  failed: 'WebhookReportedFailure',
  timeout: 'WebhookTimeout',
} as const;

/** The configured controller a spec (or, for runs of older workers, a plan's URL) names. */
function controllerFor(
  target: { controller?: string | undefined; url?: string | undefined },
  controllers: WebhookControllers,
): WebhookController {
  const found = target.controller
    ? controllers.get(target.controller)
    : target.url
      ? controllers.byUrl(target.url)
      : undefined;
  if (!found) {
    const named = target.controller
      ? `controller "${target.controller}"`
      : `webhook URL ${target.url ?? '(none)'}`;
    const configured = controllers.names.length
      ? `configured: ${controllers.names.join(', ')}`
      : `none is configured (${WEBHOOK_CONTROLLERS_FILE_ENV})`;
    throw ApplicationFailure.nonRetryable(
      `${named} is not one this worker may call (${configured}); name a configured controller in drain.controller, or configure it on the worker (docs/traffic.md)`,
      FAILURE_TYPES.preflightRefused,
    );
  }
  return found;
}

function secretOf(controller: WebhookController): string {
  const secret = controller.secret();
  if (!secret) {
    throw ApplicationFailure.nonRetryable(
      `the worker has no secret for traffic controller "${controller.name}": ${controller.secretSource} is missing or empty`,
      FAILURE_TYPES_WEBHOOK.config,
    );
  }
  return secret;
}

export function planWebhookDrain(spec: WebhookSpec, controllers: WebhookControllers): WebhookPlan {
  const controller = controllerFor(
    {
      controller: 'controller' in spec ? spec.controller : undefined,
      url: 'url' in spec ? spec.url : undefined,
    },
    controllers,
  );
  secretOf(controller);
  return {
    provider: 'webhook',
    controller: controller.name,
    url: controller.url,
    statusUrl: controller.statusUrl,
  };
}

/** fetch() wraps the socket error (sometimes an AggregateError of several attempts) as `cause`. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; errors?: { code?: unknown }[]; message?: unknown } })
    .cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (typeof code === 'string') return code;
  if (err instanceof Error && err.name === 'TimeoutError')
    return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return typeof cause?.message === 'string' ? responseSummary(cause.message) : 'connection failed';
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

/** A signed request; its nonce is what the answer's signature must cover. */
async function signedFetch(
  url: string,
  secret: string,
  init: { method: 'POST' | 'GET'; body: string },
): Promise<{ response: Response; nonce: string }> {
  const signed = signWebhookRequest(secret, { method: init.method, url, body: init.body });
  const headers: Record<string, string> = { ...signed };
  if (init.method === 'POST') headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers,
      ...(init.method === 'POST' ? { body: init.body } : {}),
      // Never followed: a redirect would hand this signed request to whoever answers it.
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const cause = networkCause(err);
    throw new WebhookCallError(
      ApplicationFailure.retryable(`webhook ${init.method} ${url} failed: ${cause}`, 'WebhookUnreachable'),
      !NOT_CONNECTED.has(cause),
    );
  }
  const nonce = signed[WEBHOOK_NONCE_HEADER];
  if (response.ok) return { response, nonce };
  const text = await response.text().catch(() => '');
  const summary = responseSummary(text);
  const said = summary ? ` (${summary})` : '';
  if (response.status >= 300 && response.status < 400) {
    throw new WebhookCallError(
      ApplicationFailure.nonRetryable(
        `webhook ${init.method} ${url} answered ${response.status} (a redirect); redirects are never followed — configure the controller's final URL on the worker`,
        FAILURE_TYPES_WEBHOOK.redirect,
      ),
      true,
    );
  }
  if (response.status >= 500 || response.status === 429) {
    throw new WebhookCallError(
      ApplicationFailure.retryable(
        `webhook ${init.method} ${url} answered ${response.status}${said}`,
        'WebhookServerError',
      ),
      true,
    );
  }
  throw new WebhookCallError(
    ApplicationFailure.nonRetryable(
      `webhook ${init.method} ${url} refused with ${response.status}${said}; check the URL and that the controller has the same secret (signature version 2)`,
      FAILURE_TYPES_WEBHOOK.refused,
    ),
    false,
  );
}

/** Sends the action; resolves when the controller accepted it (2xx). */
export async function sendWebhookAction(
  plan: WebhookPlan,
  controllers: WebhookControllers,
  body: WebhookBody,
): Promise<{ acceptedAt: string; status: number }> {
  const ctx = Context.current();
  const controller = controllerFor(plan, controllers);
  const secret = secretOf(controller);
  let possiblyDelivered = false;
  let last: ApplicationFailure | undefined;
  for (let attempt = 1; attempt <= SEND_TRIES; attempt++) {
    if (ctx.cancellationSignal.aborted) {
      throw new CancelledFailure(`cancelled before ${body.action} try ${attempt} was sent`);
    }
    try {
      // Not cut off by a cancellation once sent: the controller may act on it whatever happens here.
      const { response } = await signedFetch(controller.url, secret, {
        method: 'POST',
        body: JSON.stringify(body),
      });
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
  controllers: WebhookControllers,
  body: WebhookBody,
  want: 'drained' | 'restored',
): Promise<{ polls: number }> {
  const ctx = Context.current();
  const controller = controllerFor(plan, controllers);
  const secret = secretOf(controller);
  const timeoutMs = spec.timeout ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const started = (ctx.info.heartbeatDetails as { started?: number } | undefined)?.started ?? Date.now();
  const query = new URLSearchParams({
    customKeyStoreId: body.customKeyStoreId,
    workflowId: body.workflowId,
    runId: body.runId,
  });
  const statusUrl = controller.statusUrl;
  const url = `${statusUrl}${statusUrl.includes('?') ? '&' : '?'}${query.toString()}`;
  let polls = 0;
  for (;;) {
    let answer: { response: Response; nonce: string };
    try {
      answer = await signedFetch(url, secret, { method: 'GET', body: '' });
    } catch (err) {
      throw err instanceof WebhookCallError ? err.failure : err;
    }
    polls++;
    const text = await answer.response.text().catch(() => '');
    const check = verifyWebhookResponse(secret, answer.nonce, {
      status: answer.response.status,
      body: text,
      signature: answer.response.headers.get(WEBHOOK_SIGNATURE_HEADER),
    });
    if (!check.ok) {
      throw ApplicationFailure.nonRetryable(
        `the status answer from ${statusUrl} was refused: ${check.reason}; anyone on the path could fake "${want}", so it is not believed (the controller must sign its answers, docs/traffic.md)`,
        FAILURE_TYPES_WEBHOOK.unauthenticated,
      );
    }
    let status: Partial<WebhookStatus>;
    try {
      status = JSON.parse(text) as Partial<WebhookStatus>;
    } catch {
      status = {};
    }
    if (status.state === want) return { polls };
    if (status.state === 'failed') {
      const message = typeof status.message === 'string' ? responseSummary(status.message) : '';
      throw ApplicationFailure.nonRetryable(
        `the traffic controller reports that ${body.action} failed${message ? `: ${message}` : ''}`,
        FAILURE_TYPES_WEBHOOK.failed,
      );
    }
    if (Date.now() - started > timeoutMs) {
      throw ApplicationFailure.nonRetryable(
        `the traffic controller did not report ${want} within ${Math.round(timeoutMs / 1000)} s (last state: ${typeof status.state === 'string' ? responseSummary(status.state, 40) : 'unknown'})`,
        FAILURE_TYPES_WEBHOOK.timeout,
      );
    }
    ctx.heartbeat({ started, polls });
    await ctx.sleep(Math.min(2_000, Math.max(200, timeoutMs / 50)));
  }
}
