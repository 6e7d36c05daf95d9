/**
 * The hash chain: one per run (`workflowId` + `runId`). Each stored event carries the previous
 * event's `hash` as `prevHash` ('' for seq 1) and its own `hash`, the SHA-256 of its canonical
 * JSON without `hash`. Editing, deleting, inserting or reordering a stored event therefore breaks
 * the chain where it happened, and `verify` can say where.
 *
 * This module is the part every sink shares: checking and normalizing what `append` receives,
 * and chaining a run's new events onto what the sink already holds.
 */
import { createHash } from 'node:crypto';
import {
  AUDIT_SCHEMA_VERSION,
  type AuditEvent,
  type AuditOutcome,
  type ChainedAuditEvent,
} from '../domain/audit-event';
import type { AuditKey } from './audit-key';
import { canonicalJson } from './canonical-json';
import {
  AuditEventInvalidError,
  AuditSequenceConflictError,
  AuditSequenceGapError,
  type RefusedEventRef,
} from './errors';
import { assertNoSecrets } from './secrets';

export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['ok', 'failed', 'refused', 'skipped', 'info'];

/** Members a stored record may have besides the event's. */
export const RECORD_FIELDS = new Set(['prevHash', 'sinkPrev', 'keyId', 'hash']);

const EVENT_FIELDS = new Set([
  'schemaVersion',
  'workflowId',
  'runId',
  'seq',
  'at',
  'phase',
  'action',
  'actor',
  'detail',
  'outcome',
  'error',
]);

/** What a sink knows about the end of one run's chain. */
export interface ChainTail {
  readonly lastSeq: number;
  readonly lastHash: string;
}

/** A map key for one run; JSON so that no workflow id or run id can collide with another pair. */
export function runKey(workflowId: string, runId: string): string {
  return JSON.stringify([workflowId, runId]);
}

/**
 * The record's `hash`: over the canonical JSON of the record without `hash`, an HMAC-SHA256 under
 * the audit key when the record names one (`keyId`), else a SHA-256. Returns undefined for a keyed
 * record when `key` is missing or is another key (the verifier says which key it needs).
 */
export function hashEvent(event: object, key?: AuditKey): string | undefined {
  const rest: Record<string, unknown> = { ...event };
  delete rest.hash;
  const text = canonicalJson(rest);
  const keyId = (event as { keyId?: unknown }).keyId;
  if (keyId === undefined) return createHash('sha256').update(text, 'utf8').digest('hex');
  if (!key || key.id !== keyId) return undefined;
  return key.mac(text);
}

/** Where a sink's records link to each other (`sinkPrev`), and the key that seals them. */
export interface SinkLink {
  /** `hash` of the last record in the sink; '' when it is empty. Advanced as records are chained. */
  lastHash: string;
  readonly key?: AuditKey | undefined;
}

/** The members of a stored record in the order a line spells them: who and what first. */
const LINE_ORDER = [
  'schemaVersion',
  'workflowId',
  'runId',
  'seq',
  'at',
  'phase',
  'action',
  'actor',
  'outcome',
  'detail',
  'error',
  'prevHash',
  'sinkPrev',
  'keyId',
  'hash',
] as const;

/**
 * The one spelling of a stored record as a file line: the members in `LINE_ORDER` (unknown
 * members last, sorted), nested objects with sorted keys, no whitespace. `verify` refuses any
 * other spelling of the same record (duplicate keys, spacing, escapes, order): it was not written
 * by the sink. Identity comes first so a line cut short still says whose it was.
 */
