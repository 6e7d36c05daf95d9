/**
 * `audit verify`: walks every run's hash chain in write order (file lines, or table rows by id) and
 * reports the first place where the trail is not what the sink wrote, with the kind of damage.
 *
 * What a chain cannot show: events removed from the end of a run (or the end of the file), and a
 * trail rewritten wholesale with new hashes. Temporal's event history is the second, independent
 * record; anchoring the last hash somewhere else (a ticket, another system) closes the gap.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Pool } from 'pg';
import type { AuditConfig } from './config';
import { auditTableName, redactUrl } from './config';
import { AuditSinkNotReadableError, AuditSourceNotFoundError, AuditWriteError } from './errors';
import { DEFAULT_LOCK_OPTIONS, errorCode, withFileLock } from './file-lock';
import { hashEvent, parseChainedEvent, runKey } from './hash-chain';
import { readLines } from './jsonl-lines';
import { resolveAuditFile } from './jsonl-sink';
import { missingTableError, rollback, rowToEvent, SELECT_COLUMNS, type AuditRow } from './postgres-sink';

export type AuditBreakKind =
  'edited' | 'broken-link' | 'gap' | 'duplicate' | 'reordered' | 'truncated' | 'malformed';

export interface AuditLocation {
  /** The file as given, or `postgres table <name>`. */
  readonly source: string;
  /** 1-based line number in a JSON Lines file. */
  readonly line?: number;
  /** `id` of a row in the PostgreSQL table. */
  readonly rowId?: string;
}

export interface AuditBreak {
  readonly kind: AuditBreakKind;
  readonly location: AuditLocation;
  readonly workflowId?: string;
  readonly runId?: string;
  readonly seq?: number;
  /** The seq the chain needed at this place (gap, reordered, duplicate). */
  readonly expectedSeq?: number;
  /** The other event involved: the previous link, the first copy, or where the expected seq is. */
  readonly related?: AuditLocation;
  /** What is wrong, without the location (see `formatVerifyReport`). */
  readonly problem: string;
}

interface ReportCounts {
  readonly source: string;
  /** Events that passed every check (all of them when ok). */
  readonly events: number;
  readonly runs: number;
}

export type VerifyReport =
  | (ReportCounts & { readonly ok: true })
  | (ReportCounts & { readonly ok: false; readonly firstBreak: AuditBreak });

export type AuditTrailSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly table?: string }
  | { readonly kind: 'postgres'; readonly pool: Pool; readonly table?: string }
  | { readonly kind: 'events'; readonly events: Iterable<unknown>; readonly name?: string };

/** A record handed to the chain checker: a parsed line or row, or why it could not be parsed. */
interface TrailRecord {
  readonly location: AuditLocation;
  readonly value: unknown;
  /** Set when the text is not JSON (or not whole): the record is damaged whatever it says. */
  readonly damage?: {
    readonly kind: 'truncated' | 'malformed';
    readonly text: string;
    readonly problem: string;
  };
}

/** Verifies a trail wherever it is; `AuditConfig` works too (the stdout sink cannot be read). */
export async function verifyAuditTrail(source: AuditTrailSource | AuditConfig): Promise<VerifyReport> {
  switch (source.kind) {
    case 'file':
      return verifyAuditFile(source.path);
    case 'postgres':
      return verifyAuditPostgres('pool' in source ? source.pool : source.url, { table: source.table });
    case 'events':
      return verifyAuditEvents(source.events, source.name);
    case 'stdout':
      throw new AuditSinkNotReadableError(
        'the stdout audit sink keeps no trail to verify: collect the lines from your log pipeline into a file ' +
          'and run `keystore-maint audit verify --file <that file>`.',
      );
  }
}

/** In-memory events in write order (e.g. collected stdout lines); locations are 1-based positions. */
export function verifyAuditEvents(events: Iterable<unknown>, name = 'events'): VerifyReport {
  const records: TrailRecord[] = [];
  let line = 0;
  for (const value of events) records.push({ location: { source: name, line: ++line }, value });
  const checker = new ChainChecker(name);
  for (const record of records) checker.index(record);
  for (const record of records) {
    const broken = checker.check(record);
    if (broken) return checker.report(broken);
  }
  return checker.report(undefined);
}

