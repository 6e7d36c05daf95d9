/**
 * The PostgreSQL sink and verify against a real server (scripts/ensure-postgres.sh), as deployed:
 * an owner role migrates (and grants), the sink writes as a writer role with only SELECT and
 * INSERT; tampering is done as the superuser. Each test works in tables of its own, dropped
 * afterwards. The keyed chain: postgres-keyed.test.ts.
 */
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allowPrivilegedWriterFromEnv } from '../../src/audit/config';
import { AuditConfigError, AuditSequenceGapError, AuditSourceNotFoundError } from '../../src/audit/errors';
import { hashEvent } from '../../src/audit/hash-chain';
import { migrateAuditSchema, PostgresAuditSink } from '../../src/audit/postgres-sink';
import { formatVerifyReport, verifyAuditPostgres, type VerifyReport } from '../../src/audit/verify';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { ensureBuilt, runCli } from '../support/built-cli';
import { makeEvent, makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';
import {
  createTestRoles,
  dropAuditTables,
  testPool,
  testPostgresUrl,
  uniqueTable,
  type TestRoles,
} from './support/postgres';

const WF_A = workflowIdOf(STORE_A);
const WF_B = workflowIdOf(STORE_B, 'eu-central-1');

let url: string;
/** The superuser: tampering and inspection. */
let pool: Pool;
let roles: TestRoles;
let ownerPool: Pool;
let writerPool: Pool;
const tables: string[] = [];
const sinks: PostgresAuditSink[] = [];

beforeAll(async () => {
  url = testPostgresUrl();
  pool = testPool(url);
  roles = await createTestRoles(pool, url);
  ownerPool = testPool(roles.ownerUrl);
  writerPool = testPool(roles.writerUrl);
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const table of tables.splice(0)) await dropAuditTables(pool, table);
});
afterAll(async () => {
  await Promise.all([ownerPool.end(), writerPool.end()]);
  await roles.drop();
  await pool.end();
});

function newTable(): string {
  const table = uniqueTable();
  tables.push(table);
  return table;
}

/** `audit migrate --grant-writer` as the owner role. */
async function migrated(table: string): Promise<string> {
  await migrateAuditSchema(ownerPool, { table, grantWriter: roles.writer });
  return table;
}

/** A sink writing as the writer role (the deployment's worker). */
function sinkFor(table: string, target: string | Pool = roles.writerUrl): PostgresAuditSink {
  const sink = new PostgresAuditSink(target, { table });
  sinks.push(sink);
  return sink;
}

/** What PostgreSQL answers a statement, as `code: message`. */
async function refusal(db: Pool, sql: string): Promise<string> {
  const failure = await db.query(sql).then(
    () => undefined,
    (err: unknown) => err as { code?: string; message?: string },
  );
  return failure ? `${failure.code}: ${failure.message}` : 'accepted';
}

async function privilegesOf(role: string, table: string): Promise<Record<string, boolean>> {
  const result = await pool.query<Record<string, boolean>>(
    `SELECT has_table_privilege($1::text, $2::text, 'SELECT') AS "select",
            has_table_privilege($1::text, $2::text, 'INSERT') AS "insert",
            has_any_column_privilege($1::text, $2::text, 'UPDATE') AS "update",
            has_table_privilege($1::text, $2::text, 'DELETE') AS "delete",
            has_table_privilege($1::text, $2::text, 'TRUNCATE') AS "truncate",
            has_table_privilege($1::text, $2::text, 'REFERENCES') AS "references",
            has_table_privilege($1::text, $2::text, 'TRIGGER') AS "trigger",
            has_sequence_privilege($1::text, pg_get_serial_sequence($2::text, 'id'), 'USAGE') AS "sequence usage",
            pg_has_role($1::text, (SELECT relowner FROM pg_class WHERE oid = $2::regclass), 'MEMBER') AS "owns"`,
    [role, table],
  );
  return result.rows[0] ?? {};
}

