/**
 * The audit key: a secret that writers and verifiers hold and the trail's storage does not. With
 * it every stored event carries an HMAC-SHA256 instead of a plain SHA-256, so someone who can
 * write the file or the table, but does not have the key, cannot forge a chain `audit verify`
 * accepts — not edit an event and recompute, not invent a run, not rewrite the trail wholesale.
 *
 * The key lives in a file (a mounted secret), named by `KEYSTORE_MAINT_AUDIT_KEY_FILE`: at least
 * 32 bytes, e.g. `openssl rand -hex 32 > audit_key`. Events record the key's id (a fingerprint,
 * not the key), so `verify` can say which key a trail needs. Rotating the key means starting a
 * new trail (file or table) and keeping the old one with its key.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuditConfigError } from './errors';

export const AUDIT_KEY_MIN_BYTES = 32;

export interface AuditKey {
  /** A fingerprint of the key (not secret): `k-` and 16 hex digits of SHA-256 over a domain tag and the key. */
  readonly id: string;
  /** HMAC-SHA256 of `text`, hex. */
  mac(text: string): string;
}

export function auditKeyFromBytes(secret: Uint8Array, where = 'the audit key'): AuditKey {
  if (secret.length < AUDIT_KEY_MIN_BYTES) {
    throw new AuditConfigError(
      `${where} is ${secret.length} bytes; it must be at least ${AUDIT_KEY_MIN_BYTES} (e.g. openssl rand -hex 32)`,
    );
  }
  const key = Buffer.from(secret);
  const id = `k-${createHash('sha256').update('keystore-maint audit key id\n').update(key).digest('hex').slice(0, 16)}`;
  return { id, mac: (text) => createHmac('sha256', key).update(text, 'utf8').digest('hex') };
}

/** Reads a key file (its bytes, without a final newline). Errors name the variable and the fix. */
export function loadAuditKey(path: string, variable = 'KEYSTORE_MAINT_AUDIT_KEY_FILE'): AuditKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new AuditConfigError(
      `${variable}: cannot read the audit key at ${path} (${err instanceof Error ? err.message : String(err)}); ` +
        `create it (openssl rand -hex 32 > <file>) and mount it where the worker and verify can read it`,
    );
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return auditKeyFromBytes(bytes.subarray(0, end), `${variable} (${path})`);
}
