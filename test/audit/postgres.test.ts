/**
 * The PostgreSQL sink and verify against a real server (scripts/ensure-postgres.sh). Each test
 * works in a table of its own, dropped afterwards.
 */
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditSequenceGapError, AuditSourceNotFoundError } from '../../src/audit/errors';
import { hashEvent } from '../../src/audit/hash-chain';
import { migrateAuditSchema, PostgresAuditSink } from '../../src/audit/postgres-sink';
import { formatVerifyReport, verifyAuditPostgres, type VerifyReport } from '../../src/audit/verify';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { makeEvent, makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';
import { testPool, testPostgresUrl, uniqueTable } from './support/postgres';

const WF_A = workflowIdOf(STORE_A);
const WF_B = workflowIdOf(STORE_B, 'eu-central-1');

let url: string;
let pool: Pool;
const tables: string[] = [];
const sinks: PostgresAuditSink[] = [];

beforeAll(() => {
  url = testPostgresUrl();
  pool = testPool(url);
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  for (const table of tables.splice(0)) await pool.query(`DROP TABLE IF EXISTS ${table}`);
});
afterAll(async () => {
  await pool.end();
});

function newTable(): string {
  const table = uniqueTable();
  tables.push(table);
  return table;
}

function sinkFor(table: string, target: string | Pool = url): PostgresAuditSink {
  const sink = new PostgresAuditSink(target, { table });
  sinks.push(sink);
  return sink;
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
  const sink = sinkFor(table, pool);
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
    await Promise.all([migrateAuditSchema(pool, { table }), migrateAuditSchema(pool, { table })]);
    await migrateAuditSchema(pool, { table });
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
      hash: 'text',
    });
    const unique = await pool.query(`SELECT 1 FROM pg_constraint WHERE conname = $1 AND contype = 'u'`, [
      `${table}_run_seq_key`,
    ]);
    expect(unique.rowCount).toBe(1);
  });

  it('stores chained rows that read back as the events that were hashed', async () => {
    const table = newTable();
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
    for (const event of trail) expect(hashEvent(event)).toBe(event.hash);
    expect(trail[1]).toMatchObject({ error: withError.error, detail: withError.detail, at: withError.at });
    expect('error' in trail[0]!).toBe(false);
    expect(await verifyAuditPostgres(url, { table })).toEqual({
      ok: true,
      source: `postgres table ${table}`,
      events: 2,
      runs: 1,
    });
  });

  it('adds nothing for a repeated batch and only the new part of an overlapping one', async () => {
    const table = newTable();
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
    const table = newTable();
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
    const table = newTable();
    await migrateAuditSchema(pool, { table });
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
    expect(await verifyAuditPostgres(pool, { table })).toMatchObject({ ok: true, events: 60, runs: 3 });
  });

  it('finds workflow ids by store', async () => {
    const table = newTable();
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
