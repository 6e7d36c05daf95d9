/**
 * The PostgreSQL sink: one row per chained event in `keystore_maint_audit` (or the configured
 * table), for deployments with workers on several hosts or that want the trail in a database.
 *
 * - Idempotent: a unique key on (workflow_id, run_id, seq), and rows already stored are skipped.
 * - One chain through the table: each append is one transaction that takes a transaction-scoped
 *   advisory lock on the table, reads the last row (by id) and the tail of each run, and inserts
 *   after them. Every row links to the row before it (`sink_prev`), whichever host wrote it. In
 *   READ COMMITTED each statement sees what committed before it, so the reads after the lock see
 *   the previous writer's rows.
 * - Keyed (the audit key, src/audit/audit-key.ts): rows are sealed with HMAC-SHA256 and, in the
 *   same transaction, a signed checkpoint of the head goes to `<table>_checkpoints`.
 * - `id bigserial` records write order, which `verify` follows.
 * - Least privilege: the sink never creates or alters a table. `keystore-maint audit migrate`,
 *   run by the tables' owner, does (`migrateAuditSchema`), and grants a writer role exactly
 *   SELECT and INSERT. Before its first append the sink checks its own role and refuses one that
 *   could edit or delete the trail (owner, superuser, UPDATE, DELETE, TRUNCATE) unless
 *   `KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1`.
 */
import { Pool, type PoolClient } from 'pg';
import type { AuditEvent, ChainedAuditEvent } from '../domain/audit-event';
import type { AuditKey } from './audit-key';
import { sealCheckpoint } from './checkpoints';
import { AUDIT_ENV, auditTableName, redactUrl } from './config';
import { AuditConfigError, AuditSourceNotFoundError, AuditWriteError } from './errors';
import { chainBatch, parseChainedEvent, prepareBatch, type ChainTail, type SinkLink } from './hash-chain';
import type { ReadableAuditSink } from './sink';

export interface PostgresAuditSinkOptions {
  /** Table name, optionally `schema.table`; default `keystore_maint_audit`. */
  readonly table?: string;
  /**
   * The audit key: rows are sealed with HMAC-SHA256 under it, and a signed checkpoint of the head
   * goes to `<table>_checkpoints` in the transaction of every append. Without a key rows are
   * chained with plain SHA-256, which anyone who can write the table can recompute.
   */
  readonly key?: AuditKey | undefined;
  /**
   * Write even when the sink's role could edit or delete the trail (it owns the tables, is a
   * superuser, or has UPDATE, DELETE or TRUNCATE on them); a warning is logged once. From
   * `KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1`. Development only.
   */
  readonly allowPrivilegedWriter?: boolean | undefined;
  /** Where that warning goes; console.warn by default. */
  readonly warn?: ((message: string) => void) | undefined;
}

/** Options of `migrateAuditSchema` (`keystore-maint audit migrate`). */
export interface MigrateAuditOptions {
  /** Table name, optionally `schema.table`; default `keystore_maint_audit`. */
  readonly table?: string | undefined;
  /**
   * A role to grant exactly what the sink needs: SELECT and INSERT on the audit table and its
   * checkpoints table, USAGE on their id sequences (and on the schema, for `schema.table`). Any
   * other privilege it has on them is revoked. Must not be a superuser or own the tables.
   */
  readonly grantWriter?: string | undefined;
}

export interface MigrateAuditResult {
  readonly table: string;
  readonly checkpointsTable: string;
  /** What this run changed, one sentence each; empty when everything was in place. */
  readonly changes: readonly string[];
}

/** A row as the sink selects it (`at` and `id` as text, so no type parser can change them). */
export interface AuditRow {
  readonly id: string;
  readonly schema_version: number;
  readonly workflow_id: string;
  readonly run_id: string;
  readonly seq: number;
  readonly at: string;
  readonly phase: string;
  readonly action: string;
  readonly actor: string;
  readonly outcome: string;
  readonly detail: unknown;
  readonly error: unknown;
  readonly prev_hash: string;
  /** NULL in rows written before the sink linked its rows (and in tables not yet migrated). */
  readonly sink_prev: string | null;
  /** NULL in rows not sealed with an audit key. */
  readonly key_id: string | null;
  readonly hash: string;
}

