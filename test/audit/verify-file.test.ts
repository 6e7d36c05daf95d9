/**
 * Every kind of tampering with a JSON Lines trail is detected and located: the right line, run,
 * seq and kind. The trail holds three interleaved runs of two stores, written by the real sink.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSourceNotFoundError } from '../../src/audit/errors';
import { hashEvent, recordLine } from '../../src/audit/hash-chain';
import { JsonlAuditSink } from '../../src/audit/jsonl-sink';
import {
  formatVerifyReport,
  verifyAuditEvents,
  verifyAuditFile,
  type VerifyReport,
} from '../../src/audit/verify';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';

const WF_A = workflowIdOf(STORE_A);
const WF_B = workflowIdOf(STORE_B, 'eu-central-1');
const dir = mkdtempSync(join(tmpdir(), 'audit-verify-'));
const original = join(dir, 'original.jsonl');
let pristine: string[] = [];

beforeAll(async () => {
  const sink = new JsonlAuditSink(original);
  // Interleaved: a1 1-2, b1 1-2, a1 3-4, a2 1-3, b1 3-6, a1 5-6
  await sink.append(makeEvents(WF_A, 'a1', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 1, 2));
  await sink.append(makeEvents(WF_A, 'a1', 3, 4));
  await sink.append(makeEvents(WF_A, 'a2', 1, 3));
  await sink.append(makeEvents(WF_B, 'b1', 3, 6));
  await sink.append(makeEvents(WF_A, 'a1', 5, 6));
  await sink.close();
  pristine = readFileSync(original, 'utf8').split('\n').slice(0, -1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 0-based index of the line holding run/seq in the pristine trail. */
function indexOf(runId: string, seq: number): number {
  const index = pristine.findIndex((l) => {
    const e = JSON.parse(l) as ChainedAuditEvent;
    return e.runId === runId && e.seq === seq;
  });
  if (index < 0) throw new Error(`no line for ${runId} seq ${seq}`);
  return index;
}

let fileCounter = 0;
async function verifyText(text: string): Promise<VerifyReport> {
  const file = join(dir, `tampered-${++fileCounter}.jsonl`);
  writeFileSync(file, text);
  return verifyAuditFile(file);
}

function joinLines(lines: readonly string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}

function expectBreak(
  report: VerifyReport,
  expected: { kind: string; line: number; workflowId?: string; runId?: string; seq?: number },
): void {
  expect(report.ok, formatVerifyReport(report)).toBe(false);
  if (report.ok) return;
  const b = report.firstBreak;
  expect({
    kind: b.kind,
    line: b.location.line,
    workflowId: b.workflowId,
    runId: b.runId,
    seq: b.seq,
  }).toEqual({
    workflowId: undefined,
    runId: undefined,
    seq: undefined,
    ...expected,
  });
}

