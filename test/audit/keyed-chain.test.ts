/**
 * The keyed audit chain, claim by claim (docs/audit.md, "What verify detects, and what it does
 * not"): each detection claim is a tampering done here and seen refused; each stated limit is a
 * tampering done here and seen pass, so the documentation cannot promise more than the code does.
 * The security review's attacks are among them: 300,000 events from a ten-line generator, a line
 * with a duplicated key, a line far longer than any event.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical-json';
import { checkpointFileOf } from '../../src/audit/checkpoints';
import { recordLine } from '../../src/audit/hash-chain';
import { JsonlAuditSink } from '../../src/audit/jsonl-sink';
import {
  AuditKeyNeededError,
  formatVerifyReport,
  verifyAuditFile,
  type VerifyReport,
} from '../../src/audit/verify';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { newTestAuditKey, type TestAuditKey } from '../support/audit-key';
import { makeEvents, STORE_A, STORE_B, workflowIdOf } from './support/events';

const WF_A = workflowIdOf(STORE_A);
const WF_B = workflowIdOf(STORE_B, 'eu-central-1');
const dir = mkdtempSync(join(tmpdir(), 'audit-keyed-'));
const trail = join(dir, 'trail.jsonl');
let key: TestAuditKey;
let lines: string[] = [];
let checkpoints: string[] = [];

beforeAll(async () => {
  key = newTestAuditKey();
  const sink = new JsonlAuditSink(trail, { key: key.key });
  // Three runs, appended in six batches: a1 1-2, b1 1-3, a1 3-4, a2 1-2, b1 4-5, a1 5-6.
  await sink.append(makeEvents(WF_A, 'a1', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 1, 3));
  await sink.append(makeEvents(WF_A, 'a1', 3, 4));
  await sink.append(makeEvents(WF_A, 'a2', 1, 2));
  await sink.append(makeEvents(WF_B, 'b1', 4, 5));
  await sink.append(makeEvents(WF_A, 'a1', 5, 6));
  await sink.close();
  lines = readFileSync(trail, 'utf8').split('\n').slice(0, -1);
  checkpoints = readFileSync(checkpointFileOf(trail), 'utf8').split('\n').slice(0, -1);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** Writes a tampered copy (trail and, unless given, its checkpoints as they were) and verifies it. */
async function verifyCopy(
  trailLines: readonly string[],
  options: { checkpoints?: readonly string[] | null; allowUnkeyed?: boolean; key?: TestAuditKey | null } = {},
): Promise<VerifyReport> {
  const file = join(dir, `copy-${++counter}.jsonl`);
  writeFileSync(file, trailLines.map((l) => `${l}\n`).join(''));
  const cps = options.checkpoints === undefined ? checkpoints : options.checkpoints;
  if (cps !== null) writeFileSync(checkpointFileOf(file), cps.map((l) => `${l}\n`).join(''));
  const k = options.key === undefined ? key : options.key;
  return verifyAuditFile(file, { ...(k ? { key: k.key } : {}), allowUnkeyed: options.allowUnkeyed === true });
}

function parsed(line: string | undefined): ChainedAuditEvent {
  return JSON.parse(line ?? '{}') as ChainedAuditEvent;
}

function indexOf(runId: string, seq: number): number {
  return lines.findIndex((l) => parsed(l).runId === runId && parsed(l).seq === seq);
}

function breakOf(report: VerifyReport): { kind: string; line: number | undefined } {
  expect(report.ok, formatVerifyReport(report)).toBe(false);
  return report.ok
    ? { kind: 'ok', line: undefined }
    : { kind: report.firstBreak.kind, line: report.firstBreak.location.line };
}