/**
 * Verifies a JSON Lines file. `path` is reported as given, so pass what the operator typed. The
 * file is read up to its size at the start, taken under the writers' lock when the directory
 * allows it, so a batch being appended right then is not mistaken for a truncated line.
 */
export async function verifyAuditFile(path: string): Promise<VerifyReport> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') {
      throw new AuditSourceNotFoundError(
        `the audit file ${path} does not exist; check the path (KEYSTORE_MAINT_AUDIT_FILE, default ` +
          `audit/keystore-maint.jsonl relative to the directory the worker runs in).`,
      );
    }
    throw err;
  }
  try {
    const size = await settledSize(path, file);
    const records = (): AsyncGenerator<TrailRecord> => fileRecords(file, size, path);
    const checker = new ChainChecker(path);
    for await (const record of records()) checker.index(record);
    for await (const record of records()) {
      const broken = checker.check(record);
      if (broken) return checker.report(broken);
    }
    return checker.report(undefined);
  } finally {
    await file.close();
  }
}

async function settledSize(path: string, file: FileHandle): Promise<number> {
  try {
    const lockPath = `${await resolveAuditFile(path)}.lock`;
    return await withFileLock(lockPath, DEFAULT_LOCK_OPTIONS, async () => (await file.stat()).size);
  } catch (err) {
    // A read-only copy (an archive, a mounted backup) cannot be locked and has no writers either.
    if (err instanceof AuditWriteError) return (await file.stat()).size;
    throw err;
  }
}

async function* fileRecords(file: FileHandle, size: number, source: string): AsyncGenerator<TrailRecord> {
  let line = 0;
  let pending: { text: string; line: number } | undefined;
  // One line of look-ahead: whether a line is the last one decides between truncated and malformed.
  const toRecord = (text: string, number: number, last: boolean, complete: boolean): TrailRecord => {
    const location = { source, line: number };
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (last) {
        return {
          location,
          value: undefined,
          damage: { kind: 'truncated', text, problem: `not complete JSON (${why})` },
        };
      }
      const problem = text.trim() === '' ? 'an empty line' : `not JSON (${why})`;
      return { location, value: undefined, damage: { kind: 'malformed', text, problem } };
    }
    if (!complete) {
      return {
        location,
        value,
        damage: {
          kind: 'truncated',
          text,
          problem: 'the line ends without a newline (the file was cut after it)',
        },
      };
    }
    return { location, value };
  };
  for await (const raw of readLines(file, 0, size)) {
    line++;
    if (pending) yield toRecord(pending.text, pending.line, false, true);
    if (!raw.complete) {
      yield toRecord(raw.text, line, true, false);
      return;
    }
    pending = { text: raw.text, line };
  }
  if (pending) yield toRecord(pending.text, pending.line, true, true);
}

/**
 * Verifies the PostgreSQL table in one REPEATABLE READ snapshot (appends going on meanwhile are
 * not half-seen), in pages, in `id` order.
 */
export async function verifyAuditPostgres(
  target: string | Pool,
  options: { readonly table?: string | undefined } = {},
): Promise<VerifyReport> {
  const table = auditTableName(options.table);
  const source = `postgres table ${table}`;
  const pool =
    typeof target === 'string'
      ? new Pool({ connectionString: target, max: 1, application_name: 'keystore-maint audit verify' })
      : target;
  const where = typeof target === 'string' ? redactUrl(target) : 'the given database';
  try {
    return await verifyInSnapshot(pool, table, source, where);
  } finally {
    if (typeof target === 'string') await pool.end();
  }
}