describe('verify: JSON Lines file', () => {
  it('passes the untouched trail', async () => {
    const report = await verifyAuditFile(original);
    expect(report).toEqual({ ok: true, source: original, events: 15, runs: 3, keyed: 0 });
    expect(formatVerifyReport(report)).toBe(
      `${original}: OK: 15 event(s) in 3 run(s), every chain intact. The records are not sealed with an audit key: anyone who can write the trail could rewrite it consistently (set KEYSTORE_MAINT_AUDIT_KEY_FILE).`,
    );
  });

  it('detects an edited field (hash mismatch) at its line', async () => {
    const lines = [...pristine];
    const i = indexOf('b1', 3);
    const event = JSON.parse(lines[i]!) as ChainedAuditEvent;
    lines[i] = JSON.stringify({ ...event, actor: 'mallory' });
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'edited', line: i + 1, workflowId: WF_B, runId: 'b1', seq: 3 });
    expect(formatVerifyReport(report)).toBe(
      `${join(dir, `tampered-${fileCounter}.jsonl`)} line ${i + 1}: run ${WF_B}/b1 seq 3: hash mismatch ` +
        `(the event was edited after it was written) [edited]`,
    );
  });

  it('detects a nested detail edit and an added member as edits', async () => {
    for (const change of [
      (e: ChainedAuditEvent) => ({
        ...e,
        detail: { ...e.detail, kms: { operation: 'X', requestId: 'forged' } },
      }),
      (e: ChainedAuditEvent) => ({ ...e, note: 'added later' }),
    ]) {
      const lines = [...pristine];
      const i = indexOf('a2', 2);
      // Spelled the way the sink writes lines: a careful forger's edit.
      lines[i] = recordLine(change(JSON.parse(lines[i]!) as ChainedAuditEvent));
      expectBreak(await verifyText(joinLines(lines)), {
        kind: 'edited',
        line: i + 1,
        workflowId: WF_A,
        runId: 'a2',
        seq: 2,
      });
    }
  });

  it('detects an event rewritten together with its hash at the next event (broken link)', async () => {
    const lines = [...pristine];
    const i = indexOf('a1', 3);
    const event = JSON.parse(lines[i]!) as ChainedAuditEvent;
    const forged = { ...event, outcome: 'failed' as const };
    lines[i] = JSON.stringify({ ...forged, hash: hashEvent(forged) });
    const report = await verifyText(joinLines(lines));
    expectBreak(report, {
      kind: 'broken-link',
      line: indexOf('a1', 4) + 1,
      workflowId: WF_A,
      runId: 'a1',
      seq: 4,
    });
    expect(formatVerifyReport(report)).toContain(
      `prevHash does not match the hash of seq 3 at line ${i + 1}`,
    );
  });

  it('detects a deleted line as a gap at the next event of the run', async () => {
    const i = indexOf('b1', 4);
    const lines = pristine.filter((_, index) => index !== i);
    const next = indexOf('b1', 5) - 1; // one line fewer above it now
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'gap', line: next + 1, workflowId: WF_B, runId: 'b1', seq: 5 });
    expect(formatVerifyReport(report)).toContain('expected seq 4 before it, but seq 4 is missing');
  });

  it('detects a deleted first event of a run (the chain must start at seq 1)', async () => {
    const i = indexOf('a2', 1);
    const lines = pristine.filter((_, index) => index !== i);
    expectBreak(await verifyText(joinLines(lines)), {
      kind: 'gap',
      line: i + 1,
      workflowId: WF_A,
      runId: 'a2',
      seq: 2,
    });
  });

  it('detects two swapped lines of one run as reordered, where the order first goes wrong', async () => {
    const lines = [...pristine];
    const i = indexOf('a2', 2);
    const j = indexOf('a2', 3);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'reordered', line: i + 1, workflowId: WF_A, runId: 'a2', seq: 3 });
    if (!report.ok) expect(report.firstBreak.related?.line).toBe(j + 1);
  });

  it("detects lines of different runs that trade places: the sink's own order is linked too", async () => {
    const lines = [...pristine];
    const i = indexOf('b1', 2);
    const j = indexOf('a1', 3);
    expect(j).toBe(i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'broken-link', line: i + 1, workflowId: WF_A, runId: 'a1', seq: 3 });
    expect(formatVerifyReport(report)).toContain('sinkPrev does not match the record before it');
  });

  it('detects a truncated last line', async () => {
    const last = pristine[pristine.length - 1]!;
    const text = joinLines(pristine.slice(0, -1)) + last.slice(0, Math.floor(last.length / 2));
    const report = await verifyText(text);
    expectBreak(report, { kind: 'truncated', line: pristine.length, workflowId: WF_A, runId: 'a1', seq: 6 });
    expect(formatVerifyReport(report)).toContain('not complete JSON');
  });

  it('detects a last line whose newline was cut off', async () => {
    const text = joinLines(pristine).slice(0, -1);
    expectBreak(await verifyText(text), {
      kind: 'truncated',
      line: pristine.length,
      workflowId: WF_A,
      runId: 'a1',
      seq: 6,
    });
  });

  it('detects an inserted duplicate of an earlier line', async () => {
    const lines = [...pristine];
    const copy = lines[indexOf('b1', 2)]!;
    const at = indexOf('b1', 5) + 1;
    lines.splice(at, 0, copy);
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'duplicate', line: at + 1, workflowId: WF_B, runId: 'b1', seq: 2 });
    if (!report.ok) expect(report.firstBreak.related?.line).toBe(indexOf('b1', 2) + 1);
  });

  it('detects a line repeated right after itself (a replayed write)', async () => {
    const lines = [...pristine];
    const i = indexOf('a1', 2);
    lines.splice(i + 1, 0, lines[i]!);
    expectBreak(await verifyText(joinLines(lines)), {
      kind: 'duplicate',
      line: i + 2,
      workflowId: WF_A,
      runId: 'a1',
      seq: 2,
    });
  });

  it('detects malformed lines: not JSON, empty, or not an event', async () => {
    const i = indexOf('a1', 2);
    for (const bad of ['garbage{', '', '{"schemaVersion":1,"workflowId":"x"}', '[1,2]']) {
      const lines = [...pristine];
      lines[i] = bad;
      expectBreak(await verifyText(joinLines(lines)), {
        kind: 'malformed',
        line: i + 1,
        ...(bad.includes('"x"') ? { workflowId: 'x' } : {}),
      });
    }
  });

  it('reports a newer schema version as malformed with the reason', async () => {
    const lines = [...pristine];
    const i = indexOf('a1', 1);
    lines[i] = JSON.stringify({ ...(JSON.parse(lines[i]!) as object), schemaVersion: 2 });
    const report = await verifyText(joinLines(lines));
    expectBreak(report, { kind: 'malformed', line: i + 1, workflowId: WF_A, runId: 'a1', seq: 1 });
    expect(formatVerifyReport(report)).toContain('upgrade keystore-maint');
  });

  it('passes an empty file and refuses a missing one with what to do', async () => {
    expect(await verifyText('')).toMatchObject({ ok: true, events: 0, runs: 0 });
    await expect(verifyAuditFile(join(dir, 'nope.jsonl'))).rejects.toThrow(AuditSourceNotFoundError);
  });

  it('verifies events held in memory (e.g. collected stdout lines) the same way', () => {
    const events = pristine.map((l) => JSON.parse(l) as unknown);
    expect(verifyAuditEvents(events).ok).toBe(true);
    const tampered = [...events];
    tampered.splice(3, 1);
    expect(verifyAuditEvents(tampered, 'collected').ok).toBe(false);
  });
});