async function rowId(table: string, runId: string, seq: number): Promise<string> {
  const result = await pool.query<{ id: string }>(
    `SELECT id::text AS id FROM ${table} WHERE run_id = $1 AND seq = $2`,
    [runId, seq],
  );
  const id = result.rows[0]?.id;
  if (!id) throw new Error(`no row for ${runId} seq ${seq}`);
  return id;
}

/** Three interleaved runs of two stores, 15 events. */
async function writeTrail(table: string): Promise<void> {
  await migrated(table);
  const sink = sinkFor(table, writerPool);
  await sink.append(makeEvents(WF_A, 'a1', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 1, 2));
  await sink.append(makeEvents(WF_A, 'a1', 3, 4));
  await sink.append(makeEvents(WF_A, 'a2', 1, 3));
  await sink.append(makeEvents(WF_B, 'b1', 3, 6));
  await sink.append(makeEvents(WF_A, 'a1', 5, 6));
}

function expectBreak(
  report: VerifyReport,
  expected: { kind: string; rowId: string; runId: string; seq: number; workflowId: string },
): void {
  expect(report.ok, formatVerifyReport(report)).toBe(false);
  if (report.ok) return;
  const b = report.firstBreak;
  expect({
    kind: b.kind,
    rowId: b.location.rowId,
    runId: b.runId,
    seq: b.seq,
    workflowId: b.workflowId,
  }).toEqual(expected);
}

