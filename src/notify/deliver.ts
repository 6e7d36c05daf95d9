/**
 * One attempt to deliver one event to one destination. Never throws: it answers delivered, or
 * why not and whether another attempt could help (the notification activity turns that into a
 * retry with backoff, or a final failure).
 *
 * HTTP destinations count any 2xx as delivered (Slack answers 200 "ok", a Teams workflow 202).
 * A 429 or 5xx, or no answer, is retried; another 4xx is not (a revoked Slack URL, a payload the
 * receiver refuses): retrying would only repeat it. Redirects are never followed, as for gates.
 */
import type { NotificationEvent } from '../domain/notifications';
import { WEBHOOK_EVENT_ID_HEADER } from '../domain/traffic';
import { fetchWithin } from '../gates/fetch';
import { oneLine } from '../gates/report';
import { signWebhookRequest } from '../traffic/webhook-signature';
import { describeDestination, type NotificationDestination, type NotificationsConfig } from './config';
import { eventDocument, runLink, slackMessage, snsSubject, teamsMessage } from './messages';
import { publishEvent, type SnsClientProvider } from './sns';

export type AttemptOutcome =
  | { readonly ok: true; readonly receipt: string }
  | { readonly ok: false; readonly error: string; readonly retryable: boolean };

export interface DeliverOptions {
  readonly config: NotificationsConfig;
  readonly sns: SnsClientProvider;
  /** The Temporal namespace the run is in, for its link. */
  readonly namespace: string;
  /** Plain http allowed for URLs read from files (development only), as in the gates file. */
  readonly allowHttp: boolean;
  readonly signal?: AbortSignal;
}

export async function deliverOnce(
  destination: NotificationDestination,
  event: NotificationEvent,
  options: DeliverOptions,
): Promise<AttemptOutcome> {
  const link = runLink(options.config.temporalUiUrl, options.namespace, event);
  const what = describeDestination(destination);
  if (destination.kind === 'sns') {
    const published = await publishEvent(
      options.sns(destination.region),
      destination.topicArn,
      { subject: snsSubject(event), message: JSON.stringify(eventDocument(event, link)), event },
      options.signal,
    );
    return published.ok
      ? { ok: true, receipt: `MessageId ${published.messageId}` }
      : { ok: false, error: `${what}: ${published.error}`, retryable: published.retryable };
  }
  const url = destination.url.read();
  if (url === undefined) {
    return {
      ok: false,
      error: `${what}: its URL (${destination.url.source}) is missing or empty; write the webhook URL there`,
      // An operator can put the file in place while the delivery is still being retried.
      retryable: true,
    };
  }
  const checked = checkReadUrl(url, options.allowHttp);
  if (checked) return { ok: false, error: `${what}: ${destination.url.source} ${checked}`, retryable: false };

  const body = JSON.stringify(
    destination.kind === 'slack'
      ? slackMessage(event, link)
      : destination.kind === 'teams'
        ? teamsMessage(event, link)
        : eventDocument(event, link),
  );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (destination.kind === 'webhook') {
    headers[WEBHOOK_EVENT_ID_HEADER] = event.eventId;
    if (destination.secret) {
      const secret = destination.secret.read();
      if (!secret) {
        return {
          ok: false,
          error: `${what}: its signing secret (${destination.secret.source}) is missing or empty; it is never sent unsigned`,
          retryable: true,
        };
      }
      Object.assign(headers, signWebhookRequest(secret, { method: 'POST', url, body }));
    }
  }
  const answer = await fetchWithin(
    url,
    { method: 'POST', headers, body },
    destination.timeoutMs,
    options.signal,
  );
  if (!answer.ok) return { ok: false, error: `${what}: ${answer.error}`, retryable: true };
  if (answer.status >= 200 && answer.status < 300) return { ok: true, receipt: `HTTP ${answer.status}` };
  const said = oneLine(answer.text, 200);
  const error = `${what}: HTTP ${answer.status}${said ? ` ${said}` : ''}`;
  if (answer.status === 429 || answer.status >= 500) return { ok: false, error, retryable: true };
  return {
    ok: false,
    error: `${error}${answer.status >= 300 && answer.status < 400 ? ' (redirects are not followed: configure the final URL)' : ''}`,
    retryable: false,
  };
}

/** The rule of the gates file for a URL read from a file: undefined when it may be used. */
function checkReadUrl(value: string, allowHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'does not hold an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    return `holds a ${url.protocol}// URL; use https:// (plain http only for development, with KEYSTORE_MAINT_GATES_ALLOW_HTTP=1)`;
  }
  return undefined;
}