async function verifyInSnapshot(
  pool: Pool,
  table: string,
  source: string,
  where: string,
): Promise<VerifyReport> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const pages = async function* (
      columns: string,
    ): AsyncGenerator<Record<string, unknown> & { id: string }> {
      // The smallest bigint: rows given a zero or negative id by hand are checked too.
      let after = '-9223372036854775808';
      for (;;) {
        let page;
        try {
          page = await client.query<Record<string, unknown> & { id: string }>(
            `SELECT ${columns} FROM ${table} AS t WHERE t.id > $1::bigint ORDER BY t.id LIMIT 2000`,
            [after],
          );
        } catch (err) {
          throw missingTableError(err, table, where);
        }
        for (const row of page.rows) yield row;
        const last = page.rows[page.rows.length - 1];
        if (!last) return;
        after = last.id;
      }
    };
    const checker = new ChainChecker(source);
    for await (const row of pages('id::text AS id, workflow_id, run_id, seq')) {
      checker.index({
        location: { source, rowId: row.id },
        value: { workflowId: row.workflow_id, runId: row.run_id, seq: row.seq },
      });
    }
    for await (const row of pages(SELECT_COLUMNS)) {
      const found = checker.check({
        location: { source, rowId: row.id },
        value: rowToEvent(row as unknown as AuditRow),
      });
      if (found) {
        await client.query('COMMIT');
        return checker.report(found);
      }
    }
    await client.query('COMMIT');
    return checker.report(undefined);
  } catch (err) {
    broken = await rollback(client);
    throw err;
  } finally {
    client.release(broken);
  }
}

interface RunState {
  lastSeq: number;
  lastHash: string;
  lastLocation: AuditLocation | undefined;
  readonly seen: Map<number, AuditLocation>;
}

/** The chain rules, shared by every source; `index` sees all records first, then `check` each in order. */
class ChainChecker {
  /** Per run: where each seq first appears, for telling a moved event from a missing one. */
  private readonly firstPlace = new Map<string, Map<number, AuditLocation>>();
  private readonly runs = new Map<string, RunState>();
  private passed = 0;

  constructor(private readonly source: string) {}

  index(record: TrailRecord): void {
    if (record.damage) return;
    const v = record.value as Partial<Record<string, unknown>> | null | undefined;
    if (!v || typeof v !== 'object') return;
    if (typeof v.workflowId !== 'string' || typeof v.runId !== 'string' || typeof v.seq !== 'number') return;
    const key = runKey(v.workflowId, v.runId);
    let places = this.firstPlace.get(key);
    if (!places) this.firstPlace.set(key, (places = new Map<number, AuditLocation>()));
    if (!places.has(v.seq)) places.set(v.seq, record.location);
  }

  check(record: TrailRecord): AuditBreak | undefined {
    const { location } = record;
    if (record.damage) {
      return {
        kind: record.damage.kind,
        location,
        ...guessIdentity(record.damage.text),
        problem: record.damage.problem,
      };
    }
    const parsed = parseChainedEvent(record.value);
    if ('problem' in parsed) {
      return {
        kind: 'malformed',
        location,
        ...identityOf(record.value),
        problem: `not a valid audit event: ${parsed.problem}`,
      };
    }
    const event = parsed.event;
    const key = runKey(event.workflowId, event.runId);
    let run = this.runs.get(key);
    if (!run) {
      run = { lastSeq: 0, lastHash: '', lastLocation: undefined, seen: new Map() };
      this.runs.set(key, run);
    }
    const at = { location, workflowId: event.workflowId, runId: event.runId, seq: event.seq };
    const expected = run.lastSeq + 1;
    if (event.seq < expected) {
      const first = run.seen.get(event.seq);
      return {
        kind: 'duplicate',
        ...at,
        expectedSeq: expected,
        ...(first ? { related: first } : {}),
        problem: `seq ${event.seq} appears a second time${first ? ` (first at ${place(first)})` : ''}: a line was duplicated or replayed`,
      };
    }
    if (event.seq > expected) {
      const later = this.firstPlace.get(key)?.get(expected);
      if (later) {
        return {
          kind: 'reordered',
          ...at,
          expectedSeq: expected,
          related: later,
          problem: `found where seq ${expected} belongs; seq ${expected} comes later, at ${place(later)}: events were moved or swapped`,
        };
      }
      const missing =
        expected === event.seq - 1 ? `seq ${expected} is` : `seq ${expected}..${event.seq - 1} are`;
      return {
        kind: 'gap',
        ...at,
        expectedSeq: expected,
        problem: `expected seq ${expected} before it, but ${missing} missing (deleted, or never written)`,
      };
    }
    if (hashEvent(event) !== event.hash) {
      return { kind: 'edited', ...at, problem: 'hash mismatch (the event was edited after it was written)' };
    }
    if (event.prevHash !== run.lastHash) {
      const previous = run.lastLocation;
      return {
        kind: 'broken-link',
        ...at,
        ...(previous ? { related: previous } : {}),
        problem: previous
          ? `prevHash does not match the hash of seq ${run.lastSeq} at ${place(previous)} (one of them was rewritten ` +
            `together with its hash, or an event was put in between)`
          : `seq 1 must have an empty prevHash (the run's first events were removed and the rest renumbered, or ` +
            `the event was rewritten together with its hash)`,
      };
    }
    run.lastSeq = event.seq;
    run.lastHash = event.hash;
    run.lastLocation = location;
    run.seen.set(event.seq, location);
    this.passed++;
    return undefined;
  }