describe('a keyed trail', () => {
  it('verifies as written: every record sealed, the last checkpoint reported', async () => {
    const report = await verifyAuditFile(trail, { key: key.key });
    expect(report).toMatchObject({ ok: true, events: 13, runs: 3, keyed: 13 });
    expect(report.lastCheckpoint).toMatchObject({ records: 13, head: parsed(lines[12]).hash });
    expect(checkpoints).toHaveLength(6);
    expect(formatVerifyReport(report)).toMatch(
      /Every record sealed with the audit key\. Last checkpoint: 13 record\(s\)/,
    );
  });

  it('needs its key: without it verify says which key, instead of passing or failing', async () => {
    await expect(verifyAuditFile(trail)).rejects.toBeInstanceOf(AuditKeyNeededError);
    await expect(verifyAuditFile(trail)).rejects.toThrow(`sealed with audit key ${key.key.id}`);
  });
});

describe('what verify detects', () => {
  it('an edited event, even re-spelled exactly as the sink writes lines', async () => {
    const copy = [...lines];
    const i = indexOf('b1', 2);
    copy[i] = recordLine({ ...parsed(copy[i]), actor: 'mallory' });
    expect(breakOf(await verifyCopy(copy))).toEqual({ kind: 'edited', line: i + 1 });
  });

  it('an event deleted from the middle of a run', async () => {
    const i = indexOf('b1', 2);
    expect(breakOf(await verifyCopy(lines.filter((_, n) => n !== i)))).toMatchObject({ kind: 'gap' });
  });

  it('a whole run deleted from the middle of the trail', async () => {
    const copy = lines.filter((l) => parsed(l).runId !== 'a2');
    const firstAfter = indexOf('b1', 4) - 2;
    expect(breakOf(await verifyCopy(copy, { checkpoints: null }))).toEqual({
      kind: 'broken-link',
      line: firstAfter + 1,
    });
  });

  it('a whole run invented and appended without the key (plain SHA-256 seals, or a guessed key)', async () => {
    const last = parsed(lines[lines.length - 1]);
    const invented = makeEvents(WF_B, 'b9', 1, 1).map((event) => {
      const record = { ...event, prevHash: '', sinkPrev: last.hash };
      return recordLine({
        ...record,
        hash: createHash('sha256').update(canonicalJson(record)).digest('hex'),
      });
    });
    expect(breakOf(await verifyCopy([...lines, ...invented]))).toEqual({
      kind: 'unkeyed',
      line: lines.length + 1,
    });
    const otherKey = newTestAuditKey();
    const withOther = makeEvents(WF_B, 'b9', 1, 1).map((event) => {
      const record = { ...event, prevHash: '', sinkPrev: last.hash, keyId: otherKey.key.id };
      return recordLine({ ...record, hash: otherKey.key.mac(canonicalJson(record)) });
    });
    expect(breakOf(await verifyCopy([...lines, ...withOther]))).toEqual({
      kind: 'forged',
      line: lines.length + 1,
    });
  });

  it("a trail rewritten wholesale with another key (the review's generator, 300,000 events)", async () => {
    const forger = newTestAuditKey();
    const forged: string[] = [];
    let sinkPrev = '';
    let prevHash = '';
    // A ten-line generator: the whole trail a writer without the key could produce.
    for (let seq = 1; seq <= 300_000; seq++) {
      const record = {
        ...makeEvents(WF_A, 'forged', seq, seq)[0]!,
        prevHash,
        sinkPrev,
        keyId: forger.key.id,
      };
      const hash = forger.key.mac(canonicalJson(record));
      forged.push(recordLine({ ...record, hash }));
      prevHash = sinkPrev = hash;
    }
    expect(breakOf(await verifyCopy(forged, { checkpoints: [] }))).toEqual({ kind: 'forged', line: 1 });
  });

  it('records cut off the end, up to the last checkpoint', async () => {
    const report = await verifyCopy(lines.slice(0, -2));
    expect(breakOf(report).kind).toBe('truncated');
    expect(formatVerifyReport(report)).toMatch(
      /covers 13 records, the trail has 11: records were cut off its end/,
    );
  });

  it('a keyed trail whose checkpoints were deleted', async () => {
    expect(breakOf(await verifyCopy(lines.slice(0, -2), { checkpoints: null })).kind).toBe('truncated');
  });

  it('a checkpoint edited, forged, or removed from between others', async () => {
    const edited = checkpoints.map((l, n) => (n === 2 ? l.replace('"records":', '"records":1') : l));
    expect(breakOf(await verifyCopy(lines, { checkpoints: edited })).kind).toBe('forged');
    const gapped = checkpoints.filter((_, n) => n !== 3);
    expect(breakOf(await verifyCopy(lines, { checkpoints: gapped })).kind).toBe('forged');
  });

  it('a line with a duplicated key (the review\'s "actor":"mallory","actor":"keystore-maint")', async () => {
    const copy = [...lines];
    const i = indexOf('a1', 3);
    copy[i] = (copy[i] ?? '').replace(
      '"actor":"keystore-maint"',
      '"actor":"mallory","actor":"keystore-maint"',
    );
    expect(copy[i]).toContain('"actor":"mallory","actor":"keystore-maint"');
    expect(breakOf(await verifyCopy(copy))).toEqual({ kind: 'noncanonical', line: i + 1 });
  });

  it('another spelling of the same record: spacing, an escape, reordered members', async () => {
    for (const respell of [
      (l: string) => l.replace('","', '", "'),
      (l: string) => l.replace('"phase"', '"\\u0070hase"'),
      (l: string) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l) as object).reverse())),
    ]) {
      const copy = [...lines];
      copy[4] = respell(copy[4] ?? '');
      expect(breakOf(await verifyCopy(copy))).toEqual({ kind: 'noncanonical', line: 5 });
    }
  });

  it('a line far longer than any event, refused without reading it into memory', async () => {
    const copy = [...lines];
    copy.splice(3, 0, `{"padding":"${'x'.repeat(8 * 1024 * 1024)}"}`);
    const report = await verifyCopy(copy);
    expect(breakOf(report)).toEqual({ kind: 'malformed', line: 4 });
    expect(formatVerifyReport(report)).toMatch(/over the 1048576-byte cap/);
  });
});