describe('PostgreSQL sink', () => {
  it('creates its table idempotently, also when several processes migrate at once', async () => {
    const table = newTable();
    await Promise.all([migrateAuditSchema(ownerPool, { table }), migrateAuditSchema(ownerPool, { table })]);
    expect(await migrateAuditSchema(ownerPool, { table })).toEqual({
      table,
      checkpointsTable: `${table}_checkpoints`,
      changes: [],
    });
    const columns = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [table],
    );
    expect(Object.fromEntries(columns.rows.map((r) => [r.column_name, r.data_type]))).toMatchObject({
      id: 'bigint',
      workflow_id: 'text',
      run_id: 'text',
      seq: 'integer',
      at: 'timestamp with time zone',
      detail: 'jsonb',
      error: 'jsonb',
      prev_hash: 'text',
      sink_prev: 'text',
      key_id: 'text',
      hash: 'text',
    });
    const checkpointColumns = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
      [`${table}_checkpoints`],
    );
    expect(Object.fromEntries(checkpointColumns.rows.map((r) => [r.column_name, r.data_type]))).toEqual({
      id: 'bigint',
      at: 'timestamp with time zone',
      records: 'bigint',
      head: 'text',
      key_id: 'text',
      prev: 'text',
      mac: 'text',
    });
    const unique = await pool.query(`SELECT 1 FROM pg_constraint WHERE conname = $1 AND contype = 'u'`, [
      `${table}_run_seq_key`,
    ]);
    expect(unique.rowCount).toBe(1);
  });

  it('stores chained rows that read back as the events that were hashed', async () => {
    const table = await migrated(newTable());
    const sink = sinkFor(table);
    const withError = makeEvent(WF_A, 'r1', 2, {
      outcome: 'failed',
      error: { type: 'KeyStoreConnectFailed', message: 'NETWORK_ERRORS — “quoted” ünïcode' },
      detail: {
        customKeyStoreId: STORE_A,
        nested: { list: [1, 2.5, null, true], empty: {} },
        big: 12345678901,
      },
    });
    expect(await sink.append([makeEvent(WF_A, 'r1', 1), withError])).toBe(2);
    const trail = await sink.readWorkflow(WF_A);
    expect(trail).toHaveLength(2);
    expect(trail[0]!.prevHash).toBe('');
    expect(trail[1]!.prevHash).toBe(trail[0]!.hash);
    // Linked through the table as well (sink_prev), unsealed without a key.
    expect(trail.map((e) => e.sinkPrev)).toEqual(['', trail[0]!.hash]);
    expect(trail.some((e) => 'keyId' in e)).toBe(false);
    for (const event of trail) expect(hashEvent(event)).toBe(event.hash);
    expect(trail[1]).toMatchObject({ error: withError.error, detail: withError.detail, at: withError.at });
    expect('error' in trail[0]!).toBe(false);
    expect(await verifyAuditPostgres(url, { table })).toEqual({
      ok: true,
      source: `postgres table ${table}`,
      events: 2,
      runs: 1,
      keyed: 0,
    });
  });

  it('adds nothing for a repeated batch and only the new part of an overlapping one', async () => {
    const table = await migrated(newTable());
    const sink = sinkFor(table);
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 4))).toBe(4);
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 4))).toBe(0);
    expect(await sink.append(makeEvents(WF_A, 'r1', 3, 7))).toBe(3);
    // Another sink (another worker) retrying an old batch.
    expect(await sinkFor(table).append(makeEvents(WF_A, 'r1', 2, 5))).toBe(0);
    const count = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    expect(count.rows[0]?.n).toBe('7');
    expect((await verifyAuditPostgres(pool, { table })).ok).toBe(true);
  });

  it('refuses a gap and rolls back the whole batch', async () => {
    const table = await migrated(newTable());
    const sink = sinkFor(table);
    await sink.append(makeEvents(WF_A, 'r1', 1, 2));
    const error = await sink
      .append([...makeEvents(WF_B, 'b1', 1, 3), ...makeEvents(WF_A, 'r1', 4, 5)])
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AuditSequenceGapError);
    expect((error as Error).message).toContain(`run ${WF_A}/r1 expects seq 3`);
    const count = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    expect(count.rows[0]?.n).toBe('2');
  });

  it('keeps every chain whole when several sinks append concurrently to one table', async () => {
    const table = await migrated(newTable());
    const writers = [sinkFor(table), sinkFor(table), sinkFor(table)];
    const runs = [
      { wf: WF_A, run: 'a1' },
      { wf: WF_A, run: 'a2' },
      { wf: WF_B, run: 'b1' },
    ];
    const appends: Promise<number>[] = [];
    for (let upTo = 1; upTo <= 20; upTo += 2) {
      writers.forEach((writer, i) => {
        for (const { wf, run } of runs) {
          const to = Math.min(20, upTo + i);
          appends.push(writer.append(makeEvents(wf, run, Math.max(1, to - 3), to)));
        }
      });
    }
    const results = await Promise.allSettled(appends);
    // A writer that got ahead of the others' stored events is refused (gap) and retried by its
    // workflow; what was accepted must be whole and unique.
    const written = results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AuditSequenceGapError);
    // Finish every run, as the workflows' next flushes would.
    for (const { wf, run } of runs) await writers[0]!.append(makeEvents(wf, run, 1, 20));
    const rows = await pool.query<{ n: string; distinct: string }>(
      `SELECT count(*)::text AS n, count(DISTINCT (run_id, seq))::text AS distinct FROM ${table}`,
    );
    expect(rows.rows[0]).toEqual({ n: '60', distinct: '60' });
    expect(written).toBeGreaterThan(0);
    // One chain through the table too: every row links to the row before it by id, whichever
    // sink wrote either (the table-wide lock).
    const unlinked = await pool.query<{ id: string }>(
      `SELECT id::text AS id FROM (SELECT id, sink_prev, coalesce(lag(hash) OVER (ORDER BY id), '') AS before
         FROM ${table}) AS t WHERE sink_prev IS DISTINCT FROM before`,
    );
    expect(unlinked.rows).toEqual([]);
    expect(await verifyAuditPostgres(pool, { table })).toMatchObject({ ok: true, events: 60, runs: 3 });
  });

  it('finds workflow ids by store', async () => {
    const table = await migrated(newTable());
    const sink = sinkFor(table);
    await sink.append(makeEvents(WF_B, 'b1', 1, 2));
    await sink.append(makeEvents(WF_A, 'a1', 1, 1));
    await sink.append([makeEvent('fleet/2025-03', 'f1', 1, { detail: { customKeyStoreId: STORE_A } })]);
    expect(await sink.findWorkflowIdsForStore(STORE_A)).toEqual([WF_A, 'fleet/2025-03']);
    expect(await sink.findWorkflowIdsForStore(STORE_B)).toEqual([WF_B]);
    expect(await sink.findWorkflowIdsForStore('cks-%')).toEqual([]);
  });

  it('says so when the table does not exist, for reads and verify', async () => {
    const table = newTable();
    await expect(sinkFor(table).readWorkflow(WF_A)).rejects.toThrow(AuditSourceNotFoundError);
    await expect(verifyAuditPostgres(url, { table })).rejects.toThrow(/keystore-maint audit migrate/);
  });

  it('upgrades a table created by an older version; its rows still verify and new ones link to them', async () => {
    const table = newTable();
    // The table as keystore-maint created it before sink_prev and key_id, with rows in it.
    await pool.query(`CREATE TABLE ${table} (
      id bigserial PRIMARY KEY, schema_version integer NOT NULL, workflow_id text NOT NULL,
      run_id text NOT NULL, seq integer NOT NULL, at timestamptz NOT NULL, phase text NOT NULL,
      action text NOT NULL, actor text NOT NULL, outcome text NOT NULL, detail jsonb NOT NULL,
      error jsonb, prev_hash text NOT NULL, hash text NOT NULL,
      written_at timestamptz NOT NULL DEFAULT now(), UNIQUE (workflow_id, run_id, seq))`);
    await pool.query(`ALTER TABLE ${table} OWNER TO ${roles.owner}`);
    let prevHash = '';
    for (const event of makeEvents(WF_A, 'old', 1, 3)) {
      const record = { ...event, prevHash };
      prevHash = hashEvent(record) ?? '';
      await pool.query(
        `INSERT INTO ${table} (schema_version, workflow_id, run_id, seq, at, phase, action, actor, outcome, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          1,
          event.workflowId,
          event.runId,
          event.seq,
          event.at,
          event.phase,
          event.action,
          event.actor,
          event.outcome,
          event.detail,
          record.prevHash,
          prevHash,
        ],
      );
    }
    // verify and export read it as it is, before and after the upgrade.
    expect(await verifyAuditPostgres(pool, { table })).toMatchObject({ ok: true, events: 3 });
    const error = await sinkFor(table)
      .append(makeEvents(WF_A, 'new', 1, 1))
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AuditConfigError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `created by an older keystore-maint: it has no sink_prev and key_id columns\\. Run \`keystore-maint audit migrate\` as the table's owner \\(${roles.owner}\\)`,
      ),
    );
    const result = await migrated(table).then(() => migrateAuditSchema(ownerPool, { table }));
    expect(result.changes).toEqual([]);
    expect(await sinkFor(table).append(makeEvents(WF_A, 'new', 1, 2))).toBe(2);
    const trail = await sinkFor(table).readWorkflow(WF_A);
    expect(trail.map((e) => [e.runId, e.seq, e.sinkPrev])).toEqual([
      ['old', 1, undefined],
      ['old', 2, undefined],
      ['old', 3, undefined],
      ['new', 1, trail[2]!.hash],
      ['new', 2, trail[3]!.hash],
    ]);
    expect(await verifyAuditPostgres(pool, { table })).toMatchObject({ ok: true, events: 5 });
  });

  it('reports what migrate changed when it upgrades a table', async () => {
    const table = newTable();
    const first = await migrateAuditSchema(ownerPool, { table });
    expect(first.changes).toEqual([
      `created table ${table}`,
      `created index ${table}_workflow_idx`,
      `created table ${table}_checkpoints`,
    ]);
    await pool.query(`ALTER TABLE ${table} DROP COLUMN sink_prev, DROP COLUMN key_id`);
    expect((await migrateAuditSchema(ownerPool, { table })).changes).toEqual([
      `added columns sink_prev and key_id to ${table}`,
    ]);
  });
});