  report(firstBreak: AuditBreak | undefined): VerifyReport {
    const counts = { source: this.source, events: this.passed, runs: this.runs.size };
    return firstBreak ? { ...counts, ok: false, firstBreak } : { ...counts, ok: true };
  }
}

function identityOf(value: unknown): { workflowId?: string; runId?: string; seq?: number } {
  const v = value as Partial<Record<string, unknown>> | null | undefined;
  if (!v || typeof v !== 'object') return {};
  return {
    ...(typeof v.workflowId === 'string' ? { workflowId: v.workflowId } : {}),
    ...(typeof v.runId === 'string' ? { runId: v.runId } : {}),
    ...(typeof v.seq === 'number' ? { seq: v.seq } : {}),
  };
}

/** Best effort on text that is not JSON: a cut line usually still names its run and seq. */
function guessIdentity(text: string): { workflowId?: string; runId?: string; seq?: number } {
  const str = (name: string): string | undefined => {
    const match = new RegExp(`"${name}":"((?:[^"\\\\]|\\\\.)*)"`).exec(text);
    if (!match?.[1]) return undefined;
    try {
      return JSON.parse(`"${match[1]}"`) as string;
    } catch {
      return undefined;
    }
  };
  const seq = /"seq":(\d+)/.exec(text)?.[1];
  const workflowId = str('workflowId');
  const runId = str('runId');
  return {
    ...(workflowId ? { workflowId } : {}),
    ...(runId ? { runId } : {}),
    ...(seq ? { seq: Number(seq) } : {}),
  };
}

function place(location: AuditLocation): string {
  if (location.line !== undefined) return `line ${location.line}`;
  if (location.rowId !== undefined) return `row id ${location.rowId}`;
  return location.source;
}

/** Where, in full: `audit/keystore-maint.jsonl line 17`, `postgres table keystore_maint_audit row id 9`. */
export function formatLocation(location: AuditLocation): string {
  return location.line === undefined && location.rowId === undefined
    ? location.source
    : `${location.source} ${place(location)}`;
}

/**
 * One message for humans (the CLI prints it and exits non-zero when not ok), e.g.
 * `audit/keystore-maint.jsonl line 17: run keystore-maint/us-east-1/cks-…/<runId> seq 5: hash
 * mismatch (the event was edited after it was written)`.
 */
export function formatVerifyReport(report: VerifyReport): string {
  if (report.ok) {
    return `${report.source}: OK: ${report.events} event(s) in ${report.runs} run(s), every hash chain intact.`;
  }
  const b = report.firstBreak;
  const run =
    b.workflowId !== undefined && b.runId !== undefined ? `run ${b.workflowId}/${b.runId}` : undefined;
  const seq = b.seq !== undefined ? `seq ${b.seq}` : undefined;
  const who = [run, seq].filter(Boolean).join(' ');
  return `${formatLocation(b.location)}: ${who ? `${who}: ` : ''}${b.problem} [${b.kind}]`;
}
