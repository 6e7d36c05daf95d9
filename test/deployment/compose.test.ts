/**
 * docker-compose.yml is validated by `scripts/check-compose.sh` (Compose's own `config` check,
 * with .env.example's settings, with and without the `sim` profile). No Docker engine is needed.
 * The script installs Debian's docker-compose when no Compose is found; only where it cannot
 * (no apt-get, or not root) and none is installed is that test skipped, saying why.
 *
 * The secret checks below need no Compose at all: they read docker-compose.yml itself. Every
 * secret must be a file (top-level `secrets:`, mounted at /run/secrets/<name>) named by a `*_FILE`
 * variable; nothing that looks like a secret may stay in `environment:` or in .env.example.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/project-root';

const root = projectRoot();

function succeeds(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  return result.status === 0;
}

const composeInstalled =
  succeeds('docker', ['compose', 'version']) || succeeds('docker-compose', ['version']);
const canInstall = process.getuid?.() === 0 && succeeds('apt-get', ['--version']);
const skipReason =
  composeInstalled || canInstall
    ? undefined
    : 'neither `docker compose` nor `docker-compose` is installed, and it cannot be installed here (needs apt-get as root)';

if (skipReason) console.warn(`compose.test.ts: the check-compose.sh test is skipped: ${skipReason}`);

// --- Reading the compose file ----------------------------------------------------------------
// No YAML library is a dependency, and none is needed: the file is block-style YAML, so its
// indentation is its structure. Each line becomes a node under the nearest less-indented line.

interface Node {
  readonly indent: number;
  readonly text: string;
  /** 1-based, for messages. */
  readonly line: number;
  readonly children: Node[];
}

function outline(text: string): Node {
  const top: Node = { indent: -1, text: '', line: 0, children: [] };
  // The chain of open parents; `top` stays at its bottom.
  const stack: Node[] = [top];
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const indent = raw.length - raw.trimStart().length;
    let parent = stack.at(-1) ?? top;
    while (parent !== top && parent.indent >= indent) {
      stack.pop();
      parent = stack.at(-1) ?? top;
    }
    const node: Node = { indent, text: trimmed, line: index + 1, children: [] };
    parent.children.push(node);
    stack.push(node);
  });
  return top;
}

/** `key: value` → [key, value]; a sequence item keeps its `- `. */
function keyValue(text: string): [string, string] | undefined {
  const match = /^([^\s:'"][^:]*?):(?:\s+(.*))?$/.exec(text);
  return match?.[1] !== undefined ? [match[1], match[2] ?? ''] : undefined;
}

function child(node: Node | undefined, key: string): Node | undefined {
  return node?.children.find((c) => keyValue(c.text)?.[0] === key);
}

function unquote(value: string): string {
  const match = /^(['"])(.*)\1$/.exec(value.trim());
  return match?.[2] ?? value.trim();
}

interface EnvEntry {
  /** Where it is: the path of keys above it, e.g. `services.worker`. */
  readonly where: string;
  readonly line: number;
  readonly key: string;
  /** As written in the file, before interpolation. */
  readonly value: string;
}

/** Every `environment:` entry anywhere in the file (services, anchors, extensions). */
function environmentEntries(top: Node): { entries: EnvEntry[]; problems: string[] } {
  const entries: EnvEntry[] = [];
  const problems: string[] = [];
  const walk = (node: Node, path: readonly string[]) => {
    for (const c of node.children) {
      const kv = keyValue(c.text);
      if (kv?.[0] !== 'environment') {
        walk(c, kv && !c.text.startsWith('- ') ? [...path, kv[0]] : path);
        continue;
      }
      const where = path.join('.');
      if (kv[1] !== '') {
        problems.push(`${where} (line ${c.line}): write environment: as a block, one variable a line`);
        continue;
      }
      for (const item of c.children) {
        if (item.text.startsWith('- ')) {
          const [key = '', ...rest] = unquote(item.text.slice(2)).split('=');
          entries.push({ where, line: item.line, key, value: rest.join('=') });
        } else {
          const entry = keyValue(item.text);
          if (entry) entries.push({ where, line: item.line, key: entry[0], value: unquote(entry[1]) });
        }
      }
    }
  };
  walk(top, []);
  return { entries, problems };
}

/** The secrets a service mounts: name → path in the container. */
function mountedSecrets(service: Node): Map<string, string> {
  const mounted = new Map<string, string>();
  for (const item of child(service, 'secrets')?.children ?? []) {
    if (!item.text.startsWith('- ')) continue;
    const long = keyValue(item.text.slice(2));
    if (!long) {
      const name = unquote(item.text.slice(2));
      mounted.set(name, `/run/secrets/${name}`);
      continue;
    }
    const fields = new Map<string, string>([[long[0], unquote(long[1])]]);
    for (const c of item.children) {
      const kv = keyValue(c.text);
      if (kv) fields.set(kv[0], unquote(kv[1]));
    }
    const source = fields.get('source') ?? '';
    const target = fields.get('target') ?? source;
    mounted.set(source, target.startsWith('/') ? target : `/run/secrets/${target}`);
  }
  return mounted;
}

// --- What looks like a secret ----------------------------------------------------------------

/** Variable names that hold secrets (their `*_FILE`, `*_DIR`, `*_PATH` forms only name files). */
const SECRET_NAME = /PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL/i;
const NAMES_A_FILE = /_(FILE|DIR|PATH)$/;
/** Database URLs, which normally carry a password: never taken from .env. */
const CONNECTION_STRING_NAME =
  /(^|_)(DATABASE|DB|POSTGRES(QL)?|PG|MYSQL|MARIADB|REDIS|AMQP|RABBITMQ|MONGO(DB)?)(_[A-Z0-9]+)*_(URL|URI|DSN)$|(^|_)DSN$/i;
/** A URL with user information (`user:password@`, `token@`). */
const URL_WITH_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^\s/@]+@/i;
const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name) && !NAMES_A_FILE.test(name);
}

function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const [, name, value] = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line) ?? [];
    if (name !== undefined && value !== undefined) values.set(name, unquote(value));
  }
  return values;
}