/** A checkpoint row as verify selects it. */
export interface CheckpointRow {
  readonly id: string;
  readonly at: string;
  readonly records: string;
  readonly head: string;
  readonly key_id: string;
  readonly prev: string;
  readonly mac: string;
}

/** `at` exactly as Date#toISOString() writes it (the form the hash and the seals were computed over). */
const AT_TEXT = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at`;

/**
 * The columns of an `AuditRow`. `linked`: the table has `sink_prev` and `key_id` (created or
 * migrated by this version); a table not yet migrated reads as rows without them. The `id` alias
 * is text: order by `t.id` (the column), never by `id`, which would sort the text.
 */
export function selectColumns(linked: boolean): string {
  return `id::text AS id, schema_version, workflow_id, run_id, seq, ${AT_TEXT},
  phase, action, actor, outcome, detail, error, prev_hash, hash,
  ${linked ? 'sink_prev, key_id' : 'NULL::text AS sink_prev, NULL::text AS key_id'}`;
}

export const CHECKPOINT_COLUMNS = `id::text AS id, ${AT_TEXT}, records::text AS records, head, key_id, prev, mac`;

/** Rows per INSERT statement: well under PostgreSQL's 65535 bind parameters (15 per row). */
const ROWS_PER_INSERT = 500;

/** The longest PostgreSQL identifier; longer names are cut silently, so they are refused here. */
const MAX_IDENTIFIER = 63;
const CHECKPOINTS_SUFFIX = '_checkpoints';

/** The audit table and the names that go with it. */
export interface AuditTableNames {
  /** As configured: `table` or `schema.table`. */
  readonly table: string;
  /** `<table>_checkpoints`, in the same schema. */
  readonly checkpoints: string;
  readonly schema: string | undefined;
  /** The table's name without its schema. */
  readonly base: string;
}

export function auditTableNames(name: string | undefined): AuditTableNames {
  const table = auditTableName(name);
  const dot = table.indexOf('.');
  const schema = dot >= 0 ? table.slice(0, dot) : undefined;
  const base = dot >= 0 ? table.slice(dot + 1) : table;
  if (base.length + CHECKPOINTS_SUFFIX.length > MAX_IDENTIFIER) {
    throw new AuditConfigError(
      `audit table name ${base} is ${base.length} characters; at most ${MAX_IDENTIFIER - CHECKPOINTS_SUFFIX.length} ` +
        `leave room for its checkpoints table (${base}${CHECKPOINTS_SUFFIX}); choose a shorter name in ` +
        `${AUDIT_ENV.postgresTable}.`,
    );
  }
  return { table, checkpoints: `${table}${CHECKPOINTS_SUFFIX}`, schema, base };
}

/** `<table>_checkpoints`: where a keyed sink writes the signed checkpoints of the head. */
export function checkpointTableOf(table: string | undefined): string {
  return `${auditTableName(table)}${CHECKPOINTS_SUFFIX}`;
}

/** A role name given to `--grant-writer`: a plain identifier, so it can be quoted without games. */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The role a deployment's worker should use (documentation and messages). */
export const SUGGESTED_WRITER_ROLE = 'keystore_maint_writer';

/** The statements `audit migrate --grant-writer <role>` runs, for messages (sequences by name). */
export function writerGrants(names: AuditTableNames, role: string): string {
  const seq = (table: string): string => `${table}_id_seq`;
  return (
    `GRANT SELECT, INSERT ON ${names.table}, ${names.checkpoints} TO ${role}; ` +
    `GRANT USAGE ON SEQUENCE ${seq(names.table)}, ${seq(names.checkpoints)} TO ${role}` +
    (names.schema ? `; GRANT USAGE ON SCHEMA ${names.schema} TO ${role}` : '')
  );
}

/**
 * Creates or upgrades the audit schema: the audit table (with `sink_prev` and `key_id`, added to
 * a table created by an older version), its index, and the checkpoints table; with `grantWriter`,
 * grants that role exactly what the sink needs. Idempotent and safe to run from several processes
 * at once (serialized by an advisory lock); `keystore-maint audit migrate` runs it, as a role that
 * can create the tables (which then owns them), never the worker's. The sink never runs it.
 */
export async function migrateAuditSchema(
  pool: Pool,
  options: MigrateAuditOptions = {},
): Promise<MigrateAuditResult> {
  const names = auditTableNames(options.table);
  const { table, checkpoints, schema, base } = names;
  const writer = options.grantWriter === undefined ? undefined : writerRoleName(options.grantWriter);
  const changes: string[] = [];
  const client = await pool.connect();
  let broken: Error | undefined;
  let role: string | undefined;
  try {
    await client.query('BEGIN');
    role = (await client.query<{ role: string }>('SELECT current_user::text AS role')).rows[0]?.role;
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('keystore-maint audit migrate'))`);
    if (!(await relationExists(client, table))) {
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(`CREATE TABLE ${table} (
        id bigserial PRIMARY KEY,
        schema_version integer NOT NULL,
        workflow_id text NOT NULL,
        run_id text NOT NULL,
        seq integer NOT NULL CHECK (seq >= 1),
        at timestamptz NOT NULL,
        phase text NOT NULL,
        action text NOT NULL,
        actor text NOT NULL,
        outcome text NOT NULL,
        detail jsonb NOT NULL,
        error jsonb,
        prev_hash text NOT NULL,
        sink_prev text,
        key_id text,
        hash text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ${base}_run_seq_key UNIQUE (workflow_id, run_id, seq)
      )`);
      await client.query(
        `COMMENT ON TABLE ${table} IS 'keystore-maint audit trail: append-only, hash-chained per run and ` +
          `through the table; check it with keystore-maint audit verify'`,
      );
      changes.push(`created table ${table}`);
    } else if (!(await hasLinkColumns(client, table))) {
      // Rows written before stay as they are (NULL): verify reads them as records without a link.
      await client.query(
        `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS sink_prev text, ADD COLUMN IF NOT EXISTS key_id text`,
      );
      changes.push(`added columns sink_prev and key_id to ${table}`);
    }
    const index = await client.query(
      `SELECT 1 FROM pg_indexes WHERE schemaname = coalesce($1::text, current_schema()) AND indexname = $2::text`,
      [schema ?? null, `${base}_workflow_idx`],
    );
    if (index.rowCount === 0) {
      await client.query(`CREATE INDEX ${base}_workflow_idx ON ${table} (workflow_id, id)`);
      changes.push(`created index ${base}_workflow_idx`);
    }
    if (!(await relationExists(client, checkpoints))) {
      await client.query(`CREATE TABLE ${checkpoints} (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        records bigint NOT NULL,
        head text NOT NULL,
        key_id text NOT NULL,
        prev text NOT NULL,
        mac text NOT NULL
      )`);
      await client.query(
        `COMMENT ON TABLE ${checkpoints} IS 'keystore-maint audit checkpoints of ${table}: signed with the ` +
          `audit key, append-only; copy them where the trail''s writers cannot write'`,
      );
      changes.push(`created table ${checkpoints}`);
    }
    if (writer) changes.push(await grantWriter(client, names, writer));
    await client.query('COMMIT');
    return { table, checkpointsTable: checkpoints, changes };
  } catch (err) {
    broken = await rollback(client);
    throw migrateError(err, table, role);
  } finally {
    client.release(broken);
  }
}

