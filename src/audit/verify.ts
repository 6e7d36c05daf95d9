/**
 * `audit verify`: walks the trail in write order (file lines, or table rows by id) and reports the
 * first place where it is not what the sink wrote, with the kind of damage. docs/audit.md lists
 * exactly what is and is not detected; each claim has a test (test/audit/keyed-chain.test.ts).
 *
 * - Every record is checked against its run's chain (`prevHash`) and against the record before it
 *   in the sink (`sinkPrev`): an edited, deleted, inserted, duplicated or moved event, and a whole
 *   run deleted from the middle, are found.
 * - With the audit key, every seal (`hash`) is an HMAC under it: a writer without the key cannot
 *   forge a chain that passes, not even by rewriting the whole trail. A record without a seal
 *   (written before the key) is refused unless `allowUnkeyed`.
 * - Signed checkpoints (`<file>.checkpoints`, the table `<table>_checkpoints`) find a trail cut off
 *   at its end, up to the last one.
 * - A file line must be exactly what the sink writes (canonical JSON): a second spelling of a
 *   record — duplicate keys, spacing, escapes — is refused; a line over 1 MiB is refused without
 *   being read into memory; the file is streamed.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Pool, type PoolClient } from 'pg';
import type { AuditConfig } from './config';
import { auditTableName, redactUrl } from './config';
import type { AuditKey } from './audit-key';
import { checkpointFileOf, checkpointProblem, checkpointValues, type Checkpoint } from './checkpoints';
import { AuditError, AuditSinkNotReadableError, AuditSourceNotFoundError, AuditWriteError } from './errors';
import { DEFAULT_LOCK_OPTIONS, errorCode, withFileLock } from './file-lock';
import { hashEvent, parseChainedEvent, recordLine, runKey } from './hash-chain';
import { MAX_AUDIT_LINE_BYTES, readLines } from './jsonl-lines';
import { resolveAuditFile } from './jsonl-sink';
import {
  checkpointTableOf,
  CHECKPOINT_COLUMNS,
  hasLinkColumns,
  missingTableError,
  rollback,
  rowToCheckpoint,
  rowToEvent,
  selectColumns,
  type AuditRow,
  type CheckpointRow,
} from './postgres-sink';

export type AuditBreakKind =
  | 'edited'
  | 'broken-link'
  | 'gap'
  | 'duplicate'
  | 'reordered'
  | 'truncated'
  | 'malformed'
  | 'noncanonical'
  | 'unkeyed'
  | 'forged';

/** Options of every verify function. */
export interface VerifyOptions {
  /** The audit key: checks every seal, and the checkpoints. Required for a keyed trail. */
  readonly key?: AuditKey | undefined;
  /** Accept records without a seal (written before a key was configured); their limits apply. */
  readonly allowUnkeyed?: boolean | undefined;
  /**
   * The events are some runs taken out of a trail (an export): check each run's chain only — not
   * the links between records of the sink, and seals only when the key is given.
   */
  readonly runChainsOnly?: boolean | undefined;
}

/** The trail is sealed with an audit key and none was given: nothing can be said about it. */
export class AuditKeyNeededError extends AuditError {
  constructor(
    readonly keyId: string,
    where: string,
  ) {
    super(
      'AuditKeyNeeded',
      `${where} is sealed with audit key ${keyId}; give that key to verify it (KEYSTORE_MAINT_AUDIT_KEY_FILE, or --key-file)`,
    );
  }
}

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
  /** Records sealed with the audit key (the rest are plain SHA-256). */
  readonly keyed: number;
  /** The last checkpoint checked (keyed trails), for comparing with a copy kept elsewhere. */
  readonly lastCheckpoint?: { readonly at: string; readonly records: number; readonly head: string };
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
  /** The line as stored (files): it must be exactly the sink's spelling of `value`. */
  readonly text?: string;
  /** Set when the text is not JSON (or not whole): the record is damaged whatever it says. */
  readonly damage?: {
    readonly kind: 'truncated' | 'malformed';
    readonly text: string;
    readonly problem: string;
  };
}

