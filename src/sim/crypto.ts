/**
 * Real symmetric encryption for simulated keys: AES-256-GCM under each key's own random secret, so
 * that Decrypt of an Encrypt (or of a GenerateDataKey's CiphertextBlob) really round-trips and a
 * changed byte, a different encryption context or a different key really fails.
 *
 * Like KMS's symmetric ciphertext, the blob names its key, so Decrypt needs no `KeyId`:
 *
 *   version (1 byte, 0x01) | key id length (1 byte) | key id (ASCII) | IV (12) | tag (16) | ciphertext
 *
 * The key id and the canonical encryption context are the GCM additional authenticated data.
 * The format is the simulator's own; it is not KMS's and is not meant to interoperate with it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_SECRET_BYTES = 32;

export function newKeySecret(): Buffer {
  return randomBytes(KEY_SECRET_BYTES);
}

export function seal(
  keyId: string,
  secret: Buffer,
  plaintext: Uint8Array,
  context: Readonly<Record<string, string>> = {},
): Buffer {
  const id = Buffer.from(keyId, 'ascii');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secret, iv);
  cipher.setAAD(additionalData(keyId, context));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION, id.length]), id, iv, cipher.getAuthTag(), body]);
}

export interface ParsedBlob {
  keyId: string;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

/** Splits a blob into its parts, or returns undefined when it is not one of ours. */
export function parseBlob(blob: Buffer): ParsedBlob | undefined {
  if (blob.length < 2 || blob[0] !== VERSION) return undefined;
  const idLength = blob[1] ?? 0;
  const ivStart = 2 + idLength;
  const tagStart = ivStart + IV_BYTES;
  const bodyStart = tagStart + TAG_BYTES;
  if (idLength === 0 || blob.length < bodyStart) return undefined;
  const keyId = blob.subarray(2, ivStart).toString('ascii');
  if (!/^[0-9a-f-]{36}$/.test(keyId)) return undefined;
  return {
    keyId,
    iv: blob.subarray(ivStart, tagStart),
    tag: blob.subarray(tagStart, bodyStart),
    body: blob.subarray(bodyStart),
  };
}

/** The plaintext, or undefined when authentication fails (tampering, wrong key or context). */
export function open(
  parsed: ParsedBlob,
  secret: Buffer,
  context: Readonly<Record<string, string>> = {},
): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', secret, parsed.iv);
    decipher.setAAD(additionalData(parsed.keyId, context));
    decipher.setAuthTag(parsed.tag);
    return Buffer.concat([decipher.update(parsed.body), decipher.final()]);
  } catch {
    return undefined;
  }
}

/** Order-independent, as KMS treats the encryption context as a set of pairs. */
function additionalData(keyId: string, context: Readonly<Record<string, string>>): Buffer {
  const pairs = Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify([keyId, pairs]), 'utf8');
}
