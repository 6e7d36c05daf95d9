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