describe('what verify does not detect (the stated limits)', () => {
  it('a trail and its checkpoints cut back together to an earlier checkpoint', async () => {
    const fourth = JSON.parse(checkpoints[3] ?? '{}') as { records: number };
    const report = await verifyCopy(lines.slice(0, fourth.records), { checkpoints: checkpoints.slice(0, 4) });
    // Consistent, so it passes: keep a copy of the checkpoints where the trail's writers cannot write.
    expect(report.ok).toBe(true);
    expect(report.lastCheckpoint?.records).toBe(fourth.records);
  });

  it('with --allow-unkeyed, records without a seal are accepted: anyone could have written them', async () => {
    const last = parsed(lines[lines.length - 1]);
    const record = { ...makeEvents(WF_B, 'b9', 1, 1)[0]!, prevHash: '', sinkPrev: last.hash };
    const unsealed = recordLine({
      ...record,
      hash: createHash('sha256').update(canonicalJson(record)).digest('hex'),
    });
    const report = await verifyCopy([...lines, unsealed], { allowUnkeyed: true });
    expect(report.ok).toBe(true);
    expect(formatVerifyReport(report)).toMatch(/1 record\(s\) are not sealed with the audit key/);
  });

  it('without a key, a trail rewritten with plain SHA-256 throughout verifies (hence the key)', async () => {
    let sinkPrev = '';
    const prevByRun = new Map<string, string>();
    const rewritten = lines.map((line) => {
      const { hash: _hash, keyId: _keyId, ...rest } = parsed(line);
      const record = { ...rest, actor: 'mallory', prevHash: prevByRun.get(rest.runId) ?? '', sinkPrev };
      const hash = createHash('sha256').update(canonicalJson(record)).digest('hex');
      prevByRun.set(rest.runId, hash);
      sinkPrev = hash;
      return recordLine({ ...record, hash });
    });
    expect((await verifyCopy(rewritten, { key: null, checkpoints: null })).ok).toBe(true);
    // With the key, the same forgery is refused.
    expect(breakOf(await verifyCopy(rewritten, { checkpoints: null })).kind).toBe('unkeyed');
  });
});