/** Compose's interpolation (`${X}`, `${X:-default}`, `${X-default}`, `${X:?err}`, `$X`, `$$`). */
function interpolate(value: string, env: ReadonlyMap<string, string>): string {
  return value
    .split('$$')
    .map((part) =>
      part.replace(
        INTERPOLATION,
        (
          _match: string,
          braced: string | undefined,
          op: string | undefined,
          arg: string | undefined,
          bare: string | undefined,
        ) => {
          const set = env.get(braced ?? bare ?? '');
          if (op === ':-') return set ? set : (arg ?? '');
          if (op === '-') return set ?? arg ?? '';
          return set ?? '';
        },
      ),
    )
    .join('$');
}

function interpolatedNames(value: string): string[] {
  return [...value.split('$$').join('').matchAll(INTERPOLATION)].flatMap((m) => {
    const name = m[1] ?? m[4];
    return name ? [name] : [];
  });
}

/** Why an `environment:` entry is a secret in the open, or undefined when it is not. */
function secretInEnvironment(entry: EnvEntry, env: ReadonlyMap<string, string>): string | undefined {
  const at = `${entry.where} (line ${entry.line}) ${entry.key}`;
  const resolved = interpolate(entry.value, env);
  if (URL_WITH_CREDENTIALS.test(entry.value) || URL_WITH_CREDENTIALS.test(resolved)) {
    return `${at}: a URL with credentials; put it in a secret file and set ${entry.key}_FILE`;
  }
  if (entry.key.endsWith('_FILE')) return undefined;
  if (looksSecret(entry.key)) {
    return `${at}: looks like a secret; put it in a secret file (top-level secrets:) and set ${entry.key}_FILE`;
  }
  const variables = interpolatedNames(entry.value);
  const secretVariable = variables.find(looksSecret);
  if (secretVariable) return `${at}: takes the secret \${${secretVariable}} from .env; use a secret file`;
  if (CONNECTION_STRING_NAME.test(entry.key) && variables.length > 0) {
    return `${at}: a database URL from .env may carry a password; use a secret file and ${entry.key}_FILE`;
  }
  return undefined;
}

function secretsInEnvironment(composeText: string, env: ReadonlyMap<string, string>): string[] {
  const { entries, problems } = environmentEntries(outline(composeText));
  return [
    ...problems,
    ...entries.flatMap((entry) => {
      const problem = secretInEnvironment(entry, env);
      return problem ? [problem] : [];
    }),
  ];
}

// --- The tests -------------------------------------------------------------------------------

const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const envExampleText = readFileSync(join(root, '.env.example'), 'utf8');
const envExample = parseEnvFile(envExampleText);
const compose = outline(composeText);
const services = new Map(
  (child(compose, 'services')?.children ?? []).map((s) => [keyValue(s.text)?.[0] ?? s.text, s]),
);
const declaredSecrets = new Map(
  (child(compose, 'secrets')?.children ?? []).map((s) => [
    keyValue(s.text)?.[0] ?? s.text,
    unquote(keyValue(child(s, 'file')?.text ?? '')?.[1] ?? ''),
  ]),
);