export function recordLine(record: object): string {
  const value = record as Record<string, unknown>;
  const known = new Set<string>(LINE_ORDER);
  const keys = [
    ...LINE_ORDER.filter((k) => value[k] !== undefined),
    ...Object.keys(value)
      .filter((k) => !known.has(k) && value[k] !== undefined)
      .sort(),
  ];
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

function sealOf(record: object, key: AuditKey | undefined): string {
  const text = canonicalJson(record);
  return key ? key.mac(text) : createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The events of one run in one append: normalized, in seq order, without repeats. */
export interface RunBatch {
  readonly workflowId: string;
  readonly runId: string;
  readonly events: readonly AuditEvent[];
}

/**
 * Checks and normalizes a batch before any sink state is touched: every event valid and free of
 * secrets, grouped per run, sorted by seq, exact repeats dropped, no holes inside the batch.
 * Throws (and so writes nothing) if any event of the batch is refused.
 */
export function prepareBatch(events: readonly AuditEvent[]): RunBatch[] {
  const runs = new Map<string, { workflowId: string; runId: string; events: AuditEvent[] }>();
  for (const raw of events) {
    const event = normalizeEvent(raw);
    const key = runKey(event.workflowId, event.runId);
    let run = runs.get(key);
    if (!run) {
      run = { workflowId: event.workflowId, runId: event.runId, events: [] };
      runs.set(key, run);
    }
    run.events.push(event);
  }
  const batches: RunBatch[] = [];
  for (const run of runs.values()) {
    const sorted = [...run.events].sort((a, b) => a.seq - b.seq);
    const unique: AuditEvent[] = [];
    for (const event of sorted) {
      const previous = unique[unique.length - 1];
      if (previous && previous.seq === event.seq) {
        if (canonicalJson(previous) !== canonicalJson(event)) {
          throw new AuditSequenceConflictError(
            `audit batch refused: it holds two different events for run ${run.workflowId}/${run.runId} seq ` +
              `${event.seq} (actions ${previous.action} and ${event.action}). Each seq must name exactly one ` +
              `event; this is a bug in the writer.`,
          );
        }
        continue;
      }
      if (previous && event.seq !== previous.seq + 1) {
        throw new AuditSequenceGapError(run.workflowId, run.runId, previous.seq + 1, event.seq, undefined);
      }
      unique.push(event);
    }
    batches.push({ workflowId: run.workflowId, runId: run.runId, events: unique });
  }
  return batches;
}

/**
 * Chains a run's batch onto the stored tail: events at or below the stored last seq are already
 * there (a retried append) and are skipped; the first new one must be exactly the next seq.
 */
export function chainBatch(
  batch: RunBatch,
  tail: ChainTail | undefined,
  where: string,
  /** Omitted by a sink that does not link its records (`sinkPrev`) or seal them with a key. */
  link?: SinkLink,
): ChainedAuditEvent[] {
  const lastSeq = tail?.lastSeq ?? 0;
  let prevHash = tail?.lastHash ?? '';
  const fresh = batch.events.filter((event) => event.seq > lastSeq);
  const first = fresh[0];
  if (first && first.seq !== lastSeq + 1) {
    throw new AuditSequenceGapError(batch.workflowId, batch.runId, lastSeq + 1, first.seq, where);
  }
  return fresh.map((event) => {
    const record = {
      ...event,
      prevHash,
      ...(link ? { sinkPrev: link.lastHash } : {}),
      ...(link?.key ? { keyId: link.key.id } : {}),
    };
    const chained: ChainedAuditEvent = { ...record, hash: sealOf(record, link?.key) };
    prevHash = chained.hash;
    if (link) link.lastHash = chained.hash;
    return chained;
  });
}

/**
 * A valid event in the one shape every sink stores, so that the hash computed here is the hash a
 * reader recomputes from a file line or a database row: known members only, `at` as
 * `Date#toISOString()` (what a timestamptz column gives back), detail and error as plain JSON.
 */
export function normalizeEvent(raw: AuditEvent): AuditEvent {
  function fail(problem: string): never {
    throw new AuditEventInvalidError(
      `audit event ${describeRaw(raw)} refused: ${problem}. Nothing of the batch was written; fix the writer.`,
      identify(raw),
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('it is not an object');
  for (const key of Object.keys(raw)) {
    if (!EVENT_FIELDS.has(key)) {
      fail(`unknown field "${key}" (schema version ${AUDIT_SCHEMA_VERSION} has no such field)`);
    }
  }
  if (
    !Number.isInteger(raw.schemaVersion) ||
    raw.schemaVersion < 1 ||
    raw.schemaVersion > AUDIT_SCHEMA_VERSION
  ) {
    fail(
      `schemaVersion ${String(raw.schemaVersion)} is not one this writer knows (1..${AUDIT_SCHEMA_VERSION})`,
    );
  }
  for (const field of ['workflowId', 'runId', 'action', 'actor'] as const) {
    if (typeof raw[field] !== 'string' || raw[field].trim() === '')
      fail(`${field} must be a non-empty string`);
  }
  if (typeof raw.phase !== 'string') fail('phase must be a string');
  if (!Number.isSafeInteger(raw.seq) || raw.seq < 1) fail(`seq ${String(raw.seq)} is not an integer >= 1`);
  const at = typeof raw.at === 'string' ? new Date(raw.at) : undefined;
  if (!at || Number.isNaN(at.getTime())) return fail(`at ${JSON.stringify(raw.at)} is not an ISO-8601 time`);
  if (!AUDIT_OUTCOMES.includes(raw.outcome)) {
    fail(`outcome ${JSON.stringify(raw.outcome)} is not one of ${AUDIT_OUTCOMES.join(', ')}`);
  }
  const detail = plainJson(raw.detail, 'detail', fail);
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail))
    fail('detail must be an object');
  let error: AuditEvent['error'];
  if (raw.error !== undefined && raw.error !== null) {
    const e = plainJson(raw.error, 'error', fail) as { type?: unknown; message?: unknown } | null;
    if (typeof e?.type !== 'string' || typeof e.message !== 'string') {
      return fail('error must be { type: string, message: string }');
    }
    error = { type: e.type, message: e.message };
  }
  const event: AuditEvent = {
    schemaVersion: raw.schemaVersion,
    workflowId: raw.workflowId,
    runId: raw.runId,
    seq: raw.seq,
    at: at.toISOString(),
    phase: raw.phase,
    action: raw.action,
    actor: raw.actor,
    outcome: raw.outcome,
    detail: detail as AuditEvent['detail'],
    ...(error ? { error } : {}),
  };
  if (containsNul(event)) {
    fail(
      'a string contains a NUL character (\\u0000), which PostgreSQL cannot store; the sinks refuse it everywhere',
    );
  }
  if (containsLoneSurrogate(event)) {
    fail(
      'a string contains an unpaired UTF-16 surrogate, which no sink stores faithfully (it would come back as U+FFFD and no longer match its hash)',
    );
  }
  assertNoSecrets(event);
  return event;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function containsLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(containsLoneSurrogate);
  return Object.entries(value).some(
    ([key, member]) => LONE_SURROGATE.test(key) || containsLoneSurrogate(member),
  );
}

function identify(raw: unknown): RefusedEventRef | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.workflowId !== 'string' || typeof r.runId !== 'string' || !Number.isSafeInteger(r.seq)) {
    return undefined;
  }
  return {
    workflowId: r.workflowId,
    runId: r.runId,
    seq: r.seq as number,
    action: typeof r.action === 'string' ? r.action : '?',
  };
}

