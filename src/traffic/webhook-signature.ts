/**
 * Signing of webhook requests and of the controller's answers (signature version 2), shared by the
 * sender (the `webhook` traffic provider) and by traffic controllers written in TypeScript
 * (`webhook-receiver.ts`). Controllers in other languages implement the same few lines
 * (docs/traffic.md has the exact strings and a worked example).
 *
 * A request carries
 *   x-keystore-maint-timestamp: <unix seconds>
 *   x-keystore-maint-nonce:     <random, at least 16 characters>
 *   x-keystore-maint-signature: v2=<hex HMAC-SHA256>
 * over `v2\n<METHOD>\n<full URL as sent>\n<timestamp>\n<nonce>\n<hex SHA-256 of the exact body>`.
 * The method and the full URL (scheme, host, port, path and query) are signed, so a signature
 * lifted from one request is worthless for another URL, method or body; the nonce lets a receiver
 * refuse a replay inside the timestamp window.
 *
 * An answer the sender must trust (the status poll's) carries
 *   x-keystore-maint-signature: v2=<hex HMAC-SHA256>
 * over `v2-response\n<the request's nonce>\n<HTTP status>\n<hex SHA-256 of the exact body>`, so
 * nobody on the path can fake "drained", and an old answer cannot be replayed to a new poll.
 *
 * (Version 1 signed only `<timestamp>.<body>`: lifted signatures could be replayed to another URL.
 * It is gone; a controller still on v1 refuses v2 requests with 401, which the run reports.)
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  WEBHOOK_MAX_SKEW_SECONDS,
  WEBHOOK_NONCE_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../domain/traffic';

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The string a request signature covers. */
export function requestSigningString(
  method: string,
  url: string,
  timestamp: number,
  nonce: string,
  body: string | Uint8Array,
): string {
  return `v2\n${method.toUpperCase()}\n${url}\n${timestamp}\n${nonce}\n${sha256Hex(body)}`;
}

/** The string an answer signature covers. */
export function responseSigningString(
  requestNonce: string,
  status: number,
  body: string | Uint8Array,
): string {
  return `v2-response\n${requestNonce}\n${status}\n${sha256Hex(body)}`;
}

export interface SignedRequestHeaders {
  readonly [WEBHOOK_TIMESTAMP_HEADER]: string;
  readonly [WEBHOOK_NONCE_HEADER]: string;
  readonly [WEBHOOK_SIGNATURE_HEADER]: string;
}

/** The headers that sign one request (a fresh nonce each time unless one is given). */
export function signWebhookRequest(
  secret: string,
  request: { method: string; url: string; body: string },
  nowSeconds: number = Math.floor(Date.now() / 1000),
  nonce: string = randomBytes(16).toString('hex'),
): SignedRequestHeaders {
  const signature = hmacHex(
    secret,
    requestSigningString(request.method, request.url, nowSeconds, nonce, request.body),
  );
  return {
    [WEBHOOK_TIMESTAMP_HEADER]: String(nowSeconds),
    [WEBHOOK_NONCE_HEADER]: nonce,
    [WEBHOOK_SIGNATURE_HEADER]: `v2=${signature}`,
  };
}

/**
 * Checks a request's signature, timestamp window and nonce shape (the receiver checks the nonce
 * against its cache separately, `webhook-receiver.ts`). `url` must be the full URL the request
 * was sent to, as the sender wrote it — a receiver behind a proxy reconstructs it from its own
 * configured public URL, never from the Host header alone.
 */
export function verifyWebhookRequest(
  secret: string,
  request: {
    method: string;
    url: string;
    body: string | Uint8Array;
    headers: { signature?: string | undefined; timestamp?: string | undefined; nonce?: string | undefined };
  },
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const { signature, timestamp: ts, nonce } = request.headers;
  const timestamp = Number(ts);
  if (!ts || !Number.isInteger(timestamp)) return { ok: false, reason: 'missing or malformed timestamp' };
  if (Math.abs(nowSeconds - timestamp) > WEBHOOK_MAX_SKEW_SECONDS) {
    return { ok: false, reason: `timestamp is more than ${WEBHOOK_MAX_SKEW_SECONDS} s away (replay?)` };
  }
  if (!nonce || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce))
    return { ok: false, reason: 'missing or malformed nonce' };
  if (!signature?.startsWith('v2=')) return { ok: false, reason: 'missing signature, or not version 2' };
  const expected = `v2=${hmacHex(secret, requestSigningString(request.method, request.url, timestamp, nonce, request.body))}`;
  if (!sameText(expected, signature)) return { ok: false, reason: 'bad signature' };
  return { ok: true };
}

/** The header that signs an answer to the request that carried `requestNonce`. */
export function signWebhookResponse(
  secret: string,
  requestNonce: string,
  status: number,
  body: string,
): { readonly [WEBHOOK_SIGNATURE_HEADER]: string } {
  return {
    [WEBHOOK_SIGNATURE_HEADER]: `v2=${hmacHex(secret, responseSigningString(requestNonce, status, body))}`,
  };
}

/** Checks the controller's signature on an answer (the sender side). */
export function verifyWebhookResponse(
  secret: string,
  requestNonce: string,
  response: { status: number; body: string; signature: string | null | undefined },
): SignatureCheck {
  if (!response.signature?.startsWith('v2=')) {
    return { ok: false, reason: 'the answer is not signed by the controller' };
  }
  const expected = `v2=${hmacHex(secret, responseSigningString(requestNonce, response.status, response.body))}`;
  if (!sameText(expected, response.signature)) {
    return {
      ok: false,
      reason: "the answer's signature does not match (not from the controller, or altered)",
    };
  }
  return { ok: true };
}
