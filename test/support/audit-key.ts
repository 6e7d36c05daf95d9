/** An audit key for tests: a fresh random key in a file of its own, as a worker would mount it. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuditKey, type AuditKey } from '../../src/audit';

export interface TestAuditKey {
  readonly key: AuditKey;
  /** The file holding it (for KEYSTORE_MAINT_AUDIT_KEY_FILE and --key-file). */
  readonly file: string;
}

export function newTestAuditKey(): TestAuditKey {
  const file = join(mkdtempSync(join(tmpdir(), 'audit-key-')), 'audit_key');
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return { key: loadAuditKey(file), file };
}