function writerRoleName(role: string): string {
  const name = role.trim();
  if (!ROLE_NAME.test(name)) {
    throw new AuditConfigError(
      `--grant-writer ${JSON.stringify(role)}: not a plain lower-case role name ([a-z_][a-z0-9_]*); ` +
        `create the writer role with such a name (e.g. ${SUGGESTED_WRITER_ROLE}).`,
    );
  }
  return name;
}

/** REVOKE ALL, then exactly what the sink needs; refuses a writer that could undo it. */
async function grantWriter(client: PoolClient, names: AuditTableNames, role: string): Promise<string> {
  const found = await client.query<{ superuser: boolean }>(
    'SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = $1::text',
    [role],
  );
  const writer = found.rows[0];
  if (!writer) {
    throw new AuditConfigError(
      `--grant-writer ${role}: there is no such role. Create it first (CREATE ROLE ${role} LOGIN PASSWORD '…'), ` +
        `then run audit migrate again and put that role in the worker's database URL.`,
    );
  }
  if (writer.superuser) {
    throw new AuditConfigError(
      `--grant-writer ${role}: ${role} is a superuser, which can edit and delete the trail whatever is granted; ` +
        `the writer must be an ordinary role (CREATE ROLE ${SUGGESTED_WRITER_ROLE} LOGIN PASSWORD '…').`,
    );
  }
  const sequences: string[] = [];
  for (const table of [names.table, names.checkpoints]) {
    const owner = await client.query<{
      owner: string;
      writer_owns: boolean;
      i_own: boolean;
      sequence: string | null;
    }>(
      `SELECT pg_get_userbyid(c.relowner) AS owner, pg_has_role($2::text, c.relowner, 'MEMBER') AS writer_owns,
              pg_has_role(c.relowner, 'MEMBER') AS i_own, pg_get_serial_sequence($1::text, 'id') AS sequence
         FROM pg_class c WHERE c.oid = to_regclass($1::text)`,
      [table, role],
    );
    const row = owner.rows[0];
    if (!row) throw new AuditConfigError(`audit migrate: ${table} disappeared while granting`);
    if (row.writer_owns) {
      throw new AuditConfigError(
        `--grant-writer ${role}: ${role} owns ${table} (or is a member of its owner ${row.owner}), so it could ` +
          `alter, edit or drop the trail; the writer must be a role that does not own the tables. Run audit ` +
          `migrate as the owner and grant to another role (e.g. ${SUGGESTED_WRITER_ROLE}).`,
      );
    }
    if (!row.i_own) {
      throw new AuditConfigError(
        `--grant-writer ${role}: only the owner of ${table} (${row.owner}) can grant on it; run audit migrate ` +
          `as ${row.owner}.`,
      );
    }
    if (row.sequence) sequences.push(row.sequence);
  }
  const grantee = `"${role}"`;
  const tables = `${names.table}, ${names.checkpoints}`;
  await client.query(`REVOKE ALL ON TABLE ${tables} FROM ${grantee}`);
  await client.query(`GRANT SELECT, INSERT ON TABLE ${tables} TO ${grantee}`);
  if (sequences.length > 0) {
    await client.query(`REVOKE ALL ON SEQUENCE ${sequences.join(', ')} FROM ${grantee}`);
    await client.query(`GRANT USAGE ON SEQUENCE ${sequences.join(', ')} TO ${grantee}`);
  }
  if (names.schema) await client.query(`GRANT USAGE ON SCHEMA ${names.schema} TO ${grantee}`);
  return (
    `granted ${role} SELECT, INSERT on ${tables} and USAGE on ${sequences.join(', ')}` +
    `${names.schema ? ` and schema ${names.schema}` : ''} (any other privilege of ${role} on them revoked)`
  );
}