function environmentOf(service: string): Record<string, string> {
  return Object.fromEntries(
    environmentEntries(compose)
      .entries.filter((e) => e.where === `services.${service}`)
      .map((e) => [e.key, e.value]),
  );
}

describe('docker-compose.yml', () => {
  it.skipIf(skipReason !== undefined)(
    'passes scripts/check-compose.sh (default and sim profile)',
    () => {
      const result = spawnSync('bash', [join(root, 'scripts', 'check-compose.sh')], {
        cwd: root,
        encoding: 'utf8',
        // Installing docker-compose with apt-get takes a minute or two on a fresh machine.
        timeout: 600_000,
      });
      const output = `${result.stdout}\n${result.stderr}`;
      expect(result.status, output).toBe(0);
      expect(result.stdout).toContain('docker-compose.yml is valid');
    },
    660_000,
  );

  describe('secrets', () => {
    it('the check finds secrets in environment: (it is not vacuous)', () => {
      const bad = [
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_PASSWORD: hunter2',
        '      POSTGRES_PWD: ${POSTGRES_PASSWORD:?set it}',
        "      AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY:-}'",
        '      AWS_ACCESS_KEY_ID: AKIAEXAMPLE',
        '      AWS_SESSION_TOKEN: ${AWS_SESSION_TOKEN:-}',
        '      AUDIT_URL: postgres://app:pw@db:5432/audit',
        '      KEYSTORE_MAINT_AUDIT_POSTGRES_URL: ${KEYSTORE_MAINT_AUDIT_POSTGRES_URL:-}',
        '      DATABASE_URL: ${DATABASE_URL}',
        '      CACHE: ${CACHE_ADDRESS}',
        '      PASS_THROUGH: ${TEMPORAL_API_KEY}',
        '  app:',
        '    environment:',
        '      - KEYSTORE_MAINT_WEBHOOK_SECRET=abc',
        '      - TEMPORAL_API_KEY',
        '  inline:',
        '    environment: { A: b }',
      ].join('\n');
      const env = new Map([
        ['DATABASE_URL', 'postgresql://u:p@h/db'],
        ['CACHE_ADDRESS', 'redis://:secret@cache:6379'],
      ]);
      const problems = secretsInEnvironment(bad, env);
      for (const key of [
        'POSTGRES_PASSWORD',
        'POSTGRES_PWD',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_ACCESS_KEY_ID',
        'AWS_SESSION_TOKEN',
        'AUDIT_URL',
        'KEYSTORE_MAINT_AUDIT_POSTGRES_URL',
        'DATABASE_URL',
        'CACHE',
        'PASS_THROUGH',
        'KEYSTORE_MAINT_WEBHOOK_SECRET',
        'TEMPORAL_API_KEY',
      ]) {
        expect(
          problems.some((p) => p.includes(` ${key}:`)),
          `${key} in ${problems.join('\n')}`,
        ).toBe(true);
      }
      expect(problems.some((p) => p.startsWith('services.inline'))).toBe(true);

      const good = [
        'services:',
        '  db:',
        '    environment:',
        '      POSTGRES_USER: temporal',
        '      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password',
        '      AWS_SHARED_CREDENTIALS_FILE: /run/secrets/aws_credentials',
        '      AWS_ENDPOINT_URL_KMS: ${AWS_ENDPOINT_URL_KMS:-}',
        '      TEMPORAL_ADDRESS: temporal:7233',
        '      KEYSTORE_MAINT_AUDIT_FILE: /var/lib/keystore-maint/audit/keystore-maint.jsonl',
        '      KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: /run/secrets/audit_postgres_url',
        "      TEMPORAL_CORS_ORIGINS: 'http://localhost:8080'",
      ].join('\n');
      expect(secretsInEnvironment(good, new Map([['AWS_ENDPOINT_URL_KMS', 'http://kms-sim:4566']]))).toEqual(
        [],
      );
    });

    it('keeps every secret out of environment: (only *_FILE variables name them)', () => {
      expect(secretsInEnvironment(composeText, envExample)).toEqual([]);
    });

    it('.env.example sets no secret', () => {
      const problems = [...envExample]
        .filter(([name, value]) => looksSecret(name) || URL_WITH_CREDENTIALS.test(value))
        .map(([name]) => `${name}: secrets are files (secrets/README.md), not .env settings`);
      expect(problems).toEqual([]);
    });

    it('declares every secret as a file in the secrets directory, documented in secrets/README.md', () => {
      const readme = readFileSync(join(root, 'secrets', 'README.md'), 'utf8');
      expect([...declaredSecrets.keys()].sort()).toEqual([
        'audit_key',
        'audit_postgres_url',
        'aws_credentials',
        'postgres_password',
        'webhook_secret',
      ]);
      for (const [name, file] of declaredSecrets) {
        expect(file, name).toBe(`\${KEYSTORE_MAINT_SECRETS_DIR:-./secrets}/${name}`);
        expect(readme, `secrets/README.md should describe ${name}`).toContain(`\`${name}\``);
        expect(envExampleText, `.env.example should name ${name}`).toContain(name);
      }
    });

    it('mounts, in each service, the secret files its *_FILE variables name', () => {
      const problems: string[] = [];
      for (const [name, service] of services) {
        const mounted = mountedSecrets(service);
        for (const secret of mounted.keys()) {
          if (!declaredSecrets.has(secret)) problems.push(`${name} mounts ${secret}, which is not declared`);
        }
        const paths = new Set(mounted.values());
        for (const [key, value] of Object.entries(environmentOf(name))) {
          if (key.endsWith('_FILE') && value.startsWith('/run/secrets/') && !paths.has(value)) {
            problems.push(`${name}: ${key}=${value}, but no secret is mounted there`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('gives the server every variable config/temporal/postgresql.yaml reads, as the rehearsal does', () => {
      const config = readFileSync(join(root, 'config', 'temporal', 'postgresql.yaml'), 'utf8');
      const read = [...config.matchAll(/env "([A-Z_]+)"/g)].map((m) => m[1] ?? '');
      expect(read.length).toBeGreaterThan(10);
      const temporal = services.get('temporal');
      expect(JSON.stringify(child(temporal, 'volumes'))).toContain(
        './config/temporal:/etc/temporal/config/keystore-maint:ro',
      );
      const entrypoint = JSON.stringify(child(temporal, 'entrypoint'));
      const given = new Set([
        ...Object.keys(environmentOf('temporal')),
        ...[...entrypoint.matchAll(/export ([A-Z_ ]+)/g)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/)),
      ]);
      // Each either given or left to its documented default in the file (`| default`).
      const required = [...config.matchAll(/env "([A-Z_]+)" \}\}/g)].map((m) => m[1] ?? '');
      for (const name of required) expect(given.has(name), `${name} is read without a default`).toBe(true);
      for (const name of [
        'TEMPORAL_PG_HOST',
        'TEMPORAL_PG_USER',
        'TEMPORAL_PG_PASSWORD',
        'TEMPORAL_BIND_IP',
        'TEMPORAL_BROADCAST_ADDRESS',
        'TEMPORAL_DYNAMIC_CONFIG',
      ])
        expect(given.has(name), name).toBe(true);
      // The rehearsal sets the same names (scripts/production-rehearsal.sh).
      const script = readFileSync(join(root, 'scripts', 'production-rehearsal.sh'), 'utf8');
      for (const name of required) expect(script, name).toContain(`${name}=`);
    });

    it('wires each secret to the variable its program reads', () => {
      expect(environmentOf('postgresql')).toMatchObject({
        POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password',
      });
      // The server's configuration reads TEMPORAL_PG_PASSWORD: the entrypoint sets it from the file.
      expect(environmentOf('temporal')).toMatchObject({
        TEMPORAL_PG_PASSWORD_FILE: '/run/secrets/postgres_password',
      });
      const temporal = services.get('temporal');
      const entrypoint = JSON.stringify(child(temporal, 'entrypoint'));
      expect(entrypoint).toContain('$$TEMPORAL_PG_PASSWORD_FILE');
      expect(entrypoint).toContain(
        'exec temporal-server --root /etc/temporal --config config/keystore-maint --env postgresql',
      );
      expect(environmentOf('temporal-schema')).toMatchObject({
        TEMPORAL_PG_PASSWORD_FILE: '/run/secrets/postgres_password',
      });
      expect(environmentOf('worker')).toMatchObject({
        AWS_SHARED_CREDENTIALS_FILE: '/run/secrets/aws_credentials',
        KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE: '/run/secrets/audit_postgres_url',
        KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE: '/etc/keystore-maint/webhook-controllers.json',
      });
    });
  });
});