/** The JSON value a round trip through JSON text gives, which is what any reader will see. */
function plainJson(value: unknown, field: string, fail: (problem: string) => never): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    fail(`${field} cannot be written as JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (text === undefined) return fail(`${field} cannot be written as JSON`);
  return JSON.parse(text) as unknown;
}

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(containsNul);
  return Object.entries(value).some(([key, member]) => key.includes('\u0000') || containsNul(member));
}

function describeRaw(raw: unknown): string {
  if (raw === null || typeof raw !== 'object') return '(not an object)';
  const r = raw as Record<string, unknown>;
  const part = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '?');
  return `${part(r.workflowId)}/${part(r.runId)} seq ${part(r.seq)}`;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Reads a stored event (a parsed file line or a row turned into an object) for verify and export:
 * the event as stored, every member kept (an added member must change the hash), or the reason it
 * is not a readable event.
 */
export function parseChainedEvent(value: unknown): { event: ChainedAuditEvent } | { problem: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: 'not a JSON object' };
  }
  const v = value as Record<string, unknown>;
  const version = v.schemaVersion;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return { problem: 'schemaVersion is missing or not a positive integer' };
  }
  if (version > AUDIT_SCHEMA_VERSION) {
    return {
      problem: `schema version ${version} is newer than this keystore-maint knows (${AUDIT_SCHEMA_VERSION}); upgrade keystore-maint to read it`,
    };
  }
  for (const field of [
    'workflowId',
    'runId',
    'at',
    'phase',
    'action',
    'actor',
    'outcome',
    'prevHash',
    'hash',
  ]) {
    if (typeof v[field] !== 'string') return { problem: `field "${field}" is missing or not a string` };
  }
  if (typeof v.seq !== 'number' || !Number.isSafeInteger(v.seq) || v.seq < 1) {
    return { problem: 'field "seq" is missing or not an integer >= 1' };
  }
  if (v.detail === null || typeof v.detail !== 'object' || Array.isArray(v.detail)) {
    return { problem: 'field "detail" is missing or not an object' };
  }
  if (v.error !== undefined) {
    const e: unknown = v.error;
    const { type, message } = (e ?? {}) as Partial<Record<string, unknown>>;
    if (typeof e !== 'object' || typeof type !== 'string' || typeof message !== 'string') {
      return { problem: 'field "error" is not { type, message }' };
    }
  }
  if (!SHA256_HEX.test(v.hash as string)) return { problem: 'field "hash" is not a SHA-256 hex digest' };
  if (v.prevHash !== '' && !SHA256_HEX.test(v.prevHash as string)) {
    return { problem: 'field "prevHash" is neither empty nor a SHA-256 hex digest' };
  }
  if (
    v.sinkPrev !== undefined &&
    (typeof v.sinkPrev !== 'string' || (v.sinkPrev !== '' && !SHA256_HEX.test(v.sinkPrev)))
  ) {
    return { problem: 'field "sinkPrev" is neither empty nor a SHA-256 hex digest' };
  }
  if (v.keyId !== undefined && (typeof v.keyId !== 'string' || !/^k-[0-9a-f]{16}$/.test(v.keyId))) {
    return { problem: 'field "keyId" is not an audit key id (k- and 16 hex digits)' };
  }
  return { event: v as unknown as ChainedAuditEvent };
}
