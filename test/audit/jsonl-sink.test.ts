import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AuditFileDamagedError,
  AuditSequenceGapError,
  AuditSourceNotFoundError,
} from '../../src/audit/errors';
import { JsonlAuditSink } from '../../src/audit/jsonl-sink';
import { verifyAuditFile } from '../../src/audit/verify';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { makeEvent, makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';

const WF_A = workflowIdOf(STORE_A);
const WF_B = workflowIdOf(STORE_B, 'eu-central-1');
const dir = mkdtempSync(join(tmpdir(), 'audit-jsonl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function freshFile(): string {
  return join(dir, `trail-${++counter}.jsonl`);
}

function lines(file: string): ChainedAuditEvent[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ChainedAuditEvent);
}

function keys(events: readonly ChainedAuditEvent[]): string[] {
  return events.map((e) => `${e.workflowId}|${e.runId}|${e.seq}`);
}

describe('JSON Lines sink', () => {
  it('writes one chained JSON object per line, creating the directory', async () => {
    const file = join(dir, 'nested', 'deeper', 'trail.jsonl');
    const sink = new JsonlAuditSink(file);
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 3))).toBe(3);
    await sink.close();
    const stored = lines(file);
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(stored[0]!.prevHash).toBe('');
    expect(stored[1]!.prevHash).toBe(stored[0]!.hash);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    expect((await verifyAuditFile(file)).ok).toBe(true);
  });

  it('adds nothing when the same batch is appended twice', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    const batch = makeEvents(WF_A, 'r1', 1, 4);
    expect(await sink.append(batch)).toBe(4);
    const before = readFileSync(file, 'utf8');
    expect(await sink.append(batch)).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('appends only the new part of an overlapping batch', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 5));
    expect(await sink.append(makeEvents(WF_A, 'r1', 3, 8))).toBe(3);
    expect(lines(file).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await verifyAuditFile(file)).ok).toBe(true);
  });

  it('stays idempotent across sink instances (a worker restart) reading the file it finds', async () => {
    const file = freshFile();
    await new JsonlAuditSink(file).append(makeEvents(WF_A, 'r1', 1, 3));
    const restarted = new JsonlAuditSink(file);
    expect(await restarted.append(makeEvents(WF_A, 'r1', 1, 3))).toBe(0);
    expect(await restarted.append(makeEvents(WF_A, 'r1', 2, 4))).toBe(1);
    expect(lines(file)).toHaveLength(4);
    expect((await verifyAuditFile(file)).ok).toBe(true);
  });

  it('refuses an append that would leave a gap, naming the run and the expected seq', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 3));
    const error = await sink.append(makeEvents(WF_A, 'r1', 5, 6)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AuditSequenceGapError);
    expect((error as AuditSequenceGapError).expectedSeq).toBe(4);
    expect((error as Error).message).toContain(`run ${WF_A}/r1 expects seq 4`);
    // A run's first append must start at seq 1.
    await expect(sink.append(makeEvents(WF_A, 'r2', 2, 3))).rejects.toThrow(/expects seq 1/);
    expect(lines(file)).toHaveLength(3);
  });

  it('writes nothing of a multi-run batch when one run has a gap', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 2));
    await expect(
      sink.append([...makeEvents(WF_B, 'b1', 1, 2), ...makeEvents(WF_A, 'r1', 4, 4)]),
    ).rejects.toThrow(AuditSequenceGapError);
    expect(lines(file)).toHaveLength(2);
  });

  it('sees what another writer appended since it last looked', async () => {
    const file = freshFile();
    const one = new JsonlAuditSink(file);
    const two = new JsonlAuditSink(file);
    await one.append(makeEvents(WF_A, 'r1', 1, 2));
    await two.append(makeEvents(WF_A, 'r1', 1, 4));
    // `one` last saw seq 2; it must pick up 3..4 from the file and chain 5 onto 4.
    expect(await one.append(makeEvents(WF_A, 'r1', 3, 5))).toBe(1);
    expect(lines(file).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect((await verifyAuditFile(file)).ok).toBe(true);
  });

  it('keeps every chain whole when several sinks of one process append concurrently', async () => {
    const file = freshFile();
    const sinks = [new JsonlAuditSink(file), new JsonlAuditSink(file), new JsonlAuditSink(file)];
    const runs = [
      { wf: WF_A, run: 'a1' },
      { wf: WF_A, run: 'a2' },
      { wf: WF_B, run: 'b1' },
    ];
    const appends: Promise<number>[] = [];
    for (let seq = 1; seq <= 30; seq += 3) {
      sinks.forEach((sink, i) => {
        // Every sink writes every run (the same events: retries), each in its own batch sizes.
        for (const { wf, run } of runs)
          appends.push(sink.append(makeEvents(wf, run, 1, Math.min(30, seq + i))));
      });
    }
    const written = await Promise.all(appends);
    expect(written.reduce((a, b) => a + b, 0)).toBe(90);
    const stored = lines(file);
    expect(new Set(keys(stored)).size).toBe(90);
    expect(stored).toHaveLength(90);
    const report = await verifyAuditFile(file);
    expect(report).toMatchObject({ ok: true, events: 90, runs: 3 });
  });

  it('refuses to append after an incomplete last line, and says how to repair', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 2));
    const size = readFileSync(file).length;
    appendFileSync(file, '{"schemaVersion":1,"workflowId":"cut');
    const error = await sink.append(makeEvents(WF_A, 'r1', 3, 3)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AuditFileDamagedError);
    expect((error as Error).message).toContain(`truncate -s ${size}`);
    // Repaired as the message says, appends go on.
    writeFileSync(file, readFileSync(file).subarray(0, size));
    expect(await sink.append(makeEvents(WF_A, 'r1', 3, 3))).toBe(1);
    expect((await verifyAuditFile(file)).ok).toBe(true);
  });

  it('starts over when the file is replaced (rotated)', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 3));
    rmSync(file);
    // Without the old file the run's history is gone from this trail: seq 4 would be a gap.
    await expect(sink.append(makeEvents(WF_A, 'r1', 4, 4))).rejects.toThrow(/expects seq 1/);
    expect(await sink.append(makeEvents(WF_A, 'r2', 1, 1))).toBe(1);
  });

  it('reads one workflow back, and finds workflow ids by store', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file);
    await sink.append(makeEvents(WF_A, 'r1', 1, 2));
    await sink.append(makeEvents(WF_B, 'b1', 1, 3));
    await sink.append(makeEvents(WF_A, 'r2', 1, 1));
    // A workflow id of another shape that names the store only in its detail.
    await sink.append([makeEvent('fleet/2025-03', 'f1', 1, { detail: { customKeyStoreId: STORE_A } })]);
    const trail = await sink.readWorkflow(WF_A);
    expect(trail.map((e) => `${e.runId}:${e.seq}`)).toEqual(['r1:1', 'r1:2', 'r2:1']);
    expect(trail[1]!.prevHash).toBe(trail[0]!.hash);
    expect(await sink.findWorkflowIdsForStore(STORE_A)).toEqual([WF_A, 'fleet/2025-03']);
    expect(await sink.findWorkflowIdsForStore(STORE_B)).toEqual([WF_B]);
    expect(await sink.findWorkflowIdsForStore('cks-00000000000000000')).toEqual([]);
  });

  it('says so when the file to read does not exist', async () => {
    const sink = new JsonlAuditSink(join(dir, 'missing.jsonl'));
    await expect(sink.readWorkflow(WF_A)).rejects.toThrow(AuditSourceNotFoundError);
  });

  it('waits for a lock held by a live process and breaks one left by a dead process', async () => {
    const file = freshFile();
    const sink = new JsonlAuditSink(file, { lock: { timeoutMs: 300 } });
    // Held by this (live) process under another token: the append must time out, not write.
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: process.pid, host: (await import('node:os')).hostname(), token: 'x' }),
    );
    await expect(sink.append(makeEvents(WF_A, 'r1', 1, 1))).rejects.toThrow(/could not lock the audit file/);
    // Left by a process that no longer exists: broken at once.
    writeFileSync(
      `${file}.lock`,
      JSON.stringify({ pid: 2 ** 22 + 7, host: (await import('node:os')).hostname(), token: 'y' }),
    );
    expect(await sink.append(makeEvents(WF_A, 'r1', 1, 1))).toBe(1);
  });

  it('refuses appends after close', async () => {
    const sink = new JsonlAuditSink(freshFile());
    await sink.close();
    await expect(sink.append(makeEvents(WF_A, 'r1', 1, 1))).rejects.toThrow(/closed/);
  });
});
