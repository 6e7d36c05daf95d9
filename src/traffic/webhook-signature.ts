/**
 * Signing of webhook requests, shared by the sender (the `webhook` traffic provider) and by
 * traffic controllers written in TypeScript. The signature is HMAC-SHA256 over
 * `<timestamp>.<exact body>`, hex-encoded, sent as `x-keystore-maint-signature: v1=<hex>` with
 * `x-keystore-maint-timestamp: <unix seconds>`. A receiver recomputes it over the raw body it
 * received, compares in constant time, and refuses timestamps more than 5 minutes off (replays).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WEBHOOK_MAX_SKEW_SECONDS } from '../domain/traffic';

export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export function verifyWebhookSignature(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureCheck {
  const timestamp = Number(headers.timestamp);
  if (!headers.timestamp || !Number.isInteger(timestamp))
    return { ok: false, reason: 'missing or malformed timestamp' };
  if (Math.abs(nowSeconds - timestamp) > WEBHOOK_MAX_SKEW_SECONDS) {
    return { ok: false, reason: `timestamp is more than ${WEBHOOK_MAX_SKEW_SECONDS} s away (replay?)` };
  }
  if (!headers.signature) return { ok: false, reason: 'missing signature' };
  const expected = Buffer.from(webhookSignature(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: 'bad signature' };
  return { ok: true };
}
