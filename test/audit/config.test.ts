import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AuditConfigError,
  AuditSinkNotReadableError,
  auditConfigFromEnv,
  createAuditSink,
  describeAuditConfig,
  JsonlAuditSink,
  PostgresAuditSink,
  StdoutAuditSink,
  verifyAuditEvents,
  verifyAuditTrail,
} from '../../src/audit';
import type { ChainedAuditEvent } from '../../src/domain/audit-event';
import { makeEvents, STORE_A, workflowIdOf } from './support/events';

const WF = workflowIdOf(STORE_A);

describe('audit configuration', () => {
  it('defaults to the JSON Lines file under the working directory', () => {
    expect(auditConfigFromEnv({}, '/srv/worker')).toEqual({
      kind: 'file',
      path: join('/srv/worker', 'audit', 'keystore-maint.jsonl'),
    });
  });

  it('takes the file from KEYSTORE_MAINT_AUDIT_FILE, relative to the working directory', () => {
    expect(auditConfigFromEnv({ KEYSTORE_MAINT_AUDIT_FILE: 'trail/a.jsonl' }, '/srv/w')).toEqual({
      kind: 'file',
      path: join('/srv/w', 'trail', 'a.jsonl'),
    });
    expect(auditConfigFromEnv({ KEYSTORE_MAINT_AUDIT_FILE: '/var/log/a.jsonl' }, '/srv/w')).toMatchObject({
      path: '/var/log/a.jsonl',
    });
  });

  it('selects stdout and postgres', () => {
    expect(auditConfigFromEnv({ KEYSTORE_MAINT_AUDIT_SINK: 'stdout' })).toEqual({ kind: 'stdout' });
    const config = auditConfigFromEnv({
      KEYSTORE_MAINT_AUDIT_SINK: 'postgres',
      KEYSTORE_MAINT_AUDIT_POSTGRES_URL: 'postgres://app:pw@db:5432/audit',
    });
    expect(config).toEqual({
      kind: 'postgres',
      url: 'postgres://app:pw@db:5432/audit',
      table: 'keystore_maint_audit',
    });
    expect(describeAuditConfig(config)).toBe(
      'postgres postgres://app:***@db:5432/audit table keystore_maint_audit',
    );
  });

  it.each([
    [{ KEYSTORE_MAINT_AUDIT_SINK: 'kafka' }, /not a known audit sink/],
    [{ KEYSTORE_MAINT_AUDIT_SINK: 'postgres' }, /needs KEYSTORE_MAINT_AUDIT_POSTGRES_URL/],
    [
      { KEYSTORE_MAINT_AUDIT_SINK: 'postgres', KEYSTORE_MAINT_AUDIT_POSTGRES_URL: 'mysql://x:secret@h/db' },
      /postgres:\/\//,
    ],
    [
      {
        KEYSTORE_MAINT_AUDIT_SINK: 'postgres',
        KEYSTORE_MAINT_AUDIT_POSTGRES_URL: 'postgres://h/db',
        KEYSTORE_MAINT_AUDIT_POSTGRES_TABLE: 'audit; DROP TABLE x',
      },
      /not a plain PostgreSQL identifier/,
    ],
  ])('refuses %j', (env, message) => {
    expect(() => auditConfigFromEnv(env)).toThrow(AuditConfigError);
    expect(() => auditConfigFromEnv(env)).toThrow(message);
  });

  it('never repeats a password in its errors', () => {
    expect(() =>
      auditConfigFromEnv({
        KEYSTORE_MAINT_AUDIT_SINK: 'postgres',
        KEYSTORE_MAINT_AUDIT_POSTGRES_URL: 'mysql://x:secret@h/db',
      }),
    ).toThrow(/^(?!.*secret)/);
  });

  describe('createAuditSink', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('builds the sink the configuration names, opening nothing yet', async () => {
      const file = createAuditSink({ kind: 'file', path: join(dir, 'a.jsonl') });
      expect(file).toBeInstanceOf(JsonlAuditSink);
      expect(createAuditSink({ kind: 'stdout' })).toBeInstanceOf(StdoutAuditSink);
      const pg = createAuditSink({ kind: 'postgres', url: 'postgres://u:p@127.0.0.1:1/none', table: 'x' });
      expect(pg).toBeInstanceOf(PostgresAuditSink);
      expect(pg.description).not.toContain(':p@');
      await Promise.all([file.close(), pg.close()]);
    });
  });
});

describe('stdout sink', () => {
  function capture(): { out: PassThrough; lines: () => ChainedAuditEvent[] } {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    return {
      out,
      lines: () =>
        text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as ChainedAuditEvent),
    };
  }

  it('prints one chained line per event, idempotent within the process', async () => {
    const { out, lines } = capture();
    const sink = new StdoutAuditSink(out);
    expect(await sink.append(makeEvents(WF, 'r1', 1, 3))).toBe(3);
    expect(await sink.append(makeEvents(WF, 'r1', 2, 5))).toBe(2);
    expect(await sink.append(makeEvents(WF, 'r1', 1, 5))).toBe(0);
    await expect(sink.append(makeEvents(WF, 'r1', 7, 7))).rejects.toThrow(/expects seq 6/);
    await sink.close();
    expect(lines().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(verifyAuditEvents(lines()).ok).toBe(true);
  });

  it('starts a new chain segment for a run already under way (a restarted worker)', async () => {
    const { out, lines } = capture();
    const sink = new StdoutAuditSink(out);
    expect(await sink.append(makeEvents(WF, 'r1', 4, 5))).toBe(2);
    expect(lines()[0]).toMatchObject({ seq: 4, prevHash: '' });
  });

  it('cannot be read back or verified, and says where to look instead', async () => {
    const sink = new StdoutAuditSink(new PassThrough());
    await expect(sink.readWorkflow()).rejects.toThrow(AuditSinkNotReadableError);
    await expect(sink.findWorkflowIdsForStore()).rejects.toThrow(/log pipeline/);
    await expect(verifyAuditTrail({ kind: 'stdout' })).rejects.toThrow(AuditSinkNotReadableError);
  });
});
