/**
 * The receiving side of the webhook, for traffic controllers written in TypeScript (exported from
 * the package): verify a request — signature over method, full URL, timestamp, nonce and body;
 * timestamp within ±5 minutes; nonce never seen before inside that window — and sign the answer.
 *
 *   const nonces = new WebhookNonceCache();
 *   const check = verifyIncomingWebhook(secret, { method, url: publicUrl + req.url, headers, body }, nonces);
 *   if (!check.ok) return res.writeHead(401).end();
 *   ... act ...
 *   res.writeHead(200, { 'content-type': 'application/json', ...signWebhookResponse(secret, check.nonce, 200, text) }).end(text);
 *
 * Replay protection: a nonce is remembered for twice the timestamp window, so a captured request
 * replayed inside the window is refused, and one replayed later fails the timestamp check. The
 * cache is per process: a controller with several replicas behind a load balancer shares it (a
 * database table with a unique key on the nonce, or a Redis SET NX with an expiry), or routes by
 * store id to one replica.
 */
import {
  WEBHOOK_MAX_SKEW_SECONDS,
  WEBHOOK_NONCE_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../domain/traffic';
import { verifyWebhookRequest } from './webhook-signature';

export { signWebhookResponse } from './webhook-signature';

/** Nonces seen recently, each forgotten after `ttlSeconds`; bounded in size. */
export class WebhookNonceCache {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlSeconds: number = 2 * WEBHOOK_MAX_SKEW_SECONDS,
    private readonly maxEntries: number = 100_000,
  ) {}

  /** True (and remembered) when the nonce is new; false for a replay, or when full. */
  remember(nonce: string, nowSeconds: number = Math.floor(Date.now() / 1000)): boolean {
    for (const [key, expires] of this.seen) {
      // Entries are in insertion order, so expired ones are at the front.
      if (expires > nowSeconds) break;
      this.seen.delete(key);
    }
    if (this.seen.has(nonce)) return false;
    // Full of live nonces: refusing is safe (the sender retries), remembering fewer is not.
    if (this.seen.size >= this.maxEntries) return false;
    this.seen.set(nonce, nowSeconds + this.ttlSeconds);
    return true;
  }
}

type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export type IncomingCheck =
  { readonly ok: true; readonly nonce: string } | { readonly ok: false; readonly reason: string };

/** Verifies an incoming request completely, replay included. */
export function verifyIncomingWebhook(
  secret: string,
  request: { method: string; url: string; headers: HeaderBag; body: string | Uint8Array },
  nonces: WebhookNonceCache,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): IncomingCheck {
  const nonce = header(request.headers, WEBHOOK_NONCE_HEADER);
  const check = verifyWebhookRequest(
    secret,
    {
      method: request.method,
      url: request.url,
      body: request.body,
      headers: {
        signature: header(request.headers, WEBHOOK_SIGNATURE_HEADER),
        timestamp: header(request.headers, WEBHOOK_TIMESTAMP_HEADER),
        nonce,
      },
    },
    nowSeconds,
  );
  if (!check.ok) return check;
  if (!nonce || !nonces.remember(nonce, nowSeconds)) {
    return { ok: false, reason: 'nonce already used (replay)' };
  }
  return { ok: true, nonce };
}
