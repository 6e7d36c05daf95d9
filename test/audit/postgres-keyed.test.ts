/**
 * The keyed chain in PostgreSQL, claim by claim (docs/audit.md, "What verify detects, and what
 * it does not"), as deployed: the owner role migrates and grants, the worker's writer role (only
 * SELECT and INSERT) appends with the audit key, and each tampering is done by whoever could do
 * it — the owner for edits and deletions, the writer for invented rows and checkpoints.
 */
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuditSink } from '../../src/audit';
import { canonicalJson } from '../../src/audit/canonical-json';
import { migrateAuditSchema, PostgresAuditSink } from '../../src/audit/postgres-sink';
import {
  AuditKeyNeededError,
  formatVerifyReport,
  verifyAuditPostgres,
  type VerifyReport,
} from '../../src/audit/verify';
import type { AuditEvent, ChainedAuditEvent } from '../../src/domain/audit-event';
import { newTestAuditKey, type TestAuditKey } from '../support/audit-key';
import { makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';
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
/** The superuser: inspection only. */
let pool: Pool;
let roles: TestRoles;
let ownerPool: Pool;
let writerPool: Pool;
let key: TestAuditKey;
const tables: string[] = [];
const sinks: PostgresAuditSink[] = [];

beforeAll(async () => {
  url = testPostgresUrl();
  pool = testPool(url);
  roles = await createTestRoles(pool, url);
  ownerPool = testPool(roles.ownerUrl);
  writerPool = testPool(roles.writerUrl);
  key = newTestAuditKey();
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

/** A migrated table (as the owner, granting the writer) that no other test uses. */
async function newTable(): Promise<string> {
  const table = uniqueTable();
  tables.push(table);
  await migrateAuditSchema(ownerPool, { table, grantWriter: roles.writer });
  return table;
}

function writerSink(table: string, sinkKey: TestAuditKey | null = key): PostgresAuditSink {
  const sink = new PostgresAuditSink(roles.writerUrl, { table, ...(sinkKey ? { key: sinkKey.key } : {}) });
  sinks.push(sink);
  return sink;
}

/** Three runs in six appends (a1 1-2, b1 1-3, a1 3-4, a2 1-2, b1 4-5, a1 5-6): 13 rows, 6 checkpoints. */
async function keyedTrail(): Promise<string> {
  const table = await newTable();
  const sink = writerSink(table);
  await sink.append(makeEvents(WF_A, 'a1', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 1, 3));
  await sink.append(makeEvents(WF_A, 'a1', 3, 4));
  await sink.append(makeEvents(WF_A, 'a2', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 4, 5));
  await sink.append(makeEvents(WF_A, 'a1', 5, 6));
  return table;
}

interface StoredRow {
  id: string;
  run_id: string;
  seq: number;
  hash: string;
  sink_prev: string | null;
  key_id: string | null;
}

async function rowsOf(table: string): Promise<StoredRow[]> {
  const result = await pool.query<StoredRow>(
    `SELECT id::text AS id, run_id, seq, hash, sink_prev, key_id FROM ${table} AS t ORDER BY t.id`,
  );
  return result.rows;
}

async function checkpointsOf(
  table: string,
): Promise<{ id: string; records: string; head: string; key_id: string; prev: string; mac: string }[]> {
  const result = await pool.query<{
    id: string;
    records: string;
    head: string;
    key_id: string;
    prev: string;
    mac: string;
  }>(
    `SELECT id::text AS id, records::text AS records, head, key_id, prev, mac FROM ${table}_checkpoints AS c ORDER BY c.id`,
  );
  return result.rows;
}

async function rowId(table: string, runId: string, seq: number): Promise<string> {
  const row = (await rowsOf(table)).find((r) => r.run_id === runId && r.seq === seq);
  if (!row) throw new Error(`no row for ${runId} seq ${seq}`);
  return row.id;
}

function verify(table: string, options: { allowUnkeyed?: boolean } = {}): Promise<VerifyReport> {
  return verifyAuditPostgres(pool, { table, key: key.key, allowUnkeyed: options.allowUnkeyed === true });
}

function breakOf(report: VerifyReport): { kind: string; source: string; rowId: string | undefined } {
  expect(report.ok, formatVerifyReport(report)).toBe(false);
  return report.ok
    ? { kind: 'ok', source: '', rowId: undefined }
    : {
        kind: report.firstBreak.kind,
        source: report.firstBreak.location.source,
        rowId: report.firstBreak.location.rowId,
      };
}

/** Inserts a row as the writer role could, bypassing the sink: `record` is stored as given. */
async function insertAsWriter(table: string, record: ChainedAuditEvent): Promise<void> {
  await writerPool.query(
    `INSERT INTO ${table} (schema_version, workflow_id, run_id, seq, at, phase, action, actor, outcome, detail,
       prev_hash, sink_prev, key_id, hash)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      record.schemaVersion,
      record.workflowId,
      record.runId,
      record.seq,
      record.at,
      record.phase,
      record.action,
      record.actor,
      record.outcome,
      JSON.stringify(record.detail),
      record.prevHash,
      record.sinkPrev ?? null,
      record.keyId ?? null,
      record.hash,
    ],
  );
}

/** A new run `b9` seq 1 linked after the last row, sealed by `seal` (not the sink). */
async function invented(
  table: string,
  seal: (record: AuditEvent & { prevHash: string; sinkPrev: string }) => ChainedAuditEvent,
): Promise<ChainedAuditEvent> {
  const rows = await rowsOf(table);
  const last = rows[rows.length - 1]!;
  return seal({ ...makeEvents(WF_B, 'b9', 1, 1)[0]!, prevHash: '', sinkPrev: last.hash });
}

describe('a keyed PostgreSQL trail', () => {
  it('verifies as written: every row sealed and linked, one signed checkpoint per append', async () => {
    const table = await keyedTrail();
    const rows = await rowsOf(table);
    expect(rows).toHaveLength(13);
    rows.forEach((row, i) => {
      expect(row.key_id).toBe(key.key.id);
      expect(row.sink_prev).toBe(i === 0 ? '' : rows[i - 1]!.hash);
    });
    const checkpoints = await checkpointsOf(table);
    expect(checkpoints.map((c) => Number(c.records))).toEqual([2, 5, 7, 9, 11, 13]);
    expect(checkpoints.map((c) => c.head)).toEqual([1, 4, 6, 8, 10, 12].map((i) => rows[i]!.hash));
    checkpoints.forEach((c, i) => {
      expect(c.key_id).toBe(key.key.id);
      expect(c.prev).toBe(i === 0 ? '' : checkpoints[i - 1]!.mac);
    });
    const report = await verify(table);
    expect(report).toMatchObject({ ok: true, events: 13, runs: 3, keyed: 13 });
    expect(report.lastCheckpoint).toMatchObject({ records: 13, head: rows[12]!.hash });
    expect(formatVerifyReport(report)).toMatch(
      /Every record sealed with the audit key\. Last checkpoint: 13 record\(s\) at .*, head [0-9a-f]{64}/,
    );
    // Read back for export with their links and key id, and the seals check out.
    const trail = await writerSink(table).readWorkflow(WF_A);
    expect(trail.every((e) => e.keyId === key.key.id && typeof e.sinkPrev === 'string')).toBe(true);
  });

  it('needs its key: without it verify says which key', async () => {
    const table = await keyedTrail();
    await expect(verifyAuditPostgres(pool, { table })).rejects.toBeInstanceOf(AuditKeyNeededError);
    await expect(verifyAuditPostgres(pool, { table })).rejects.toThrow(`sealed with audit key ${key.key.id}`);
  });

  it('retried and empty appends add no checkpoint', async () => {
    const table = await keyedTrail();
    expect(await writerSink(table).append(makeEvents(WF_A, 'a1', 1, 6))).toBe(0);
    expect(await checkpointsOf(table)).toHaveLength(6);
    expect((await verify(table)).ok).toBe(true);
  });

  it('is what createAuditSink builds for the postgres sink with a key', async () => {
    const table = await newTable();
    const sink = createAuditSink({ kind: 'postgres', url: roles.writerUrl, table }, { key: key.key });
    try {
      expect(await sink.append(makeEvents(WF_A, 'r1', 1, 3))).toBe(3);
    } finally {
      await sink.close();
    }
    expect((await rowsOf(table)).every((r) => r.key_id === key.key.id)).toBe(true);
    expect(await checkpointsOf(table)).toHaveLength(1);
    expect(await verify(table)).toMatchObject({ ok: true, keyed: 3, lastCheckpoint: { records: 3 } });
  });
});

describe('what verify detects in PostgreSQL', () => {
  it('a row edited by the owner with UPDATE', async () => {
    const table = await keyedTrail();
    const id = await rowId(table, 'b1', 2);
    await ownerPool.query(`UPDATE ${table} SET actor = 'mallory' WHERE id = $1`, [id]);
    const report = await verify(table);
    expect(breakOf(report)).toEqual({ kind: 'edited', source: `postgres table ${table}`, rowId: id });
    expect(formatVerifyReport(report)).toContain(
      'its seal does not match (the event was edited after it was written, or forged without the key)',
    );
  });

  it('a whole run deleted from the middle by the owner (sink_prev)', async () => {
    const table = await keyedTrail();
    await ownerPool.query(`DELETE FROM ${table} WHERE run_id = 'a2'`);
    const next = await rowId(table, 'b1', 4);
    const report = await verify(table);
    expect(breakOf(report)).toEqual({ kind: 'broken-link', source: `postgres table ${table}`, rowId: next });
    expect(formatVerifyReport(report)).toMatch(/sinkPrev does not match the record before it at row id \d+/);
  });

  it('rows deleted at the end, through the checkpoints table', async () => {
    const table = await keyedTrail();
    const rows = await rowsOf(table);
    await ownerPool.query(`DELETE FROM ${table} WHERE id IN ($1, $2)`, [rows[11]!.id, rows[12]!.id]);
    const checkpoints = await checkpointsOf(table);
    const report = await verify(table);
    expect(breakOf(report)).toEqual({
      kind: 'truncated',
      source: `postgres table ${table}_checkpoints`,
      rowId: checkpoints[5]!.id,
    });
    expect(formatVerifyReport(report)).toMatch(
      new RegExp(
        `^postgres table ${table}_checkpoints row id ${checkpoints[5]!.id}: the checkpoint of .* covers 13 records, ` +
          `the trail has 11: records were cut off its end \\[truncated\\]$`,
      ),
    );
  });

  it('rows deleted at the end with every checkpoint deleted too', async () => {
    const table = await keyedTrail();
    await ownerPool.query(`DELETE FROM ${table} WHERE run_id = 'a1' AND seq >= 5`);
    await ownerPool.query(`DELETE FROM ${table}_checkpoints`);
    const report = await verify(table);
    expect(breakOf(report).kind).toBe('truncated');
    expect(formatVerifyReport(report)).toContain(
      `the trail is sealed with the audit key but the checkpoints table ${table}_checkpoints holds no checkpoint`,
    );
    await ownerPool.query(`DROP TABLE ${table}_checkpoints`);
    expect(formatVerifyReport(await verify(table))).toContain(
      `the checkpoints table ${table}_checkpoints is missing`,
    );
  });

  it('a row invented by the writer role and sealed without the key', async () => {
    const table = await keyedTrail();
    // Plain SHA-256, as the unkeyed sink would: refused as unsealed.
    await insertAsWriter(
      table,
      await invented(table, (record) => ({
        ...record,
        hash: createHash('sha256').update(canonicalJson(record)).digest('hex'),
      })),
    );
    const report = await verify(table);
    expect(breakOf(report)).toEqual({
      kind: 'unkeyed',
      source: `postgres table ${table}`,
      rowId: await rowId(table, 'b9', 1),
    });
  });

  it('a row invented with the key id but a seal made without the key, or under another key', async () => {
    const table = await keyedTrail();
    await insertAsWriter(
      table,
      await invented(table, (record) => {
        const claimed = { ...record, keyId: key.key.id };
        return { ...claimed, hash: createHash('sha256').update(canonicalJson(claimed)).digest('hex') };
      }),
    );
    expect(breakOf(await verify(table)).kind).toBe('edited');
    await ownerPool.query(`DELETE FROM ${table} WHERE run_id = 'b9'`);
    const other = newTestAuditKey();
    await insertAsWriter(
      table,
      await invented(table, (record) => {
        const claimed = { ...record, keyId: other.key.id };
        return { ...claimed, hash: other.key.mac(canonicalJson(claimed)) };
      }),
    );
    expect(breakOf(await verify(table)).kind).toBe('forged');
  });

  it('a checkpoint invented by the writer role (it may INSERT, it cannot seal)', async () => {
    const table = await keyedTrail();
    const last = (await checkpointsOf(table))[5]!;
    await writerPool.query(
      `INSERT INTO ${table}_checkpoints (at, records, head, key_id, prev, mac) VALUES (now(), 20, $1, $2, $3, $4)`,
      [last.head, key.key.id, last.mac, 'f'.repeat(64)],
    );
    const report = await verify(table);
    expect(breakOf(report).kind).toBe('forged');
    expect(formatVerifyReport(report)).toMatch(
      /checkpoint row id \d+: its seal does not match \(edited, or forged without the key\) \[forged\]$/,
    );
  });

  it('a checkpoint edited or removed from between others by the owner', async () => {
    const table = await keyedTrail();
    const checkpoints = await checkpointsOf(table);
    await ownerPool.query(`UPDATE ${table}_checkpoints SET records = 3 WHERE id = $1`, [checkpoints[1]!.id]);
    expect(breakOf(await verify(table))).toEqual({
      kind: 'forged',
      source: `postgres table ${table}_checkpoints`,
      rowId: checkpoints[1]!.id,
    });
    await ownerPool.query(`DELETE FROM ${table}_checkpoints WHERE id = $1`, [checkpoints[1]!.id]);
    const report = await verify(table);
    expect(breakOf(report)).toEqual({
      kind: 'forged',
      source: `postgres table ${table}_checkpoints`,
      rowId: checkpoints[2]!.id,
    });
    expect(formatVerifyReport(report)).toContain('it does not follow the checkpoint before it');
  });
});

describe('what verify does not detect in PostgreSQL (the stated limits)', () => {
  it('both tables cut back together, consistently, to an earlier checkpoint', async () => {
    const table = await keyedTrail();
    const checkpoints = await checkpointsOf(table);
    const fourth = checkpoints[3]!;
    const rows = await rowsOf(table);
    await ownerPool.query(`DELETE FROM ${table} WHERE id > $1`, [rows[Number(fourth.records) - 1]!.id]);
    await ownerPool.query(`DELETE FROM ${table}_checkpoints WHERE id > $1`, [fourth.id]);
    const report = await verify(table);
    // Consistent, so it passes: keep a copy of the checkpoints where the trail's writers cannot write.
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ events: 9, lastCheckpoint: { records: 9, head: fourth.head } });
  });

  it('rows written before the key are accepted only with allowUnkeyed; the first checkpoint counts them', async () => {
    const table = await newTable();
    await writerSink(table, null).append(makeEvents(WF_A, 'old', 1, 3));
    expect(await checkpointsOf(table)).toEqual([]);
    await writerSink(table).append(makeEvents(WF_A, 'new', 1, 2));
    expect((await checkpointsOf(table)).map((c) => Number(c.records))).toEqual([5]);
    expect(breakOf(await verify(table)).kind).toBe('unkeyed');
    const report = await verify(table, { allowUnkeyed: true });
    expect(report).toMatchObject({ ok: true, events: 5, keyed: 2, lastCheckpoint: { records: 5 } });
    expect(formatVerifyReport(report)).toMatch(/3 record\(s\) are not sealed with the audit key/);
  });
});

describe('concurrent keyed writers', () => {
  it('keep one chain through the table and a checkpoint sequence that matches it', async () => {
    const table = await newTable();
    const writers = [writerSink(table), writerSink(table), writerSink(table)];
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
    // Gaps (a writer ahead of what is stored) are refused and retried by their workflows.
    await Promise.allSettled(appends);
    for (const { wf, run } of runs) await writers[1]!.append(makeEvents(wf, run, 1, 20));
    const rows = await rowsOf(table);
    expect(rows).toHaveLength(60);
    rows.forEach((row, i) => expect(row.sink_prev).toBe(i === 0 ? '' : rows[i - 1]!.hash));
    const checkpoints = await checkpointsOf(table);
    const counts = checkpoints.map((c) => Number(c.records));
    expect(counts[counts.length - 1]).toBe(60);
    for (const [i, c] of checkpoints.entries()) {
      expect(c.head).toBe(rows[Number(c.records) - 1]!.hash);
      if (i > 0) expect(Number(c.records)).toBeGreaterThan(counts[i - 1]!);
    }
    expect(await verify(table)).toMatchObject({ ok: true, events: 60, runs: 3, keyed: 60 });
  });
});
