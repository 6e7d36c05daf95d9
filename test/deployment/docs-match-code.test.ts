/**
 * The operator documentation and the IAM policy are generated from, or checked against, the code:
 * an operator reading docs/operations.md during an incident must see exactly the text the run
 * reports, and the worker's IAM policy must allow every KMS call the activities make — and no
 * `kms:*`. Drift fails here, in CI, not at 2 a.m. during a maintenance window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectionErrorCodeType } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { CONNECTION_ERROR_CODES, type ConnectionErrorInfo } from '../../src/domain/connection-state';
import { projectRoot } from '../../src/util/project-root';

const root = projectRoot();

interface PolicyStatement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action?: string | readonly string[];
  readonly NotAction?: unknown;
  readonly Resource?: string | readonly string[];
  readonly NotResource?: unknown;
}

interface Policy {
  readonly Version: string;
  readonly Statement: readonly PolicyStatement[];
}

function list(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : value;
}

// ---------------------------------------------------------------------------------------------
// ConnectionErrorCode table

function storeTypes(info: ConnectionErrorInfo): string {
  if (info.appliesTo.length === 2) return 'both';
  return info.appliesTo[0] === 'AWS_CLOUDHSM' ? 'CloudHSM' : 'external (XKS)';
}

/** The table row the code implies, cell by cell. */
function expectedRow(code: string, info: ConnectionErrorInfo): readonly string[] {
  return [`\`${code}\``, storeTypes(info), info.transient ? 'yes, bounded' : 'no', info.meaning, info.action];
}

function expectedTable(): string {
  const header = [
    "| `ConnectionErrorCode` | store type | keystore-maint retries | meaning | operator's next step |",
    '| --- | --- | --- | --- | --- |',
  ];
  const rows = Object.entries(CONNECTION_ERROR_CODES).map(
    ([code, info]) => `| ${expectedRow(code, info).join(' | ')} |`,
  );
  return [...header, ...rows].join('\n');
}

