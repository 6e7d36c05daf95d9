/**
 * The no-secrets guard. Audit trails are read by more people (auditors, on-call, log pipelines)
 * and kept longer than any credential should live, so a sink refuses an event that looks like it
 * carries one: a failed audit write is visible and fixable, a leaked secret in an append-only,
 * hash-chained file is neither.
 *
 * Not refused on purpose: `CiphertextBlob` and other ciphertext (worthless without kms:Decrypt on
 * the key, which is the control that matters; the runner still has no reason to audit it), key
 * ids and ARNs, AWS access key ids (identifiers, shown in CloudTrail anyway), request ids, and
 * references to secrets (`passwordSecretArn`).
 */
import type { AuditEvent } from '../domain/audit-event';
import { secretValueReason } from '../domain/free-text';
import { AuditSecretRefusedError } from './errors';

/** A member that looks like a secret: where it is and why; never its value. */
export interface SecretFinding {
  /** e.g. `detail.credential.RawSecretAccessKey` or `detail.changes[2].url`. */
  readonly path: string;
  readonly reason: string;
}

/** Words that, inside a key name (case and separators ignored), mark its value as a secret. */
const SECRET_KEY_WORDS = [
  'password',
  'passphrase',
  'passwd',
  'secret',
  'plaintext',
  'privatekey',
  'sessiontoken',
  'accesstoken',
  'refreshtoken',
  'bearertoken',
  'authtoken',
  'apitoken',
  'apikey',
  'authorization',
  'credential',
  'cookie',
  'datakey',
] as const;

/** Key names that are secrets as a whole word but too short to search for inside other names. */
const SECRET_KEY_NAMES = new Set(['token', 'pin']);

/**
 * Endings that turn a secret-sounding key into a reference or a property of a secret, which is
 * fine to audit: `passwordSecretArn`, `secretId`, `plaintextLength`, `dataKeySpec`.
 */
const REFERENCE_SUFFIXES = [
  'arn',
  'id',
  'ids',
  'identifier',
  'name',
  'names',
  'ref',
  'path',
  'length',
  'spec',
  'type',
  'version',
  'source',
  'provider',
] as const;

/** What `redactSecrets` puts in place of a secret; the guard lets a member with this value pass. */
export const REDACTED = '[REDACTED]';

export { secretValueReason };

export function secretKeyReason(key: string): string | undefined {
  const normalized = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (SECRET_KEY_NAMES.has(normalized)) return `the key name "${key}" names a secret`;
  for (const word of SECRET_KEY_WORDS) {
    const at = normalized.indexOf(word);
    if (at < 0) continue;
    const rest = normalized.slice(at + word.length);
    if (REFERENCE_SUFFIXES.some((suffix) => rest.endsWith(suffix))) continue;
    return `the key name "${key}" contains "${word}"`;
  }
  return undefined;
}

/** Every member of `value` that looks like a secret, by key name or by value. */
export function findSecrets(value: unknown, path = ''): SecretFinding[] {
  const findings: SecretFinding[] = [];
  walk(value, path, findings, 0);
  return findings;
}

// Deeper than any audit detail needs; it also stops a cyclic object before the stack does.
const MAX_DEPTH = 32;

function walk(value: unknown, path: string, findings: SecretFinding[], depth: number): void {
  if (typeof value === 'string') {
    const reason = secretValueReason(value);
    if (reason) findings.push({ path: path || '(value)', reason });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth >= MAX_DEPTH) {
    findings.push({ path: path || '(value)', reason: `nested deeper than ${MAX_DEPTH} levels` });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => walk(item, `${path}[${index}]`, findings, depth + 1));
    return;
  }
  for (const [key, member] of Object.entries(value)) {
    const memberPath = path ? `${path}.${key}` : key;
    const reason =
      member === undefined || member === null || member === REDACTED ? undefined : secretKeyReason(key);
    if (reason) findings.push({ path: memberPath, reason });
    else walk(member, memberPath, findings, depth + 1);
  }
}

/**
 * A copy of `value` with every secret-looking member replaced by `[REDACTED]`, for callers that
 * build audit details or log lines from SDK responses. Sinks do not redact: they refuse.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, 0) as T;
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return secretValueReason(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    copy[key] =
      member !== undefined && member !== null && secretKeyReason(key) ? REDACTED : redact(member, depth + 1);
  }
  return copy;
}

/**
 * Throws `AuditSecretRefusedError` if any member of the event looks like a secret. Used by every
 * sink's `append`, before anything of the batch is written.
 */
export function assertNoSecrets(event: AuditEvent): void {
  const findings = findSecrets(event);
  if (findings.length === 0) return;
  const list = findings.map((f) => `${f.path} (${f.reason})`).join('; ');
  throw new AuditSecretRefusedError(
    `audit event ${event.workflowId}/${event.runId} seq ${event.seq} (${event.action}) refused: it looks like it ` +
      `carries a secret: ${list}. Nothing of the batch was written. Remove the member from the event ` +
      `(audit a reference such as an ARN or an id instead), or rename it if it is not a secret.`,
    findings.map((f) => f.path),
    { workflowId: event.workflowId, runId: event.runId, seq: event.seq, action: event.action },
  );
}
