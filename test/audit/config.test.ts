import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  describe('KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE (the URL in a file, e.g. a mounted secret)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-url-file-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const secretFile = (name: string, content: string): string => {
      const path = join(dir, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const postgres = (env: Record<string, string>) =>
      auditConfigFromEnv({ KEYSTORE_MAINT_AUDIT_SINK: 'postgres', ...env }, dir);

    it('reads the URL from the file, without its final newline', () => {
      const file = secretFile('url', 'postgres://app:s3cret@db:5432/audit\n');
      expect(postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: file })).toEqual({
        kind: 'postgres',
        url: 'postgres://app:s3cret@db:5432/audit',
        table: 'keystore_maint_audit',
      });
    });

    it('resolves a relative path against the working directory, like KEYSTORE_MAINT_AUDIT_FILE', () => {
      secretFile('relative-url', 'postgresql://app:pw@db/audit');
      expect(postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: 'relative-url' })).toMatchObject({
        url: 'postgresql://app:pw@db/audit',
      });
    });

    it('is read only for the postgres sink', () => {
      const missing = join(dir, 'does-not-exist');
      expect(auditConfigFromEnv({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: missing }, dir)).toEqual({
        kind: 'file',
        path: join(dir, 'audit', 'keystore-maint.jsonl'),
      });
      expect(
        auditConfigFromEnv({
          KEYSTORE_MAINT_AUDIT_SINK: 'stdout',
          KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: missing,
        }),
      ).toEqual({ kind: 'stdout' });
    });

    it('refuses a file it cannot read, naming the variable and the path', () => {
      const missing = join(dir, 'no-such-secret');
      const env = { KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: missing };
      expect(() => postgres(env)).toThrow(AuditConfigError);
      expect(() => postgres(env)).toThrow(
        `KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE=${missing} cannot be read (ENOENT`,
      );
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: dir })).toThrow(
        /KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE=.* cannot be read \(EISDIR/,
      );
    });

    it.skipIf(process.getuid?.() === 0)('refuses a file it may not read (EACCES)', () => {
      const file = secretFile('unreadable', 'postgres://app:pw@db/audit');
      chmodSync(file, 0o000);
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: file })).toThrow(
        /KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE=.* cannot be read \(EACCES/,
      );
    });

    it('refuses an empty file, naming the variable', () => {
      const file = secretFile('empty', ' \n');
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: file })).toThrow(
        `KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE=${file} is empty`,
      );
    });

    it('refuses the URL and its file together: which one wins would be a guess', () => {
      const file = secretFile('both', 'postgres://app:pw@db/audit');
      expect(() =>
        postgres({
          KEYSTORE_MAINT_AUDIT_POSTGRES_URL: 'postgres://app:pw@db/audit',
          KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: file,
        }),
      ).toThrow(/both KEYSTORE_MAINT_AUDIT_POSTGRES_URL and KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE are set/);
    });

    it('names the file when its content is not a PostgreSQL URL, never repeating a password', () => {
      const mysql = secretFile('mysql', 'mysql://app:hunter2@db/audit');
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: mysql })).toThrow(
        `KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE (${mysql}) must be a postgres:// or postgresql:// URL, got mysql://app:***@db/audit`,
      );
      // Just a password (a common mistake): not echoed at all.
      const bare = secretFile('bare', 'hunter2\n');
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: bare })).toThrow(/is not a URL/);
      expect(() => postgres({ KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: bare })).toThrow(/^(?!.*hunter2)/);
    });

    it('says which variables would do when neither is set', () => {
      expect(() => postgres({})).toThrow(
        /needs KEYSTORE_MAINT_AUDIT_POSTGRES_URL .* or KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE/,
      );
    });
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