/** Permission problems of `audit migrate` name the role and what to do. */
function migrateError(err: unknown, table: string, role: string | undefined): unknown {
  if (err instanceof Error && 'code' in err && err.code === '42501') {
    return new AuditConfigError(
      `audit migrate for ${table} as role ${role ?? '(unknown)'} was refused by PostgreSQL (${err.message}): run ` +
        `it as the tables' owner, or as a role that may create tables in the schema (it then owns them); never ` +
        `as the worker's writer role.`,
    );
  }
  return err;
}

async function relationExists(client: PoolClient, name: string): Promise<boolean> {
  const found = await client.query<{ present: boolean }>(
    'SELECT to_regclass($1::text) IS NOT NULL AS present',
    [name],
  );
  return found.rows[0]?.present === true;
}

/** Whether the table has the columns this version writes (`sink_prev`, `key_id`). */
export async function hasLinkColumns(client: Pick<PoolClient, 'query'>, table: string): Promise<boolean> {
  const found = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_attribute
      WHERE attrelid = to_regclass($1::text) AND attname IN ('sink_prev', 'key_id') AND NOT attisdropped`,
    [table],
  );
  return found.rows[0]?.n === 2;
}

/** What the sink's role may do with one table (undefined: the table does not exist). */
interface TableAccess {
  readonly table: string;
  readonly owner: string;
  /** The role owns it, or may act as its owner. */
  readonly owns: boolean;
  readonly select: boolean;
  readonly insert: boolean;
  /** On the table or on any column. */
  readonly update: boolean;
  readonly delete: boolean;
  readonly truncate: boolean;
  readonly sequence: string | null;
  readonly sequenceUsage: boolean;
}

async function tableAccess(client: PoolClient, table: string): Promise<TableAccess | undefined> {
  const result = await client.query<{
    owner: string;
    owns: boolean;
    can_select: boolean;
    can_insert: boolean;
    can_update: boolean;
    can_delete: boolean;
    can_truncate: boolean;
    sequence: string | null;
  }>(
    `SELECT pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'MEMBER') AS owns,
            has_table_privilege(c.oid, 'SELECT') AS can_select, has_table_privilege(c.oid, 'INSERT') AS can_insert,
            has_any_column_privilege(c.oid, 'UPDATE') AS can_update,
            has_table_privilege(c.oid, 'DELETE') AS can_delete, has_table_privilege(c.oid, 'TRUNCATE') AS can_truncate,
            pg_get_serial_sequence($1::text, 'id') AS sequence
       FROM pg_class c WHERE c.oid = to_regclass($1::text)`,
    [table],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  let sequenceUsage = false;
  if (row.sequence) {
    const usage = await client.query<{ usage: boolean }>(
      `SELECT has_sequence_privilege($1::text, 'USAGE') AS usage`,
      [row.sequence],
    );
    sequenceUsage = usage.rows[0]?.usage === true;
  }
  return {
    table,
    owner: row.owner,
    owns: row.owns,
    select: row.can_select,
    insert: row.can_insert,
    update: row.can_update,
    delete: row.can_delete,
    truncate: row.can_truncate,
    sequence: row.sequence,
    sequenceUsage,
  };
}

export class PostgresAuditSink implements ReadableAuditSink {
  readonly table: string;
  readonly checkpointsTable: string;
  readonly description: string;
  private readonly names: AuditTableNames;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly key: AuditKey | undefined;
  private readonly allowPrivilegedWriter: boolean;
  private readonly warn: (message: string) => void;
  /** Settled once the readiness check passed. */
  private readiness: Promise<void> | undefined;
  private closed = false;

  /** `target`: a connection URL (the sink owns its pool) or a pool the caller owns and closes. */
  constructor(target: string | Pool, options: PostgresAuditSinkOptions = {}) {
    this.names = auditTableNames(options.table);
    this.table = this.names.table;
    this.checkpointsTable = this.names.checkpoints;
    this.key = options.key;
    this.allowPrivilegedWriter = options.allowPrivilegedWriter === true;
    this.warn = options.warn ?? ((message) => console.warn(message));
    if (typeof target === 'string') {
      this.pool = new Pool({ connectionString: target, max: 4, application_name: 'keystore-maint audit' });
      this.ownsPool = true;
      this.description = `postgres ${redactUrl(target)} table ${this.table}`;
      // An idle connection dropped by the server must not crash the worker; the next query reconnects.
      this.pool.on('error', () => undefined);
    } else {
      this.pool = target;
      this.ownsPool = false;
      this.description = `postgres table ${this.table}`;
    }
  }

  async append(events: readonly AuditEvent[]): Promise<number> {
    if (this.closed)
      throw new AuditWriteError(`the audit sink for ${this.description} is closed; nothing was written.`);
    const batches = prepareBatch(events);
    if (batches.length === 0) return 0;
    await this.ready();
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // One lock for the whole table (keyed by its oid, however its name is spelled): every row
      // links to the row before it (sink_prev), so appends of all runs, from every host, go one
      // after the other.
      await client.query(
        `SELECT pg_advisory_xact_lock(hashtext('keystore-maint audit table'), to_regclass($1::text)::oid::int)`,
        [this.table],
      );
      const last = await client.query<{ hash: string }>(
        `SELECT t.hash FROM ${this.table} AS t ORDER BY t.id DESC LIMIT 1`,
      );
      const link: SinkLink = { lastHash: last.rows[0]?.hash ?? '', key: this.key };
      let inserted = 0;
      for (const batch of batches) {
        const tailRow = await client.query<{ seq: number; hash: string }>(
          `SELECT seq, hash FROM ${this.table} WHERE workflow_id = $1 AND run_id = $2 ORDER BY seq DESC LIMIT 1`,
          [batch.workflowId, batch.runId],
        );
        const row = tailRow.rows[0];
        const tail: ChainTail | undefined = row ? { lastSeq: row.seq, lastHash: row.hash } : undefined;
        const chained = chainBatch(batch, tail, this.description, link);
        for (let i = 0; i < chained.length; i += ROWS_PER_INSERT) {
          const rows = chained.slice(i, i + ROWS_PER_INSERT);
          const count = await this.insert(client, rows);
          if (count !== rows.length) {
            throw new AuditWriteError(
              `run ${batch.workflowId}/${batch.runId}: ${rows.length - count} event(s) appeared in ${this.table} ` +
                `while this append held the table's lock, so a writer is not taking the lock (an older ` +
                `keystore-maint, or a manual INSERT). Nothing was written; stop that writer and retry.`,
            );
          }
          inserted += count;
        }
      }
      if (this.key && inserted > 0) await this.checkpoint(client, this.key, inserted, link.lastHash);
      await client.query('COMMIT');
      return inserted;
    } catch (err) {
      broken = await rollback(client);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * A signed checkpoint of the head, chained to the last one (src/audit/checkpoints.ts), in the
   * append's transaction. `records` continues the last checkpoint's count (so rows deleted since
   * then are not counted away); the first checkpoint of a table counts its rows.
   */
  private async checkpoint(client: PoolClient, key: AuditKey, inserted: number, head: string): Promise<void> {
    const previous = await client.query<{ records: string; mac: string }>(
      `SELECT c.records::text AS records, c.mac FROM ${this.checkpointsTable} AS c ORDER BY c.id DESC LIMIT 1`,
    );
    const last = previous.rows[0];
    let records: number;
    if (last) {
      records = Number(last.records) + inserted;
    } else {
      const count = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${this.table}`);
      records = Number(count.rows[0]?.n ?? inserted);
    }
    const checkpoint = sealCheckpoint({ records, head, prev: last?.mac ?? '' }, key);
    await client.query(
      `INSERT INTO ${this.checkpointsTable} (at, records, head, key_id, prev, mac)
       VALUES ($1::timestamptz, $2::bigint, $3, $4, $5, $6)`,
      [checkpoint.at, checkpoint.records, checkpoint.head, checkpoint.keyId, checkpoint.prev, checkpoint.mac],
    );
  }

  // Readers need only SELECT, and are not checked: an export pointed at the wrong database says so.
  async readWorkflow(workflowId: string): Promise<ChainedAuditEvent[]> {
    let result;
    const client = await this.pool.connect();
    try {
      const linked = await hasLinkColumns(client, this.table);
      result = await client.query<AuditRow>(
        `SELECT ${selectColumns(linked)} FROM ${this.table} AS t WHERE t.workflow_id = $1::text ORDER BY t.id`,
        [workflowId],
      );
    } catch (err) {
      throw missingTableError(err, this.table, this.description);
    } finally {
      client.release();
    }
    const events: ChainedAuditEvent[] = [];
    for (const row of result.rows) {
      const parsed = parseChainedEvent(rowToEvent(row));
      if ('event' in parsed) events.push(parsed.event);
    }
    return events;
  }

  async findWorkflowIdsForStore(customKeyStoreId: string): Promise<string[]> {
    let result;
    try {
      result = await this.pool.query<{ workflow_id: string }>(
        `SELECT workflow_id FROM ${this.table}
          WHERE right(workflow_id, length($1::text) + 1) = '/' || $1::text OR detail->>'customKeyStoreId' = $1::text
          GROUP BY workflow_id ORDER BY min(id)`,
        [customKeyStoreId],
      );
    } catch (err) {
      throw missingTableError(err, this.table, this.description);
    }
    return result.rows.map((row) => row.workflow_id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }

  /**
   * Checked at first append rather than at construction, so a worker starts (and its other
   * activities run) while the database is briefly unreachable. A refusal is not remembered: the
   * next append checks again, so fixing the grants needs no restart.
   */
  private ready(): Promise<void> {
    this.readiness ??= this.checkAccess().catch((err: unknown) => {
      this.readiness = undefined;
      throw err;
    });
    return this.readiness;
  }

  /** The tables exist, are migrated, and the sink's role may append but not rewrite them. */
  private async checkAccess(): Promise<void> {
    const client = await this.pool.connect();
    try {
      const who = await client.query<{ role: string; superuser: boolean }>(
        `SELECT current_user::text AS role, r.rolsuper AS superuser FROM pg_roles r WHERE r.rolname = current_user`,
      );
      const { role, superuser } = who.rows[0] ?? { role: '?', superuser: false };
      const main = await tableAccess(client, this.table);
      if (!main) {
        throw new AuditConfigError(
          `the audit table ${this.table} does not exist (${this.description}). The sink does not create tables: ` +
            `run \`keystore-maint audit migrate --grant-writer ${role}\` as the role that should own them (not ` +
            `the worker's), then the worker writes as ${role}. Or set ${AUDIT_ENV.postgresTable} if the trail is ` +
            `in another table.`,
        );
      }
      if (!(await hasLinkColumns(client, this.table))) {
        throw new AuditConfigError(
          `the audit table ${this.table} (${this.description}) was created by an older keystore-maint: it has no ` +
            `sink_prev and key_id columns. Run \`keystore-maint audit migrate\` as the table's owner ` +
            `(${main.owner}) to add them; the rows already there stay as they are.`,
        );
      }
      const checkpoints = await tableAccess(client, this.checkpointsTable);
      if (this.key && !checkpoints) {
        throw new AuditConfigError(
          `the checkpoints table ${this.checkpointsTable} does not exist (${this.description}); a keyed sink ` +
            `writes a signed checkpoint there with every append. Run \`keystore-maint audit migrate ` +
            `--grant-writer ${role}\` as the owner of ${this.table} (${main.owner}).`,
        );
      }
      const needed = [main, ...(this.key && checkpoints ? [checkpoints] : [])];
      const missing = needed.flatMap((t) => [
        ...(t.select ? [] : [`SELECT on ${t.table}`]),
        ...(t.insert ? [] : [`INSERT on ${t.table}`]),
        ...(t.sequenceUsage || !t.sequence ? [] : [`USAGE on sequence ${t.sequence}`]),
      ]);
      if (missing.length > 0) {
        throw new AuditConfigError(
          `role ${role} cannot append to the audit trail (${this.description}): it lacks ${missing.join(', ')}. ` +
            `As the tables' owner (${main.owner}) run \`keystore-maint audit migrate --grant-writer ${role}\`, ` +
            `which runs: ${writerGrants(this.names, role)}.`,
        );
      }
      const found = privilegedAccess(superuser, [main, ...(checkpoints ? [checkpoints] : [])]);
      if (found.length > 0) {
        const what = `role ${role} ${found.join('; ')}`;
        if (!this.allowPrivilegedWriter) {
          throw new AuditConfigError(
            `the audit sink refuses to write to ${this.description}: ${what}, so the worker could edit or delete ` +
              `its own trail. Write as a role with only SELECT and INSERT: as the tables' owner run ` +
              `\`keystore-maint audit migrate --grant-writer ${SUGGESTED_WRITER_ROLE}\` (it runs: ` +
              `${writerGrants(this.names, SUGGESTED_WRITER_ROLE)}) and put that role in the worker's database ` +
              `URL (${AUDIT_ENV.postgresUrlFile}). To write as ${role} anyway (development only), set ` +
              `${AUDIT_ENV.allowPrivilegedWriter}=1.`,
          );
        }
        this.warn(
          `keystore-maint audit: WARNING: ${AUDIT_ENV.allowPrivilegedWriter}=1: writing the audit trail to ` +
            `${this.description} as a privileged role: ${what}. The worker can edit or delete its own trail; use ` +
            `a writer role with only SELECT and INSERT (keystore-maint audit migrate --grant-writer) in production.`,
        );
      }
    } finally {
      client.release();
    }
  }

  private async insert(client: PoolClient, rows: readonly ChainedAuditEvent[]): Promise<number> {
    const values: unknown[] = [];
    const tuples = rows.map((event) => {
      const start = values.length;
      values.push(
        event.schemaVersion,
        event.workflowId,
        event.runId,
        event.seq,
        event.at,
        event.phase,
        event.action,
        event.actor,
        event.outcome,
        JSON.stringify(event.detail),
        event.error === undefined ? null : JSON.stringify(event.error),
        event.prevHash,
        event.sinkPrev ?? null,
        event.keyId ?? null,
        event.hash,
      );
      const p = (n: number): string => `$${start + n}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}::timestamptz, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}::jsonb, ${p(11)}::jsonb, ${p(12)}, ${p(13)}, ${p(14)}, ${p(15)})`;
    });
    const result = await client.query(
      `INSERT INTO ${this.table}
         (schema_version, workflow_id, run_id, seq, at, phase, action, actor, outcome, detail, error, prev_hash,
          sink_prev, key_id, hash)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (workflow_id, run_id, seq) DO NOTHING`,
      values,
    );
    return result.rowCount ?? 0;
  }
}

