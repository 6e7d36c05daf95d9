/**
 * The audit library's public face. The worker's `audit` activity appends through
 * `createAuditSink(auditConfigFromEnv())`; the CLI verifies (`verifyAuditFile`,
 * `verifyAuditPostgres`, `formatVerifyReport`), exports (`readWorkflow` /
 * `findWorkflowIdsForStore` on a sink, then `exportAuditTrail`) and migrates
 * (`migrateAuditPostgres`).
 */
import type { AuditKey } from './audit-key';
import type { Writable } from 'node:stream';
import { Pool } from 'pg';
import type { AuditConfig } from './config';
import { JsonlAuditSink, type JsonlAuditSinkOptions } from './jsonl-sink';
import {
  PostgresAuditSink,
  migrateAuditSchema,
  type MigrateAuditOptions,
  type MigrateAuditResult,
  type PostgresAuditSinkOptions,
} from './postgres-sink';
import type { ReadableAuditSink } from './sink';
import { StdoutAuditSink } from './stdout-sink';

export { auditKeyFromBytes, loadAuditKey, AUDIT_KEY_MIN_BYTES, type AuditKey } from './audit-key';
export { canonicalJson } from './canonical-json';
export { checkpointFileOf, type Checkpoint } from './checkpoints';
export {
  AUDIT_ENV,
  DEFAULT_AUDIT_FILE,
  DEFAULT_AUDIT_TABLE,
  auditConfigFromEnv,
  auditKeyFileFromEnv,
  allowPrivilegedWriterFromEnv,
  requiredAuditKeyFile,
  describeAuditConfig,
  redactUrl,
  type AuditConfig,
  type AuditSinkKind,
} from './config';
export * from './errors';
export {
  exportAuditTrail,
  formatDuration,
  phaseSpans,
  summarizeTrail,
  type AuditExportFormat,
  type AuditExportOptions,
  type PhaseSpanSummary,
  type RunSummary,
  type TrailSummary,
} from './export';
export { hashEvent, type ChainTail } from './hash-chain';
export { JsonlAuditSink, type JsonlAuditSinkOptions } from './jsonl-sink';
export {
  PostgresAuditSink,
  SUGGESTED_WRITER_ROLE,
  checkpointTableOf,
  migrateAuditSchema,
  type MigrateAuditOptions,
  type MigrateAuditResult,
  type PostgresAuditSinkOptions,
} from './postgres-sink';
export { assertNoSecrets, findSecrets, redactSecrets, type SecretFinding } from './secrets';
export { isAboutStore, type AuditSink, type ReadableAuditSink } from './sink';
export { StdoutAuditSink } from './stdout-sink';
export {
  formatLocation,
  formatVerifyReport,
  verifyAuditEvents,
  verifyAuditFile,
  verifyAuditPostgres,
  verifyAuditTrail,
  AuditKeyNeededError,
  type VerifyOptions,
  type AuditBreak,
  type AuditBreakKind,
  type AuditLocation,
  type AuditTrailSource,
  type VerifyReport,
} from './verify';

export interface CreateAuditSinkOptions {
  /** JSON Lines sink tuning (lock timings). */
  readonly jsonl?: JsonlAuditSinkOptions;
  /** Where the stdout sink writes; process.stdout by default. */
  readonly stdout?: Writable;
  /** The audit key the sink seals with (file and PostgreSQL sinks). */
  readonly key?: AuditKey;
  /** PostgreSQL sink: the privileged-writer override (`allowPrivilegedWriterFromEnv`) and its warning. */
  readonly postgres?: Pick<PostgresAuditSinkOptions, 'allowPrivilegedWriter' | 'warn'>;
}

/** The sink the configuration names. Cheap and synchronous: nothing is opened until first use. */
export function createAuditSink(
  config: AuditConfig,
  options: CreateAuditSinkOptions = {},
): ReadableAuditSink {
  switch (config.kind) {
    case 'file':
      return new JsonlAuditSink(config.path, {
        ...options.jsonl,
        ...(options.key ? { key: options.key } : {}),
      });
    case 'stdout':
      return new StdoutAuditSink(options.stdout);
    case 'postgres':
      return new PostgresAuditSink(config.url, {
        ...options.postgres,
        table: config.table,
        ...(options.key ? { key: options.key } : {}),
      });
  }
}

/**
 * `keystore-maint audit migrate`: creates or upgrades the audit table and its checkpoints table
 * at `url` (run as the role that is to own them) and, with `grantWriter`, grants the worker's role
 * exactly SELECT and INSERT.
 */
export async function migrateAuditPostgres(
  url: string,
  options: MigrateAuditOptions = {},
): Promise<MigrateAuditResult> {
  const pool = new Pool({ connectionString: url, max: 1, application_name: 'keystore-maint audit migrate' });
  try {
    return await migrateAuditSchema(pool, options);
  } finally {
    await pool.end();
  }
}
