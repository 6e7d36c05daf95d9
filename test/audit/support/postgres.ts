/**
 * A real PostgreSQL server for the audit tests: KEYSTORE_MAINT_TEST_POSTGRES_URL when set (CI
 * sets it from scripts/ensure-postgres.sh), otherwise the script is run here. Never skipped: a
 * machine without PostgreSQL fails these tests with the script's message.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { projectRoot } from '../../../src/util/project-root';

const ENV = 'KEYSTORE_MAINT_TEST_POSTGRES_URL';

export function testPostgresUrl(): string {
  const fromEnv = process.env[ENV]?.trim();
  if (fromEnv) return fromEnv;
  let output: string;
  try {
    output = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-postgres.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 300_000,
    });
  } catch (err) {
    throw new Error(
      `${ENV} is not set and scripts/ensure-postgres.sh failed (${String(err)}); install PostgreSQL or set ${ENV}.`,
      { cause: err },
    );
  }
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(`${ENV}=`));
  if (!line) throw new Error(`scripts/ensure-postgres.sh printed no ${ENV}= line:\n${output}`);
  const url = line.slice(ENV.length + 1);
  process.env[ENV] = url;
  return url;
}

/** A table name no other test uses. */
export function uniqueTable(): string {
  return `audit_test_${randomBytes(6).toString('hex')}`;
}

export function testPool(url: string, max = 4): Pool {
  const pool = new Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** The test URL with another user (the cluster trusts local connections; the password is for show). */
export function urlAs(url: string, role: string, password = 'test-only'): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = password;
  return parsed.toString();
}

/**
 * Two login roles for one test file, as a deployment has them: an owner that runs `audit
 * migrate` (it may create tables in the public schema) and the worker's writer, which gets its
 * privileges from `migrate --grant-writer` only. Unique names, so test files do not share them.
 */
export interface TestRoles {
  readonly owner: string;
  readonly writer: string;
  readonly ownerUrl: string;
  readonly writerUrl: string;
  /** Drops the roles and everything they own or were granted (call after dropping the tables). */
  drop(): Promise<void>;
}

export async function createTestRoles(admin: Pool, url: string): Promise<TestRoles> {
  const suffix = randomBytes(4).toString('hex');
  const owner = `audit_owner_${suffix}`;
  const writer = `audit_writer_${suffix}`;
  for (const role of [owner, writer]) await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'test-only'`);
  await admin.query(`GRANT CREATE ON SCHEMA public TO ${owner}`);
  return {
    owner,
    writer,
    ownerUrl: urlAs(url, owner),
    writerUrl: urlAs(url, writer),
    async drop() {
      for (const role of [owner, writer]) {
        await admin.query(`DROP OWNED BY ${role} CASCADE`);
        await admin.query(`DROP ROLE ${role}`);
      }
    },
  };
}

/** Drops an audit table and its checkpoints table. */
export async function dropAuditTables(admin: Pool, table: string): Promise<void> {
  await admin.query(`DROP TABLE IF EXISTS ${table}, ${table}_checkpoints`);
}
