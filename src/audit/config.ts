/**
 * Which audit sink a process writes to, from its environment. The worker (through the `audit`
 * activity) and the CLI (`audit verify`, `audit export`, `audit migrate`) read the same variables,
 * so they agree on where the trail is.
 */
import { isAbsolute, resolve } from 'node:path';
import { AuditConfigError } from './errors';

export const AUDIT_ENV = {
  sink: 'KEYSTORE_MAINT_AUDIT_SINK',
  file: 'KEYSTORE_MAINT_AUDIT_FILE',
  postgresUrl: 'KEYSTORE_MAINT_AUDIT_POSTGRES_URL',
  postgresTable: 'KEYSTORE_MAINT_AUDIT_POSTGRES_TABLE',
} as const;

/** Relative to the process's working directory. */
export const DEFAULT_AUDIT_FILE = 'audit/keystore-maint.jsonl';
export const DEFAULT_AUDIT_TABLE = 'keystore_maint_audit';

export type AuditSinkKind = 'file' | 'stdout' | 'postgres';

export type AuditConfig =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stdout' }
  | { readonly kind: 'postgres'; readonly url: string; readonly table: string };

/** Unquoted PostgreSQL identifier, optionally schema-qualified; no quoting games in SQL text. */
const TABLE_NAME = /^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/;

export function auditConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): AuditConfig {
  const kind = (env[AUDIT_ENV.sink]?.trim() || 'file').toLowerCase();
  switch (kind) {
    case 'file': {
      const file = env[AUDIT_ENV.file]?.trim() || DEFAULT_AUDIT_FILE;
      // Resolved now, so that a later chdir does not move the trail.
      return { kind: 'file', path: isAbsolute(file) ? file : resolve(cwd, file) };
    }
    case 'stdout':
      return { kind: 'stdout' };
    case 'postgres': {
      const url = env[AUDIT_ENV.postgresUrl]?.trim();
      if (!url) {
        throw new AuditConfigError(
          `${AUDIT_ENV.sink}=postgres needs ${AUDIT_ENV.postgresUrl} (e.g. postgres://user:password@host:5432/db); ` +
            `set it, or choose another sink (file, stdout).`,
        );
      }
      if (!/^postgres(?:ql)?:\/\//.test(url)) {
        throw new AuditConfigError(
          `${AUDIT_ENV.postgresUrl} must be a postgres:// or postgresql:// URL, got ${redactUrl(url)}.`,
        );
      }
      return { kind: 'postgres', url, table: auditTableName(env[AUDIT_ENV.postgresTable]) };
    }
    default:
      throw new AuditConfigError(
        `${AUDIT_ENV.sink}=${kind} is not a known audit sink; use file (the default), stdout or postgres.`,
      );
  }
}

export function auditTableName(name: string | undefined): string {
  const table = name?.trim() || DEFAULT_AUDIT_TABLE;
  if (!TABLE_NAME.test(table)) {
    throw new AuditConfigError(
      `audit table name ${JSON.stringify(table)} is not a plain PostgreSQL identifier ([a-z_][a-z0-9_]*, ` +
        `optionally schema.table); choose such a name in ${AUDIT_ENV.postgresTable}.`,
    );
  }
  return table;
}

/** For logs and messages: where the trail goes, with any password hidden. */
export function describeAuditConfig(config: AuditConfig): string {
  switch (config.kind) {
    case 'file':
      return `file ${config.path}`;
    case 'stdout':
      return 'stdout (JSON Lines)';
    case 'postgres':
      return `postgres ${redactUrl(config.url)} table ${config.table}`;
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@');
  }
}
