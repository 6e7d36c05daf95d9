/**
 * Which audit sink a process writes to, from its environment. The worker (through the `audit`
 * activity) and the CLI (`audit verify`, `audit export`, `audit migrate`) read the same variables,
 * so they agree on where the trail is.
 *
 * The PostgreSQL URL carries a password, so it can come from a file instead of the environment:
 * `KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE` names a file holding it (a mounted secret, e.g.
 * /run/secrets/audit_postgres_url), read only when the sink is `postgres`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { AuditConfigError } from './errors';

export const AUDIT_ENV = {
  sink: 'KEYSTORE_MAINT_AUDIT_SINK',
  file: 'KEYSTORE_MAINT_AUDIT_FILE',
  postgresUrl: 'KEYSTORE_MAINT_AUDIT_POSTGRES_URL',
  /** A file holding the URL (a mounted secret), instead of the URL itself in the environment. */
  postgresUrlFile: 'KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE',
  postgresTable: 'KEYSTORE_MAINT_AUDIT_POSTGRES_TABLE',
  /** The audit key (src/audit/audit-key.ts): events are sealed with HMAC-SHA256 under it. */
  keyFile: 'KEYSTORE_MAINT_AUDIT_KEY_FILE',
  /** `1`: a worker may write without a key (development only: the trail can then be forged). */
  unkeyed: 'KEYSTORE_MAINT_AUDIT_UNKEYED',
  /**
   * `1`: the PostgreSQL sink writes even as a role that could edit or delete the trail (owner,
   * superuser, UPDATE, DELETE or TRUNCATE), with a warning (development only).
   */
  allowPrivilegedWriter: 'KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER',
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
      const { url, source } = postgresUrlFromEnv(env, cwd);
      if (!/^postgres(?:ql)?:\/\//.test(url)) {
        throw new AuditConfigError(
          `${source} must be a postgres:// or postgresql:// URL, got ${describeNonPostgresUrl(url)}.`,
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

/**
 * The database URL and where it came from (for messages): the variable itself, or the file its
 * `_FILE` variant names. Never both: which one wins would be a guess.
 */
function postgresUrlFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): { url: string; source: string } {
  const direct = env[AUDIT_ENV.postgresUrl]?.trim();
  const file = env[AUDIT_ENV.postgresUrlFile]?.trim();
  if (direct && file) {
    throw new AuditConfigError(
      `both ${AUDIT_ENV.postgresUrl} and ${AUDIT_ENV.postgresUrlFile} are set; set only one ` +
        `(${AUDIT_ENV.postgresUrlFile} names a file holding the URL, e.g. a mounted secret).`,
    );
  }
  if (direct) return { url: direct, source: AUDIT_ENV.postgresUrl };
  if (!file) {
    throw new AuditConfigError(
      `${AUDIT_ENV.sink}=postgres needs ${AUDIT_ENV.postgresUrl} (e.g. postgres://user:password@host:5432/db) ` +
        `or ${AUDIT_ENV.postgresUrlFile} (a file holding that URL, e.g. /run/secrets/audit_postgres_url); ` +
        `set one, or choose another sink (file, stdout).`,
    );
  }
  const source = `${AUDIT_ENV.postgresUrlFile} (${file})`;
  let text: string;
  try {
    // Relative to the working directory, like KEYSTORE_MAINT_AUDIT_FILE.
    text = readFileSync(isAbsolute(file) ? file : resolve(cwd, file), 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AuditConfigError(
      `${AUDIT_ENV.postgresUrlFile}=${file} cannot be read (${reason}); it must name a file this ` +
        `process can read, holding the audit database URL (postgres://user:password@host:5432/db).`,
    );
  }
  const url = text.trim();
  if (!url) {
    throw new AuditConfigError(
      `${AUDIT_ENV.postgresUrlFile}=${file} is empty; put the audit database URL ` +
        `(postgres://user:password@host:5432/db) in it, or choose another sink (file, stdout).`,
    );
  }
  return { url, source };
}

/**
 * What a value that should have been a PostgreSQL URL looks like, without its secrets: the URL
 * with its password hidden, or no text at all when it is not a URL (it may be a bare password).
 */
function describeNonPostgresUrl(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
    ? redactUrl(value)
    : 'a value that is not a URL (not shown: it may be a password)';
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

/**
 * The audit key a process should seal with or verify against: the file named by
 * `KEYSTORE_MAINT_AUDIT_KEY_FILE` (relative to the working directory), or undefined when unset.
 */
export function auditKeyFileFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): string | undefined {
  const file = env[AUDIT_ENV.keyFile]?.trim();
  if (!file) return undefined;
  return isAbsolute(file) ? file : resolve(cwd, file);
}

/**
 * For a worker: the key file it must seal with. A worker that writes a trail without a key is
 * refused, naming the variable and the fix, unless `KEYSTORE_MAINT_AUDIT_UNKEYED=1` says so on
 * purpose (then undefined). The stdout sink is never sealed: the log pipeline is its record.
 */
export function requiredAuditKeyFile(
  config: AuditConfig,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): string | undefined {
  if (config.kind === 'stdout') return undefined;
  const file = auditKeyFileFromEnv(env, cwd);
  if (file) return file;
  if (env[AUDIT_ENV.unkeyed]?.trim() === '1') return undefined;
  throw new AuditConfigError(
    `${AUDIT_ENV.keyFile} is not set: the audit trail would be sealed with plain SHA-256, which anyone who can ` +
      `write it can recompute. Create a key (openssl rand -hex 32 > audit_key), mount it, and set ` +
      `${AUDIT_ENV.keyFile} to its path; for development only, ${AUDIT_ENV.unkeyed}=1 writes an unsealed trail.`,
  );
}

/**
 * Whether `KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1` lets the PostgreSQL sink write as a role
 * that could rewrite the trail. Only `1` turns it on; any other non-empty value but `0` is refused,
 * so a typo does not silently leave the guard on or off.
 */
export function allowPrivilegedWriterFromEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  const value = env[AUDIT_ENV.allowPrivilegedWriter]?.trim() ?? '';
  if (value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new AuditConfigError(
    `${AUDIT_ENV.allowPrivilegedWriter}=${JSON.stringify(value)} is not 1 or 0; set it to 1 only to let the ` +
      `PostgreSQL audit sink write as a role that can edit or delete the trail (development only).`,
  );
}