/** Verifies a trail wherever it is; `AuditConfig` works too (the stdout sink cannot be read). */
export async function verifyAuditTrail(
  source: AuditTrailSource | AuditConfig,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  switch (source.kind) {
    case 'file':
      return verifyAuditFile(source.path, options);
    case 'postgres':
      return verifyAuditPostgres('pool' in source ? source.pool : source.url, {
        ...options,
        table: source.table,
      });
    case 'events':
      return verifyAuditEvents(source.events, source.name, options);
    case 'stdout':
      throw new AuditSinkNotReadableError(
        'the stdout audit sink keeps no trail to verify: collect the lines from your log pipeline into a file ' +
          'and run `keystore-maint audit verify --file <that file>`.',
      );
  }
}

/** In-memory events in write order (e.g. collected stdout lines); locations are 1-based positions. */
export function verifyAuditEvents(
  events: Iterable<unknown>,
  name = 'events',
  options: VerifyOptions = {},
): VerifyReport {
  const records: TrailRecord[] = [];
  let line = 0;
  for (const value of events) records.push({ location: { source: name, line: ++line }, value });
  const checker = new ChainChecker(name, options);
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
export async function verifyAuditFile(path: string, options: VerifyOptions = {}): Promise<VerifyReport> {
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
    const checkpointFile = checkpointFileOf(path);
    const checkpoints = options.key
      ? await checkedCheckpoints(fileCheckpoints(checkpointFile), options.key)
      : undefined;
    const checker = new ChainChecker(path, options, checkpoints?.positions);
    for await (const record of records()) checker.index(record);
    for await (const record of records()) {
      const broken = checker.check(record);
      if (broken) return checker.report(broken);
    }
    if (checkpoints) {
      const broken = checker.checkCheckpoints(checkpoints, {
        location: { source: checkpointFile },
        name: checkpointFile,
      });
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
    return { location, value, text };
  };
  for await (const raw of readLines(file, 0, size)) {
    line++;
    if (pending) yield toRecord(pending.text, pending.line, false, true);
    if (raw.tooLong !== undefined) {
      pending = undefined;
      yield {
        location: { source, line },
        value: undefined,
        damage: {
          kind: 'malformed',
          text: '',
          problem: `the line is ${raw.tooLong} bytes, over the ${MAX_AUDIT_LINE_BYTES}-byte cap no audit event comes near (not read into memory): damage, or a line planted to exhaust a verifier`,
        },
      };
      if (!raw.complete) return;
      continue;
    }
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
 * not half-seen), in pages, in `id` order; with the key, against the signed checkpoints in
 * `<table>_checkpoints`, read in the same snapshot.
 */
export async function verifyAuditPostgres(
  target: string | Pool,
  options: VerifyOptions & { readonly table?: string | undefined } = {},
): Promise<VerifyReport> {
  const table = auditTableName(options.table);
  const source = `postgres table ${table}`;
  const pool =
    typeof target === 'string'
      ? new Pool({ connectionString: target, max: 1, application_name: 'keystore-maint audit verify' })
      : target;
  const where = typeof target === 'string' ? redactUrl(target) : 'the given database';
  try {
    return await verifyInSnapshot(pool, table, source, where, options);
  } finally {
    if (typeof target === 'string') await pool.end();
  }
}

async function verifyInSnapshot(
  pool: Pool,
  table: string,
  source: string,
  where: string,
  options: VerifyOptions,
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
    // A table not yet migrated (no sink_prev, key_id) still verifies, as rows without links.
    const linked = await hasLinkColumns(client, table);
    const checkpointTable = checkpointTableOf(table);
    const checkpointSource = `postgres table ${checkpointTable}`;
    const checkpoints = options.key
      ? await checkedCheckpoints(
          await tableCheckpoints(client, checkpointTable, checkpointSource),
          options.key,
        )
      : undefined;
    const checker = new ChainChecker(source, options, checkpoints?.positions);
    for await (const row of pages('id::text AS id, workflow_id, run_id, seq')) {
      checker.index({
        location: { source, rowId: row.id },
        value: { workflowId: row.workflow_id, runId: row.run_id, seq: row.seq },
      });
    }
    for await (const row of pages(selectColumns(linked))) {
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
    if (checkpoints) {
      const found = checker.checkCheckpoints(checkpoints, {
        location: { source: checkpointSource },
        name: `the checkpoints table ${checkpointTable}`,
      });
      if (found) return checker.report(found);
    }
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

/** One stored checkpoint as read (a parsed line or a row), with where it is. */
interface StoredCheckpoint {
  readonly value: unknown;
  readonly location: AuditLocation;
  /** How messages name it: `checkpoint 3` (its line), `checkpoint row id 17`. */
  readonly label: string;
}

/** Said once, first, when the checkpoints file or table exists (it may hold none). */
const PRESENT = 'present';

/** The checkpoints of a keyed trail, checked for their seals, and the positions they name. */
interface CheckedCheckpoints {
  /** The first checkpoint that is not sound, or none. */
  readonly problem?: { readonly location: AuditLocation; readonly label: string; readonly problem: string };
  readonly last?: Checkpoint;
  readonly all: readonly {
    readonly location: AuditLocation;
    readonly label: string;
    readonly checkpoint: Checkpoint;
  }[];
  /** Record positions (1-based) a checkpoint names. */
  readonly positions: ReadonlySet<number>;
  /** Whether the checkpoints file or table exists. */
  readonly present: boolean;
}

/** The lines of `<file>.checkpoints`, after PRESENT when the file exists. */
async function* fileCheckpoints(path: string): AsyncGenerator<StoredCheckpoint | typeof PRESENT> {
  let line = 0;
  for await (const value of checkpointValues(path)) {
    if (line === 0) yield PRESENT;
    line++;
    yield { value, location: { source: path, line }, label: `checkpoint ${line}` };
  }
  // An empty file yields no line, but it exists.
  if (line === 0 && (await fileExists(path))) yield PRESENT;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await (await open(path, 'r')).close();
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** The rows of `<table>_checkpoints` in id order, after PRESENT when the table exists. */
async function tableCheckpoints(
  client: PoolClient,
  table: string,
  source: string,
): Promise<(StoredCheckpoint | typeof PRESENT)[]> {
  const found = await client.query<{ present: boolean }>(
    'SELECT to_regclass($1::text) IS NOT NULL AS present',
    [table],
  );
  if (found.rows[0]?.present !== true) return [];
  const rows = await client.query<CheckpointRow>(
    `SELECT ${CHECKPOINT_COLUMNS} FROM ${table} AS c ORDER BY c.id`,
  );
  return [
    PRESENT,
    ...rows.rows.map((row) => ({
      value: rowToCheckpoint(row),
      location: { source, rowId: row.id },
      label: `checkpoint row id ${row.id}`,
    })),
  ];
}

async function checkedCheckpoints(
  stored: AsyncIterable<StoredCheckpoint | typeof PRESENT> | Iterable<StoredCheckpoint | typeof PRESENT>,
  key: AuditKey,
): Promise<CheckedCheckpoints> {
  const all: { location: AuditLocation; label: string; checkpoint: Checkpoint }[] = [];
  const positions = new Set<number>();
  let previousMac = '';
  let present = false;
  for await (const entry of stored) {
    if (entry === PRESENT) {
      present = true;
      continue;
    }
    const { location, label, value } = entry;
    const problem = checkpointProblem(value, key, previousMac);
    if (problem) return { problem: { location, label, problem }, all, positions, present };
    const checkpoint = value as Checkpoint;
    const previous = all[all.length - 1]?.checkpoint;
    if (previous && checkpoint.records < previous.records) {
      return {
        problem: {
          location,
          label,
          problem: `it covers ${checkpoint.records} records, fewer than the one before it (${previous.records})`,
        },
        all,
        positions,
        present,
      };
    }
    all.push({ location, label, checkpoint });
    positions.add(checkpoint.records);
    previousMac = checkpoint.mac;
  }
  const last = all[all.length - 1]?.checkpoint;
  return { all, positions, present, ...(last ? { last } : {}) };
}

/** The chain rules, shared by every source; `index` sees all records first, then `check` each in order. */
class ChainChecker {
  /** Per run: where each seq first appears, for telling a moved event from a missing one. */
  private readonly firstPlace = new Map<string, Map<number, AuditLocation>>();
  private readonly runs = new Map<string, RunState>();
  private passed = 0;
  private keyed = 0;
  /** The record before the current one in the sink (any run), for `sinkPrev`. */
  private previous: { hash: string; location: AuditLocation } | undefined;
  private position = 0;
  /** `hash` at each position a checkpoint names. */
  private readonly atPosition = new Map<number, { hash: string; location: AuditLocation }>();
  private lastCheckpoint: Checkpoint | undefined;

  constructor(
    private readonly source: string,
    private readonly options: VerifyOptions = {},
    private readonly positions: ReadonlySet<number> = new Set(),
  ) {}

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
    this.position++;
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
    const at = { location, workflowId: event.workflowId, runId: event.runId, seq: event.seq };
    if (record.text !== undefined) {
      // The sink writes canonical JSON (before sinkPrev existed: JSON.stringify); any other spelling
      // of the same record — duplicate keys, spacing, escapes — was not written by it.
      const spelled = event.sinkPrev === undefined ? JSON.stringify(record.value) : recordLine(event);
      if (spelled !== record.text) {
        return {
          kind: 'noncanonical',
          ...at,
          problem:
            'the line is not spelled the way the sink writes it (duplicate keys, extra spacing, escapes or key order): it was written or altered by something else',
        };
      }
    }
    const sealsChecked = this.options.key !== undefined || !this.options.runChainsOnly;
    if (event.keyId !== undefined && sealsChecked) {
      if (!this.options.key) throw new AuditKeyNeededError(event.keyId, this.source);
      if (event.keyId !== this.options.key.id) {
        return {
          kind: 'forged',
          ...at,
          problem: `sealed under key ${event.keyId}, not the given key ${this.options.key.id} (a forgery, or the wrong key file)`,
        };
      }
      this.keyed++;
    } else if (this.options.key && !this.options.allowUnkeyed) {
      return {
        kind: 'unkeyed',
        ...at,
        problem:
          'not sealed with the audit key: anyone who can write the trail could have written it (records from before a key was configured need --allow-unkeyed, with its limits)',
      };
    }
    const key = runKey(event.workflowId, event.runId);
    let run = this.runs.get(key);
    if (!run) {
      run = { lastSeq: 0, lastHash: '', lastLocation: undefined, seen: new Map() };
      this.runs.set(key, run);
    }
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
    if ((event.keyId === undefined || sealsChecked) && hashEvent(event, this.options.key) !== event.hash) {
      return {
        kind: 'edited',
        ...at,
        problem:
          event.keyId !== undefined
            ? 'its seal does not match (the event was edited after it was written, or forged without the key)'
            : 'hash mismatch (the event was edited after it was written)',
      };
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
    if (
      !this.options.runChainsOnly &&
      event.sinkPrev !== undefined &&
      event.sinkPrev !== (this.previous?.hash ?? '')
    ) {
      const before = this.previous;
      return {
        kind: 'broken-link',
        ...at,
        ...(before ? { related: before.location } : {}),
        problem: before
          ? `sinkPrev does not match the record before it at ${place(before.location)}: records were deleted or put in between (a whole run removed from the middle?)`
          : 'it is the first record but links to an earlier one: the records before it were deleted',
      };
    }
    run.lastSeq = event.seq;
    run.lastHash = event.hash;
    run.lastLocation = location;
    run.seen.set(event.seq, location);
    this.previous = { hash: event.hash, location };
    if (this.positions.has(this.position)) this.atPosition.set(this.position, { hash: event.hash, location });
    this.passed++;
    return undefined;
  }

  /**
   * After every record passed: the trail against its checkpoints (keyed trails). `store` is the
   * checkpoints file or table: where it is, and how messages name it.
   */
  checkCheckpoints(
    checked: CheckedCheckpoints,
    store: { readonly location: AuditLocation; readonly name: string },
  ): AuditBreak | undefined {
    if (checked.problem) {
      return {
        kind: 'forged',
        location: checked.problem.location,
        problem: `${checked.problem.label}: ${checked.problem.problem}`,
      };
    }
    if (checked.all.length === 0 && this.keyed > 0) {
      // Missing, or there and emptied: either way nothing vouches for the trail's end.
      return {
        kind: 'truncated',
        location: store.location,
        problem: `the trail is sealed with the audit key but ${store.name} ${checked.present ? 'holds no checkpoint' : 'is missing'}: a keyed sink writes one after every append (deleted with records cut off the end?)`,
      };
    }
    for (const { location, checkpoint } of checked.all) {
      if (checkpoint.records > this.position) {
        return {
          kind: 'truncated',
          location,
          problem: `the checkpoint of ${checkpoint.at} covers ${checkpoint.records} records, the trail has ${this.position}: records were cut off its end`,
        };
      }
      const found = this.atPosition.get(checkpoint.records);
      if (found?.hash !== checkpoint.head) {
        return {
          kind: 'edited',
          location: found?.location ?? location,
          problem: `record ${checkpoint.records} is not the one the checkpoint of ${checkpoint.at} sealed: the trail was rewritten before it`,
        };
      }
    }
    this.lastCheckpoint = checked.last;
    return undefined;
  }

  report(firstBreak: AuditBreak | undefined): VerifyReport {
    const counts = {
      source: this.source,
      events: this.passed,
      runs: this.runs.size,
      keyed: this.keyed,
      ...(this.lastCheckpoint
        ? {
            lastCheckpoint: {
              at: this.lastCheckpoint.at,
              records: this.lastCheckpoint.records,
              head: this.lastCheckpoint.head,
            },
          }
        : {}),
    };
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
    const sealed =
      report.keyed === report.events
        ? report.events > 0
          ? ' Every record sealed with the audit key.'
          : ''
        : report.keyed > 0
          ? ` ${report.events - report.keyed} record(s) are not sealed with the audit key (accepted with --allow-unkeyed): anyone who could write the trail could have written them.`
          : ' The records are not sealed with an audit key: anyone who can write the trail could rewrite it consistently (set KEYSTORE_MAINT_AUDIT_KEY_FILE).';
    const checkpoint = report.lastCheckpoint
      ? ` Last checkpoint: ${report.lastCheckpoint.records} record(s) at ${report.lastCheckpoint.at}, head ${report.lastCheckpoint.head} (compare with a copy kept elsewhere).`
      : '';
    return `${report.source}: OK: ${report.events} event(s) in ${report.runs} run(s), every chain intact.${sealed}${checkpoint}`;
  }
  const b = report.firstBreak;
  const run =
    b.workflowId !== undefined && b.runId !== undefined ? `run ${b.workflowId}/${b.runId}` : undefined;
  const seq = b.seq !== undefined ? `seq ${b.seq}` : undefined;
  const who = [run, seq].filter(Boolean).join(' ');
  return `${formatLocation(b.location)}: ${who ? `${who}: ` : ''}${b.problem} [${b.kind}]`;
}