describe('least privilege', () => {
  it('migrate as the owner grants the writer exactly SELECT and INSERT, and USAGE on the id sequences', async () => {
    const table = newTable();
    const result = await migrateAuditSchema(ownerPool, { table, grantWriter: roles.writer });
    expect(result.changes).toContain(
      `granted ${roles.writer} SELECT, INSERT on ${table}, ${table}_checkpoints and USAGE on ` +
        `public.${table}_id_seq, public.${table}_checkpoints_id_seq (any other privilege of ${roles.writer} on them revoked)`,
    );
    const exactly = {
      select: true,
      insert: true,
      update: false,
      delete: false,
      truncate: false,
      references: false,
      trigger: false,
      'sequence usage': true,
      owns: false,
    };
    expect(await privilegesOf(roles.writer, table)).toEqual(exactly);
    expect(await privilegesOf(roles.writer, `${table}_checkpoints`)).toEqual(exactly);
    expect((await privilegesOf(roles.owner, table)).owns).toBe(true);
    // "Exactly": a privilege given by hand before is taken back by the next migrate.
    await pool.query(`GRANT UPDATE (detail), DELETE ON ${table} TO ${roles.writer}`);
    await migrateAuditSchema(ownerPool, { table, grantWriter: roles.writer });
    expect(await privilegesOf(roles.writer, table)).toEqual(exactly);
  });

  it('as the writer, PostgreSQL itself refuses UPDATE, DELETE, TRUNCATE and DDL on both tables', async () => {
    const table = newTable();
    await writeTrail(table);
    for (const target of [table, `${table}_checkpoints`]) {
      expect(await refusal(writerPool, `UPDATE ${target} SET id = id`)).toBe(
        `42501: permission denied for table ${target}`,
      );
      expect(await refusal(writerPool, `DELETE FROM ${target}`)).toBe(
        `42501: permission denied for table ${target}`,
      );
      expect(await refusal(writerPool, `TRUNCATE ${target}`)).toBe(
        `42501: permission denied for table ${target}`,
      );
      expect(await refusal(writerPool, `ALTER TABLE ${target} ADD COLUMN x text`)).toBe(
        `42501: must be owner of table ${target}`,
      );
      expect(await refusal(writerPool, `DROP TABLE ${target}`)).toBe(
        `42501: must be owner of table ${target}`,
      );
    }
    expect(await refusal(writerPool, `SELECT count(*) FROM ${table}`)).toBe('accepted');
    const rows = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    expect(rows.rows[0]?.n).toBe('15');
    expect((await verifyAuditPostgres(pool, { table })).ok).toBe(true);
  });

  it('refuses to write as the owner or a superuser, naming the role, what it may do, the fix and the override', async () => {
    const table = await migrated(newTable());
    const asOwner = await sinkFor(table, roles.ownerUrl)
      .append(makeEvents(WF_A, 'r1', 1, 1))
      .catch((err: unknown) => err);
    expect(asOwner).toBeInstanceOf(AuditConfigError);
    const message = (asOwner as Error).message;
    expect(message).toContain(
      `the audit sink refuses to write to postgres ${roles.ownerUrl.replace(':test-only@', ':***@')} table ${table}: ` +
        `role ${roles.owner} owns ${table} (owner ${roles.owner}); has UPDATE, DELETE, TRUNCATE on ${table}; ` +
        `owns ${table}_checkpoints (owner ${roles.owner}); has UPDATE, DELETE, TRUNCATE on ${table}_checkpoints, ` +
        `so the worker could edit or delete its own trail.`,
    );
    expect(message).toContain('keystore-maint audit migrate --grant-writer keystore_maint_writer');
    expect(message).toContain(
      `GRANT SELECT, INSERT ON ${table}, ${table}_checkpoints TO keystore_maint_writer; ` +
        `GRANT USAGE ON SEQUENCE ${table}_id_seq, ${table}_checkpoints_id_seq TO keystore_maint_writer`,
    );
    expect(message).toContain('KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE');
    expect(message).toContain(
      `To write as ${roles.owner} anyway (development only), set KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1.`,
    );
    const asSuperuser = await sinkFor(table, url)
      .append(makeEvents(WF_A, 'r1', 1, 1))
      .catch((err: unknown) => err);
    expect(asSuperuser).toBeInstanceOf(AuditConfigError);
    expect((asSuperuser as Error).message).toMatch(
      /: role postgres is a superuser; owns .*KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1/,
    );
    const rows = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`);
    expect(rows.rows[0]?.n).toBe('0');
  });

  it('refuses a writer that was also given UPDATE on one column, or DELETE', async () => {
    const table = await migrated(newTable());
    await pool.query(`GRANT UPDATE (detail) ON ${table} TO ${roles.writer}`);
    await expect(sinkFor(table).append(makeEvents(WF_A, 'r1', 1, 1))).rejects.toThrow(
      `role ${roles.writer} has UPDATE on ${table}, so the worker could edit or delete its own trail`,
    );
    await pool.query(`REVOKE UPDATE (detail) ON ${table} FROM ${roles.writer}`);
    await pool.query(`GRANT DELETE ON ${table}_checkpoints TO ${roles.writer}`);
    const sink = sinkFor(table);
    await expect(sink.append(makeEvents(WF_A, 'r1', 1, 1))).rejects.toThrow(
      `role ${roles.writer} has DELETE on ${table}_checkpoints`,
    );
    // A refusal is not remembered: once the grants are right, the same sink writes.
    await pool.query(`REVOKE DELETE ON ${table}_checkpoints FROM ${roles.writer}`);
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 1))).toBe(1);
  });

  it('with KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1 it writes as the owner, warning once', async () => {
    const table = await migrated(newTable());
    const warnings: string[] = [];
    const sink = new PostgresAuditSink(roles.ownerUrl, {
      table,
      allowPrivilegedWriter: allowPrivilegedWriterFromEnv({
        KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER: '1',
      }),
      warn: (message) => warnings.push(message),
    });
    sinks.push(sink);
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 2))).toBe(2);
    expect(await sink.append(makeEvents(WF_A, 'r1', 3, 4))).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^keystore-maint audit: WARNING: KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1: writing the audit trail to .* as a privileged role: role ${roles.owner} owns ${table}`,
      ),
    );
    expect(await verifyAuditPostgres(pool, { table })).toMatchObject({ ok: true, events: 4 });
  });

  it('reads the override from the environment: 1 on, unset or 0 off, anything else refused', () => {
    expect(allowPrivilegedWriterFromEnv({})).toBe(false);
    expect(allowPrivilegedWriterFromEnv({ KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER: '0' })).toBe(false);
    expect(allowPrivilegedWriterFromEnv({ KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER: ' 1 ' })).toBe(true);
    expect(() =>
      allowPrivilegedWriterFromEnv({ KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER: 'yes' }),
    ).toThrow(/KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER="yes" is not 1 or 0/);
  });

  it('never creates a missing table: the error names audit migrate, and the table stays missing', async () => {
    const table = newTable();
    const error = await sinkFor(table)
      .append(makeEvents(WF_A, 'r1', 1, 1))
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AuditConfigError);
    expect((error as Error).message).toContain(
      `the audit table ${table} does not exist (postgres ${roles.writerUrl.replace(':test-only@', ':***@')} table ${table}). ` +
        `The sink does not create tables: run \`keystore-maint audit migrate --grant-writer ${roles.writer}\``,
    );
    // Not even a superuser's sink creates it.
    await expect(
      new PostgresAuditSink(url, { table, allowPrivilegedWriter: true }).append(makeEvents(WF_A, 'r1', 1, 1)),
    ).rejects.toThrow(/keystore-maint audit migrate/);
    const present = await pool.query<{ present: boolean }>(
      `SELECT to_regclass($1::text) IS NOT NULL OR to_regclass($2::text) IS NOT NULL AS present`,
      [table, `${table}_checkpoints`],
    );
    expect(present.rows[0]?.present).toBe(false);
  });

  it('refuses a writer without the grants, naming what it lacks and the migrate that grants it', async () => {
    const table = newTable();
    await migrateAuditSchema(ownerPool, { table });
    await expect(sinkFor(table).append(makeEvents(WF_A, 'r1', 1, 1))).rejects.toThrow(
      `role ${roles.writer} cannot append to the audit trail (postgres ${roles.writerUrl.replace(':test-only@', ':***@')} table ${table}): ` +
        `it lacks SELECT on ${table}, INSERT on ${table}, USAGE on sequence public.${table}_id_seq. ` +
        `As the tables' owner (${roles.owner}) run \`keystore-maint audit migrate --grant-writer ${roles.writer}\``,
    );
  });

  it('--grant-writer refuses a superuser, the owner itself, an unknown role and a name that is not plain', async () => {
    const table = newTable();
    await expect(migrateAuditSchema(ownerPool, { table, grantWriter: 'postgres' })).rejects.toThrow(
      '--grant-writer postgres: postgres is a superuser',
    );
    await expect(migrateAuditSchema(ownerPool, { table, grantWriter: roles.owner })).rejects.toThrow(
      `--grant-writer ${roles.owner}: ${roles.owner} owns ${table}`,
    );
    await expect(migrateAuditSchema(ownerPool, { table, grantWriter: 'no_such_role_x' })).rejects.toThrow(
      `--grant-writer no_such_role_x: there is no such role`,
    );
    await expect(
      migrateAuditSchema(ownerPool, { table, grantWriter: 'Writer; DROP TABLE x' }),
    ).rejects.toThrow(/not a plain lower-case role name/);
    // Each refusal rolled the whole migration back.
    const present = await pool.query<{ present: boolean }>(
      `SELECT to_regclass($1::text) IS NOT NULL AS present`,
      [table],
    );
    expect(present.rows[0]?.present).toBe(false);
  });

  it('keystore-maint audit migrate --grant-writer: the CLI prints what it did, and exits 2 on a refusal', async () => {
    ensureBuilt();
    const table = newTable();
    const run = await runCli([
      'audit',
      'migrate',
      '--postgres',
      roles.ownerUrl,
      '--table',
      table,
      '--grant-writer',
      roles.writer,
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      `audit migrate: created table ${table}`,
      `audit migrate: created index ${table}_workflow_idx`,
      `audit migrate: created table ${table}_checkpoints`,
      expect.stringMatching(
        new RegExp(`^audit migrate: granted ${roles.writer} SELECT, INSERT on ${table}, `),
      ),
      `audit tables ${table} and ${table}_checkpoints are ready`,
    ]);
    expect(await sinkFor(table).append(makeEvents(WF_A, 'r1', 1, 1))).toBe(1);
    const refused = await runCli([
      'audit',
      'migrate',
      '--postgres',
      roles.ownerUrl,
      '--table',
      table,
      '--grant-writer',
      'postgres',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--grant-writer postgres: postgres is a superuser');
  });

  it('refuses to migrate as the writer, naming the role', async () => {
    const table = await migrated(newTable());
    await pool.query(`ALTER TABLE ${table} DROP COLUMN key_id`);
    await expect(migrateAuditSchema(writerPool, { table })).rejects.toThrow(
      new RegExp(
        `audit migrate for ${table} as role ${roles.writer} was refused by PostgreSQL \\(must be owner of table ${table}\\)`,
      ),
    );
  });
});