/** The rows of the table whose header starts with `ConnectionErrorCode`, keyed by code. */
function documentedCodeRows(markdown: string): Map<string, readonly string[]> {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) => /^\|\s*`ConnectionErrorCode`\s*\|/.test(line));
  const rows = new Map<string, readonly string[]>();
  if (header < 0) return rows;
  // Skip the header and the |---| line; the table ends at the first line that is not a row.
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((cell) => cell.trim());
    const code = /^`([A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    rows.set(code ?? cells[0] ?? '', cells);
  }
  return rows;
}

describe('docs/operations.md: the ConnectionErrorCode table', () => {
  const operations = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  const documented = documentedCodeRows(operations);
  const regenerate = `Regenerate the table in docs/operations.md from src/domain/connection-state.ts:\n\n${expectedTable()}\n`;

  it('covers every ConnectionErrorCode the AWS SDK knows (the wire truth)', () => {
    expect(Object.keys(CONNECTION_ERROR_CODES).sort()).toEqual(Object.values(ConnectionErrorCodeType).sort());
  });

  it.each(Object.entries(CONNECTION_ERROR_CODES))(
    '%s is documented with the same meaning and next step',
    (code, info) => {
      const row = documented.get(code);
      expect(row, `${code} is missing from the table. ${regenerate}`).toBeDefined();
      expect(row, `${code}'s row differs from the code. ${regenerate}`).toEqual(expectedRow(code, info));
    },
  );

  it('documents no code that the code does not know', () => {
    expect(documented.size, `no ConnectionErrorCode table found. ${regenerate}`).toBeGreaterThan(0);
    const unknown = [...documented.keys()].filter((code) => !(code in CONNECTION_ERROR_CODES));
    expect(unknown, regenerate).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// IAM policy

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The IAM service prefix of each AWS SDK client the worker uses. */
const SERVICE_OF_CLIENT: Readonly<Record<string, string>> = {
  '@aws-sdk/client-kms': 'kms',
  '@aws-sdk/client-cloudhsm-v2': 'cloudhsm',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-sns': 'sns',
};

/** Where the worker's AWS calls are made: activities, readiness probes, gates and notifications. */
const CALLING_DIRS = ['activities', join('src', 'probes'), join('src', 'gates'), join('src', 'notify')];

/**
 * `<service>:<Name>` for every `new <Name>Command(` the worker makes, the service read from the
 * client package the command is imported from.
 */
function kmsActionsCalledByActivities(): ReadonlyMap<string, readonly string[]> {
  const actions = new Map<string, string[]>();
  for (const file of CALLING_DIRS.flatMap((dir) => sourceFiles(join(root, dir)))) {
    const text = readFileSync(file, 'utf8');
    const serviceOf = new Map<string, string>();
    for (const imported of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'([^']+)'/g)) {
      const service = SERVICE_OF_CLIENT[imported[2] ?? ''];
      if (!service) continue;
      for (const name of (imported[1] ?? '').split(',')) serviceOf.set(name.trim(), service);
    }
    for (const match of text.matchAll(/\bnew\s+([A-Z][A-Za-z0-9]*)Command\s*\(/g)) {
      const service = serviceOf.get(`${match[1]}Command`);
      expect(service, `${match[1]}Command in ${file}: imported from which AWS SDK client?`).toBeDefined();
      const action = `${service}:${match[1]}`;
      const where = actions.get(action) ?? [];
      where.push(file.slice(root.length + 1));
      actions.set(action, where);
    }
  }
  return actions;
}

describe('docs/iam-policy.json: least privilege for the worker', () => {
  const text = readFileSync(join(root, 'docs', 'iam-policy.json'), 'utf8');
  const policy = JSON.parse(text) as Policy;
  const statements = policy.Statement;
  const granted = new Set(statements.flatMap((s) => list(s.Action)));

  it('is a well-formed IAM policy of Allow statements with explicit actions and resources', () => {
    expect(policy.Version).toBe('2012-10-17');
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.Effect, statement.Sid).toBe('Allow');
      expect(list(statement.Action).length, statement.Sid).toBeGreaterThan(0);
      expect(list(statement.Resource).length, statement.Sid).toBeGreaterThan(0);
      // NotAction / NotResource grant everything not listed: never least privilege.
      expect(statement.NotAction, statement.Sid).toBeUndefined();
      expect(statement.NotResource, statement.Sid).toBeUndefined();
    }
  });

  it('grants no wildcard action', () => {
    for (const action of granted) {
      expect(action).toMatch(/^(kms|cloudhsm|cloudwatch|sns):[A-Z][A-Za-z]+$/);
      expect(action).not.toContain('*');
    }
  });

  it('finds the KMS calls in activities/ (the scan itself works)', () => {
    const called = kmsActionsCalledByActivities();
    for (const action of [
      'kms:DescribeCustomKeyStores',
      'kms:DisconnectCustomKeyStore',
      'kms:ConnectCustomKeyStore',
      'cloudhsm:DescribeClusters',
      'cloudwatch:DescribeAlarms',
    ]) {
      expect([...called.keys()]).toContain(action);
    }
  });

  it('allows every KMS operation the activities call', () => {
    const missing = [...kmsActionsCalledByActivities()]
      .filter(([action]) => !granted.has(action))
      .map(([action, files]) => `${action} (called in ${[...new Set(files)].join(', ')})`);
    expect(missing, 'add these actions to docs/iam-policy.json and explain them in docs/iam.md').toEqual([]);
  });

  it('grants nothing the activities do not call', () => {
    const called = kmsActionsCalledByActivities();
    const unused = [...granted].filter((action) => !called.has(action));
    expect(
      unused,
      'remove these actions from docs/iam-policy.json, or the code that needed them is gone',
    ).toEqual([]);
  });

  it('uses "Resource": "*" only for actions without resource-level permissions', () => {
    // Custom key store actions and ListAliases cannot be scoped to a resource; key operations can.
    const unscopable = new Set([
      'kms:DescribeCustomKeyStores',
      'kms:DisconnectCustomKeyStore',
      'kms:ConnectCustomKeyStore',
      'kms:ListAliases',
      // CloudHSM's Describe actions do not support resource-level permissions either.
      'cloudhsm:DescribeClusters',
    ]);
    for (const statement of statements) {
      if (!list(statement.Resource).includes('*')) continue;
      for (const action of list(statement.Action)) {
        expect(unscopable.has(action), `${action} in ${statement.Sid ?? 'a statement'} on "*"`).toBe(true);
      }
    }
  });

  it('explains every statement in docs/iam.md', () => {
    const iamDoc = readFileSync(join(root, 'docs', 'iam.md'), 'utf8');
    for (const statement of statements) {
      expect(statement.Sid, 'every statement needs a Sid to be explained by').toBeDefined();
      expect(iamDoc).toContain(`\`${statement.Sid}\``);
      for (const action of list(statement.Action)) expect(iamDoc).toContain(action);
    }
  });
});