/** What lets `superuser` or the tables' privileges rewrite the trail, one phrase per table. */
function privilegedAccess(superuser: boolean, tables: readonly TableAccess[]): string[] {
  const found: string[] = superuser ? ['is a superuser'] : [];
  for (const t of tables) {
    const rights = [
      ...(t.update ? ['UPDATE'] : []),
      ...(t.delete ? ['DELETE'] : []),
      ...(t.truncate ? ['TRUNCATE'] : []),
    ];
    if (t.owns) found.push(`owns ${t.table} (owner ${t.owner})`);
    if (rights.length > 0) found.push(`has ${rights.join(', ')} on ${t.table}`);
  }
  return found;
}

/** A selected row as the event object that was hashed (`error`, `sinkPrev`, `keyId` absent when NULL). */
export function rowToEvent(row: AuditRow): Record<string, unknown> {
  return {
    schemaVersion: row.schema_version,
    workflowId: row.workflow_id,
    runId: row.run_id,
    seq: row.seq,
    at: row.at,
    phase: row.phase,
    action: row.action,
    actor: row.actor,
    outcome: row.outcome,
    detail: row.detail,
    ...(row.error === null || row.error === undefined ? {} : { error: row.error }),
    prevHash: row.prev_hash,
    ...(row.sink_prev === null || row.sink_prev === undefined ? {} : { sinkPrev: row.sink_prev }),
    ...(row.key_id === null || row.key_id === undefined ? {} : { keyId: row.key_id }),
    hash: row.hash,
  };
}

/** A checkpoint row as the checkpoint object that was sealed (`records` a number again). */
export function rowToCheckpoint(row: CheckpointRow): Record<string, unknown> {
  return {
    at: row.at,
    records: /^\d{1,15}$/.test(row.records) ? Number(row.records) : row.records,
    head: row.head,
    keyId: row.key_id,
    prev: row.prev,
    mac: row.mac,
  };
}

/** Turns "relation does not exist" into a message that says what to do. */
export function missingTableError(err: unknown, table: string, where: string): Error {
  if (err !== null && typeof err === 'object' && 'code' in err && err.code === '42P01') {
    return new AuditSourceNotFoundError(
      `the audit table ${table} does not exist (${where}): nothing was written there yet, or the trail is ` +
        `elsewhere. Run \`keystore-maint audit migrate\`, or set ${AUDIT_ENV.postgresTable}.`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Rolls back; returns an error if the connection itself is unusable, so that release() discards
 * it instead of handing a broken connection to the next append (the server rolls back a
 * transaction whose connection is gone).
 */
export async function rollback(client: PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
