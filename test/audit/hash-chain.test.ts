import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical-json';
import {
  AuditEventInvalidError,
  AuditSequenceConflictError,
  AuditSequenceGapError,
} from '../../src/audit/errors';
import { chainBatch, hashEvent, normalizeEvent, prepareBatch } from '../../src/audit/hash-chain';
import type { AuditEvent } from '../../src/domain/audit-event';
import { makeEvent, makeEvents, STORE_A, workflowIdOf } from './support/events';

const WF = workflowIdOf(STORE_A);

describe('canonicalJson', () => {
  it('sorts keys recursively, keeps array order and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x y' } })).toBe(
      '{"a":{"c":"x y","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('gives the same text whatever the key order', () => {
    expect(canonicalJson({ x: 1, y: { p: true, q: null } })).toBe(
      canonicalJson({ y: { q: null, p: true }, x: 1 }),
    );
  });

  it('leaves undefined members out like JSON does, and escapes like JSON', () => {
    expect(canonicalJson({ a: undefined, b: 'é"\n', c: [undefined] })).toBe('{"b":"é\\"\\n","c":[null]}');
  });

  it('refuses numbers JSON cannot hold', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson(Infinity)).toThrow(TypeError);
  });
});

describe('hash chain', () => {
  it('hashes the canonical JSON without the hash member', () => {
    const event = { ...normalizeEvent(makeEvent(WF, 'r1', 1)), prevHash: '' };
    const expected = createHash('sha256').update(canonicalJson(event)).digest('hex');
    expect(hashEvent(event)).toBe(expected);
    expect(hashEvent({ ...event, hash: 'anything' })).toBe(expected);
  });

  it('links each event to the previous one of its run', () => {
    const [batch] = prepareBatch(makeEvents(WF, 'r1', 1, 3));
    const chained = chainBatch(batch!, undefined, 'test');
    expect(chained.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(chained[0]!.prevHash).toBe('');
    expect(chained[1]!.prevHash).toBe(chained[0]!.hash);
    expect(chained[2]!.prevHash).toBe(chained[1]!.hash);
    for (const e of chained) expect(hashEvent(e)).toBe(e.hash);
  });

  it('skips what is stored and continues the chain from the stored tail', () => {
    const [batch] = prepareBatch(makeEvents(WF, 'r1', 3, 6));
    const chained = chainBatch(batch!, { lastSeq: 4, lastHash: 'f'.repeat(64) }, 'test');
    expect(chained.map((e) => e.seq)).toEqual([5, 6]);
    expect(chained[0]!.prevHash).toBe('f'.repeat(64));
  });

  it('refuses a batch that would leave a gap, naming the run and the expected seq', () => {
    const [batch] = prepareBatch(makeEvents(WF, 'r1', 7, 8));
    expect(() => chainBatch(batch!, { lastSeq: 4, lastHash: 'a'.repeat(64) }, 'the file')).toThrow(
      AuditSequenceGapError,
    );
    try {
      chainBatch(batch!, { lastSeq: 4, lastHash: 'a'.repeat(64) }, 'the file');
    } catch (err) {
      const gap = err as AuditSequenceGapError;
      expect(gap.expectedSeq).toBe(5);
      expect(gap.actualSeq).toBe(7);
      expect(gap.message).toContain(`run ${WF}/r1 expects seq 5`);
      expect(gap.message).toContain('seq 5..6 would be lost');
    }
  });

  it('sorts a batch, drops exact repeats, and refuses holes and conflicting repeats inside it', () => {
    const [batch] = prepareBatch([makeEvent(WF, 'r1', 2), makeEvent(WF, 'r1', 1), makeEvent(WF, 'r1', 2)]);
    expect(batch!.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(() => prepareBatch([makeEvent(WF, 'r1', 1), makeEvent(WF, 'r1', 3)])).toThrow(
      AuditSequenceGapError,
    );
    expect(() =>
      prepareBatch([makeEvent(WF, 'r1', 1), makeEvent(WF, 'r1', 1, { action: 'something.else' })]),
    ).toThrow(AuditSequenceConflictError);
  });

  it('groups a batch by run', () => {
    const batches = prepareBatch([...makeEvents(WF, 'r1', 1, 2), ...makeEvents(WF, 'r2', 1, 3)]);
    expect(batches.map((b) => [b.runId, b.events.length])).toEqual([
      ['r1', 2],
      ['r2', 3],
    ]);
  });

  it('normalizes at to toISOString form and drops an absent error', () => {
    const event = normalizeEvent(
      makeEvent(WF, 'r1', 1, { at: '2025-03-02T03:00:00+01:00', error: undefined }),
    );
    expect(event.at).toBe('2025-03-02T02:00:00.000Z');
    expect('error' in event).toBe(false);
  });

  it.each<[string, Partial<Record<keyof AuditEvent | 'extra', unknown>>]>([
    ['seq 0', { seq: 0 }],
    ['a fractional seq', { seq: 1.5 }],
    ['an empty workflowId', { workflowId: '' }],
    ['a bad time', { at: 'yesterday' }],
    ['an unknown outcome', { outcome: 'great' }],
    ['a detail array', { detail: [] }],
    ['an unknown field', { extra: 1 }],
    ['a newer schema version', { schemaVersion: 99 }],
    ['an error without message', { error: { type: 'X' } }],
    ['a NUL character', { actor: 'a\u0000b' }],
  ])('refuses %s', (_name, change) => {
    const event = { ...makeEvent(WF, 'r1', 1), ...change } as unknown as AuditEvent;
    expect(() => normalizeEvent(event)).toThrow(AuditEventInvalidError);
  });
});