describe('verify: PostgreSQL table', () => {
  it('passes the untouched trail', async () => {
    const table = newTable();
    await writeTrail(table);
    const r = await verifyAuditPostgres(pool, { table });
    expect(r).toMatchObject({ ok: true, events: 15, runs: 3 });
  });

  it('detects a row edited with SQL', async () => {
    const table = newTable();
    await writeTrail(table);
    const id = await rowId(table, 'b1', 4);
    await pool.query(`UPDATE ${table} SET detail = jsonb_set(detail, '{step}', '99') WHERE id = $1`, [id]);
    const report = await verifyAuditPostgres(pool, { table });
    expectBreak(report, { kind: 'edited', rowId: id, runId: 'b1', seq: 4, workflowId: WF_B });
    expect(formatVerifyReport(report)).toBe(
      `postgres table ${table} row id ${id}: run ${WF_B}/b1 seq 4: hash mismatch (the event was edited after it ` +
        `was written) [edited]`,
    );
  });

  it('detects an edited time and an edited error column', async () => {
    const table = newTable();
    await writeTrail(table);
    const id = await rowId(table, 'a1', 2);
    await pool.query(`UPDATE ${table} SET at = at + interval '1 second' WHERE id = $1`, [id]);
    expectBreak(await verifyAuditPostgres(pool, { table }), {
      kind: 'edited',
      rowId: id,
      runId: 'a1',
      seq: 2,
      workflowId: WF_A,
    });
    await pool.query(
      `UPDATE ${table} SET at = at - interval '1 second', error = '{"type":"X","message":"y"}' WHERE id = $1`,
      [id],
    );
    expectBreak(await verifyAuditPostgres(pool, { table }), {
      kind: 'edited',
      rowId: id,
      runId: 'a1',
      seq: 2,
      workflowId: WF_A,
    });
  });

  it('detects a deleted row as a gap at the next row of the run', async () => {
    const table = newTable();
    await writeTrail(table);
    await pool.query(`DELETE FROM ${table} WHERE id = $1`, [await rowId(table, 'a1', 3)]);
    const next = await rowId(table, 'a1', 4);
    const report = await verifyAuditPostgres(pool, { table });
    expectBreak(report, { kind: 'gap', rowId: next, runId: 'a1', seq: 4, workflowId: WF_A });
    expect(formatVerifyReport(report)).toContain('seq 3 is missing');
  });

  it('detects a row rewritten together with its hash at the next row (broken link)', async () => {
    const table = newTable();
    await writeTrail(table);
    const id = await rowId(table, 'a2', 2);
    const stored = (await sinkFor(table, pool).readWorkflow(WF_A)).find(
      (e) => e.runId === 'a2' && e.seq === 2,
    )!;
    const forged: ChainedAuditEvent = { ...stored, actor: 'mallory' };
    await pool.query(`UPDATE ${table} SET actor = 'mallory', hash = $2 WHERE id = $1`, [
      id,
      hashEvent(forged),
    ]);
    expectBreak(await verifyAuditPostgres(pool, { table }), {
      kind: 'broken-link',
      rowId: await rowId(table, 'a2', 3),
      runId: 'a2',
      seq: 3,
      workflowId: WF_A,
    });
  });

  it('detects rows whose write order was swapped as reordered', async () => {
    const table = newTable();
    await writeTrail(table);
    const first = await rowId(table, 'b1', 3);
    const second = await rowId(table, 'b1', 4);
    await pool.query(`UPDATE ${table} SET id = -id WHERE id IN ($1, $2)`, [first, second]);
    await pool.query(`UPDATE ${table} SET id = $2 WHERE id = -$1::bigint`, [first, second]);
    await pool.query(`UPDATE ${table} SET id = $1 WHERE id = -$2::bigint`, [first, second]);
    expectBreak(await verifyAuditPostgres(pool, { table }), {
      kind: 'reordered',
      rowId: first,
      runId: 'b1',
      seq: 4,
      workflowId: WF_B,
    });
  });

  it('detects a row that is not a valid event as malformed', async () => {
    const table = newTable();
    await writeTrail(table);
    const id = await rowId(table, 'a1', 5);
    await pool.query(`UPDATE ${table} SET detail = '[1,2]' WHERE id = $1`, [id]);
    expectBreak(await verifyAuditPostgres(pool, { table }), {
      kind: 'malformed',
      rowId: id,
      runId: 'a1',
      seq: 5,
      workflowId: WF_A,
    });
  });
});
