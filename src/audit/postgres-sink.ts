/**
 * The PostgreSQL sink: one row per chained event in `keystore_maint_audit` (or the configured
 * table), for deployments with workers on several hosts or that want the trail in a database.
 *
 * - Idempotent: a unique key on (workflow_id, run_id, seq), and rows already stored are skipped.
 * - No forked chains: each append is one transaction that takes a transaction-scoped advisory
 *   lock per run, reads the run's last row, and inserts after it. In READ COMMITTED each statement
 *   sees what committed before it, so the read after the lock sees the previous writer's rows.
 * - `id bigserial` records write order, which `verify` follows.
 */
import { Pool, type PoolClient } from 'pg';
import type { AuditEvent, ChainedAuditEvent } from '../domain/audit-event';
import { auditTableName, redactUrl } from './config';
import { AuditSourceNotFoundError, AuditWriteError } from './errors';
import { chainBatch, parseChainedEvent, prepareBatch, type ChainTail } from './hash-chain';
import type { ReadableAuditSink } from './sink';

export interface PostgresAuditSinkOptions {
  /** Table name, optionally `schema.table`; default `keystore_maint_audit`. */
  readonly table?: string;
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
  readonly hash: string;
}

// `at` exactly as Date#toISOString() writes it (the form the hash was computed over). The `id`
// alias is text: order by `t.id` (the column), never by `id`, which would sort the text.
export const SELECT_COLUMNS = `id::text AS id, schema_version, workflow_id, run_id, seq,
  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
  phase, action, actor, outcome, detail, error, prev_hash, hash`;

/** Rows per INSERT statement: well under PostgreSQL's 65535 bind parameters (12 per row). */
const ROWS_PER_INSERT = 500;

/**
 * Creates the audit table and its index if missing. Idempotent and safe to run from several
 * processes at once (serialized by an advisory lock); `keystore-maint audit migrate` runs it, and
 * the sink on first append. When the table and index exist it only reads the catalog, so a
 * writer role with nothing but SELECT and INSERT on the table (the recommended grant) can run it.
 */
export async function migrateAuditSchema(pool: Pool, options: PostgresAuditSinkOptions = {}): Promise<void> {
  const table = auditTableName(options.table);
  const dot = table.indexOf('.');
  const schema = dot >= 0 ? table.slice(0, dot) : undefined;
  const base = dot >= 0 ? table.slice(dot + 1) : table;
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('keystore-maint audit migrate'))`);
    const found = await client.query<{ present: boolean }>(
      'SELECT to_regclass($1::text) IS NOT NULL AS present',
      [table],
    );
    if (!found.rows[0]?.present) {
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
        hash text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ${base}_run_seq_key UNIQUE (workflow_id, run_id, seq)
      )`);
      await client.query(
        `COMMENT ON TABLE ${table} IS 'keystore-maint audit trail: append-only, hash-chained per run; ` +
          `check it with keystore-maint audit verify'`,
      );
    }
    const index = await client.query(
      `SELECT 1 FROM pg_indexes WHERE schemaname = coalesce($1::text, current_schema()) AND indexname = $2::text`,
      [schema ?? null, `${base}_workflow_idx`],
    );
    if (index.rowCount === 0) {
      await client.query(`CREATE INDEX ${base}_workflow_idx ON ${table} (workflow_id, id)`);
    }
    await client.query('COMMIT');
  } catch (err) {
    broken = await rollback(client);
    throw err;
  } finally {
    client.release(broken);
  }
}

export class PostgresAuditSink implements ReadableAuditSink {
  readonly table: string;
  readonly description: string;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private migrated: Promise<void> | undefined;
  private closed = false;

  /** `target`: a connection URL (the sink owns its pool) or a pool the caller owns and closes. */
  constructor(target: string | Pool, options: PostgresAuditSinkOptions = {}) {
    this.table = auditTableName(options.table);
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
    // A fixed lock order, so two multi-run batches cannot deadlock on each other's runs.
    const ordered = [...batches].sort((a, b) =>
      `${a.workflowId}\n${a.runId}` < `${b.workflowId}\n${b.runId}` ? -1 : 1,
    );
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      let inserted = 0;
      for (const batch of ordered) {
        await client.query(
          `SELECT pg_advisory_xact_lock(hashtext('keystore-maint audit'), hashtext($1::text || $2::text))`,
          [batch.workflowId, batch.runId],
        );
        const last = await client.query<{ seq: number; hash: string }>(
          `SELECT seq, hash FROM ${this.table} WHERE workflow_id = $1 AND run_id = $2 ORDER BY seq DESC LIMIT 1`,
          [batch.workflowId, batch.runId],
        );
        const row = last.rows[0];
        const tail: ChainTail | undefined = row ? { lastSeq: row.seq, lastHash: row.hash } : undefined;
        const chained = chainBatch(batch, tail, this.description);
        for (let i = 0; i < chained.length; i += ROWS_PER_INSERT) {
          const rows = chained.slice(i, i + ROWS_PER_INSERT);
          const count = await this.insert(client, rows);
          if (count !== rows.length) {
            throw new AuditWriteError(
              `run ${batch.workflowId}/${batch.runId}: ${rows.length - count} event(s) appeared in ${this.table} ` +
                `while this append held the run's lock, so a writer is not taking the lock (an older ` +
                `keystore-maint, or a manual INSERT). Nothing was written; stop that writer and retry.`,
            );
          }
          inserted += count;
        }
      }
      await client.query('COMMIT');
      return inserted;
    } catch (err) {
      broken = await rollback(client);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  // Readers do not create the table: an export pointed at the wrong database should say so.
  async readWorkflow(workflowId: string): Promise<ChainedAuditEvent[]> {
    let result;
    try {
      result = await this.pool.query<AuditRow>(
        `SELECT ${SELECT_COLUMNS} FROM ${this.table} AS t WHERE t.workflow_id = $1::text ORDER BY t.id`,
        [workflowId],
      );
    } catch (err) {
      throw missingTableError(err, this.table, this.description);
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

  private ready(): Promise<void> {
    // The schema is created on first use rather than at construction, so a worker starts (and
    // its other activities run) while the database is briefly unreachable; a failure is retried.
    this.migrated ??= migrateAuditSchema(this.pool, { table: this.table }).catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
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
        event.hash,
      );
      const p = (n: number): string => `$${start + n}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}::timestamptz, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}::jsonb, ${p(11)}::jsonb, ${p(12)}, ${p(13)})`;
    });
    const result = await client.query(
      `INSERT INTO ${this.table}
         (schema_version, workflow_id, run_id, seq, at, phase, action, actor, outcome, detail, error, prev_hash, hash)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (workflow_id, run_id, seq) DO NOTHING`,
      values,
    );
    return result.rowCount ?? 0;
  }
}

/** A selected row as the event object that was hashed (`error` absent when NULL). */
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
    hash: row.hash,
  };
}

/** Turns "relation does not exist" into a message that says what to do. */
export function missingTableError(err: unknown, table: string, where: string): Error {
  if (err !== null && typeof err === 'object' && 'code' in err && err.code === '42P01') {
    return new AuditSourceNotFoundError(
      `the audit table ${table} does not exist (${where}): nothing was written there yet, or the trail is ` +
        `elsewhere. Run \`keystore-maint audit migrate\`, or set KEYSTORE_MAINT_AUDIT_POSTGRES_TABLE.`,
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
