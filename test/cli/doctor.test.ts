/**
 * `keystore-maint doctor`, the built CLI as a child process, against the dev server, the
 * simulator (KMS and STS) and a real worker: every check passing, and each failure with its fix,
 * its exit code and a bounded run time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policySourceArn } from '../../src/doctor';
import { ensureBuilt, runCli } from '../support/built-cli';
import { cliEnvironment, startMaintenanceEnv, type MaintenanceEnv } from '../support/maintenance-env';
import { uniqueName } from '../support/temporal';

let env: MaintenanceEnv;
let cliEnv: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  env = await startMaintenanceEnv();
  cliEnv = { ...cliEnvironment(env), AWS_ENDPOINT_URL_STS: env.sim.url };
  dir = mkdtempSync(join(tmpdir(), 'keystore-maint-doctor-'));
});
afterAll(async () => {
  await env?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const doctor = (args: string[] = [], extra: NodeJS.ProcessEnv = {}) =>
  runCli(['doctor', ...args], { ...cliEnv, ...extra });

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The line of one check (`  OK    title  detail`) and the fix line after it, if any. */
function lineOf(stdout: string, title: string): { line: string; fix: string | undefined } {
  const lines = stdout.split('\n');
  const index = lines.findIndex((l) => new RegExp(`^  (OK|FAIL|SKIP|WARN|INFO)\\s+${title}\\s{2}`).test(l));
  if (index === -1) throw new Error(`no line for "${title}" in:\n${stdout}`);
  const next = lines[index + 1] ?? '';
  return { line: lines[index] ?? '', fix: /^\s+(fix|check): /.test(next) ? next.trim() : undefined };
}

function checkLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^ {2}(OK|FAIL|SKIP|WARN|INFO)\s/.test(l));
}

interface JsonCheck {
  section: string;
  name: string;
  title: string;
  status: string;
  ok: boolean;
  detail: string;
  fix: string | null;
}

describe('keystore-maint doctor', () => {
  it('passes every check against a working deployment: exit 0, the account printed', async () => {
    await env.control.clearCalls();
    const run = await doctor();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const lines = checkLines(run.stdout);
    expect(lines).toHaveLength(8);
    for (const line of lines) expect(line).toMatch(/^ {2}(OK|INFO) /);
    expect(lines.filter((l) => l.startsWith('  INFO'))).toHaveLength(1);
    expect(lineOf(run.stdout, 'connection').line).toContain(`reachable at ${env.temporal.address}`);
    expect(lineOf(run.stdout, 'namespace').line).toContain(`${env.temporal.namespace} exists`);
    expect(lineOf(run.stdout, 'search attributes').line).toContain(
      'KmsCustomKeyStoreId and MaintenancePhase are registered as Keyword',
    );
    expect(lineOf(run.stdout, 'worker').line).toMatch(
      new RegExp(`${env.taskQueue}: \\d+ workflow pollers?, \\d+ activity pollers?`),
    );
    expect(lineOf(run.stdout, 'KMS worker').line).toContain(`${env.taskQueue}-kms: `);
    expect(lineOf(run.stdout, 'credentials').line).toContain(
      'account 111122223333 as arn:aws:iam::111122223333:user/simulated',
    );
    expect(lineOf(run.stdout, 'KMS').line).toContain('DescribeCustomKeyStores in us-east-1 answered');
    const iam = lineOf(run.stdout, 'IAM permissions');
    expect(iam.line).toContain('kms:DescribeCustomKeyStores is allowed');
    expect(iam.line).toContain('KMS has no dry run');
    expect(iam.fix).toContain(
      'aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::111122223333:user/simulated --action-names kms:ConnectCustomKeyStore kms:DisconnectCustomKeyStore',
    );
    expect(run.stdout).toContain('doctor: all 7 checks passed');

    // It asked STS and KMS once each, and changed nothing.
    const calls = await env.control.calls();
    expect(calls.map((c) => c.operation).sort()).toEqual(['DescribeCustomKeyStores', 'GetCallerIdentity']);
  });

  it('--json: one object whose checks each have a name, ok, detail and fix', async () => {
    const run = await doctor(['--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: JsonCheck[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      'temporal.connection',
      'temporal.namespace',
      'temporal.search-attributes',
      'temporal.worker',
      'temporal.kms-worker',
      'aws.credentials',
      'aws.kms',
      'aws.iam-permissions',
    ]);
    for (const c of report.checks) {
      expect(c.ok).toBe(true);
      expect(typeof c.detail).toBe('string');
      expect(c.fix === null || typeof c.fix === 'string').toBe(true);
    }
    expect(report.checks.find((c) => c.name === 'aws.iam-permissions')).toMatchObject({ status: 'info' });
    expect(report.checks.find((c) => c.name === 'aws.credentials')?.detail).toContain('111122223333');
  });

  it('fails the worker checks, with the fix, when no worker polls the task queue (exit 8)', async () => {
    const queue = uniqueName('no-worker');
    const run = await doctor([], { KEYSTORE_MAINT_TASK_QUEUE: queue });
    expect(run.code).toBe(8);
    const worker = lineOf(run.stdout, 'worker');
    expect(worker.line).toMatch(new RegExp(`^ {2}FAIL +worker +no worker polls task queue ${queue}`));
    expect(worker.fix).toBe(
      `fix: start a worker on this task queue: KEYSTORE_MAINT_TASK_QUEUE=${queue} keystore-maint worker (same TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE; clients, schedules and workers must agree on the task queue)`,
    );
    expect(lineOf(run.stdout, 'KMS worker').line).toMatch(
      new RegExp(`^ {2}FAIL .*no worker polls ${queue}-kms`),
    );
    for (const title of ['connection', 'namespace', 'search attributes', 'credentials', 'KMS']) {
      expect(lineOf(run.stdout, title).line, title).toMatch(/^ {2}OK /);
    }
    expect(run.stdout).toContain('doctor: 2 of 7 checks failed');

    const json = await doctor(['--json', '--task-queue', queue]);
    expect(json.code).toBe(8);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: JsonCheck[] };
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.name === 'temporal.worker')).toMatchObject({
      ok: false,
      status: 'fail',
      fix: expect.stringContaining(`KEYSTORE_MAINT_TASK_QUEUE=${queue} keystore-maint worker`) as unknown,
    });
  });

  it('says Temporal is unreachable, with the fix, within a bounded time (exit 8)', async () => {
    const port = await closedPort();
    const started = Date.now();
    const run = await doctor([], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    const elapsed = Date.now() - started;
    expect(run.code).toBe(8);
    const connection = lineOf(run.stdout, 'connection');
    expect(connection.line).toMatch(
      new RegExp(`^ {2}FAIL +connection +cannot reach Temporal at 127\\.0\\.0\\.1:${port}`),
    );
    expect(connection.fix).toContain('keystore-maint dev-server');
    expect(connection.fix).toContain('TEMPORAL_ADDRESS');
    for (const title of ['namespace', 'search attributes', 'worker', 'KMS worker']) {
      expect(lineOf(run.stdout, title).line, title).toMatch(
        /^ {2}SKIP .*not checked: Temporal is not reachable/,
      );
    }
    // The AWS checks do not depend on Temporal.
    expect(lineOf(run.stdout, 'credentials').line).toMatch(/^ {2}OK /);
    expect(lineOf(run.stdout, 'KMS').line).toMatch(/^ {2}OK /);
    // One 5-second limit per check, the sections side by side: far less than a hang.
    expect(elapsed).toBeLessThan(20_000);
  });

  it('says KMS cannot be reached when AWS_ENDPOINT_URL_KMS points at a closed port (exit 8)', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const run = await doctor([], { AWS_ENDPOINT_URL_KMS: url });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.code).toBe(8);
    const kms = lineOf(run.stdout, 'KMS');
    expect(kms.line).toMatch(/^ {2}FAIL /);
    expect(kms.line).toContain(`cannot reach KMS at ${url} in us-east-1 (ECONNREFUSED`);
    expect(kms.fix).toContain(`AWS_ENDPOINT_URL_KMS=${url} is set (only for the simulator)`);
    expect(lineOf(run.stdout, 'credentials').line).toMatch(/^ {2}OK /);
    expect(lineOf(run.stdout, 'IAM permissions').line).toContain(
      'kms:DescribeCustomKeyStores could not be checked',
    );
  });

  it('names the missing IAM action when KMS denies DescribeCustomKeyStores (exit 8)', async () => {
    await env.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'AccessDeniedException',
      message:
        'User: arn:aws:iam::111122223333:user/simulated is not authorized to perform: kms:DescribeCustomKeyStores',
    });
    const run = await doctor();
    expect(run.code).toBe(8);
    const kms = lineOf(run.stdout, 'KMS');
    expect(kms.line).toMatch(
      /^ {2}FAIL +KMS +access denied: arn:aws:iam::111122223333:user\/simulated may not call kms:DescribeCustomKeyStores in us-east-1/,
    );
    expect(kms.fix).toContain(
      'grant kms:DescribeCustomKeyStores to arn:aws:iam::111122223333:user/simulated: the ReadCustomKeyStores statement of docs/iam-policy.json',
    );
    expect(lineOf(run.stdout, 'IAM permissions').line).toContain('kms:DescribeCustomKeyStores is denied');
    expect(run.stdout).toContain('doctor: 1 of 7 checks failed');
  });

  it('fails with the fix when the Region is not the one KMS serves (exit 8)', async () => {
    const run = await doctor([], { AWS_REGION: 'eu-west-1' });
    expect(run.code).toBe(8);
    const kms = lineOf(run.stdout, 'KMS');
    expect(kms.line).toMatch(
      /^ {2}FAIL +KMS +KMS at http:\/\/\S+ does not serve eu-west-1 \(InvalidSignatureException/,
    );
    expect(kms.fix).toContain('set AWS_REGION to that Region');
  });

  it('says so when no Region is configured, with the fix', async () => {
    const run = await doctor([], { AWS_REGION: '', AWS_DEFAULT_REGION: '' });
    expect(run.code).toBe(8);
    const kms = lineOf(run.stdout, 'KMS');
    expect(kms.line).toContain('no AWS Region: AWS_REGION is not set');
    expect(kms.fix).toContain('AWS_REGION=us-east-1');
    // --region fills it in.
    const given = await doctor(['--region', 'us-east-1'], { AWS_REGION: '', AWS_DEFAULT_REGION: '' });
    expect(lineOf(given.stdout, 'KMS').line).toMatch(/^ {2}OK +KMS +DescribeCustomKeyStores in us-east-1/);
  });

  it('escapes what the far side says', async () => {
    await env.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'AccessDeniedException',
      message: 'denied \u001b]52;c;cHduZWQ=\u0007 \u202eevil',
    });
    const run = await doctor();
    expect(run.code).toBe(8);
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(run.stdout).not.toContain(raw);
    expect(lineOf(run.stdout, 'KMS').line).toContain('denied \\u001b]52;c;cHduZWQ=\\u0007 \\u202eevil');
  });

  it('--worker checks the audit key, the webhook controllers, the KMS budget and the bundle', async () => {
    const goodKey = join(dir, 'audit_key');
    writeFileSync(goodKey, `${'ab'.repeat(32)}\n`);
    const shortKey = join(dir, 'short_key');
    writeFileSync(shortKey, 'too-short\n');
    const workerEnv = {
      KEYSTORE_MAINT_AUDIT_SINK: 'file',
      KEYSTORE_MAINT_AUDIT_FILE: join(dir, 'audit.jsonl'),
      KEYSTORE_MAINT_AUDIT_KEY_FILE: goodKey,
      KEYSTORE_MAINT_AUDIT_UNKEYED: '',
      KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: '',
      KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE: '',
      KEYSTORE_MAINT_KMS_BUDGET_RPS: '',
      KEYSTORE_MAINT_KMS_WORKERS: '',
      KEYSTORE_MAINT_WORKFLOW_BUNDLE: '',
    };
    const good = await doctor(['--worker'], workerEnv);
    expect(good.code, good.stdout).toBe(0);
    expect(good.stdout).toContain('worker configuration');
    expect(lineOf(good.stdout, 'audit key').line).toMatch(
      new RegExp(
        `^ {2}OK +audit key +${goodKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is readable and long enough \\(key id k-[0-9a-f]{16}\\)`,
      ),
    );
    expect(good.stdout).not.toContain('ab'.repeat(32));
    for (const title of [
      'audit sink',
      'webhook controllers',
      'XKS proxy credentials',
      'gate sources',
      'notification destinations',
      'KMS budget',
      'workflow bundle',
    ]) {
      expect(lineOf(good.stdout, title).line, title).toMatch(/^ {2}OK /);
    }

    // A destination whose URL file is not there yet: a warning (deliveries read it when they run).
    const slackUrl = join(dir, 'slack-url');
    const notifyEnv = {
      ...workerEnv,
      KEYSTORE_MAINT_GATES: JSON.stringify({
        notifications: {
          'ops-slack': { kind: 'slack', urlFile: slackUrl },
          'sec-topic': { kind: 'sns', topicArn: 'arn:aws:sns:us-east-1:111122223333:kms' },
        },
      }),
    };
    const warned = await doctor(['--worker'], notifyEnv);
    expect(warned.code, warned.stdout).toBe(0);
    expect(lineOf(warned.stdout, 'notification destinations').line).toMatch(
      /^ {2}WARN .*2 destinations: ops-slack \(slack\), sec-topic \(sns\); unreadable now: "ops-slack" \(file .*slack-url is missing or empty\)/,
    );
    writeFileSync(slackUrl, 'https://hooks.slack.com/services/T000/B000/XXXX\n');
    const ready = await doctor(['--worker'], notifyEnv);
    expect(lineOf(ready.stdout, 'notification destinations').line).toMatch(/^ {2}OK .*2 destinations/);
    expect(ready.stdout).not.toContain('hooks.slack.com');

    // A credential whose access key id comes from a file that is not there: a failure that names it.
    const keyFile = join(dir, 'xks-access-key-id');
    const rotatingEnv = {
      ...workerEnv,
      KEYSTORE_MAINT_XKS_PROXIES: JSON.stringify({
        proxies: { rotating: { accessKeyIdFile: keyFile, secretEnv: 'KEYSTORE_MAINT_XKS_SECRET_R' } },
      }),
      KEYSTORE_MAINT_XKS_SECRET_R: 'c2VjcmV0',
    };
    const noKey = await doctor(['--worker'], rotatingEnv);
    expect(noKey.code).toBe(8);
    expect(lineOf(noKey.stdout, 'XKS proxy credentials').line).toMatch(
      /^ {2}FAIL .*no usable access key id for "rotating" \(file .*xks-access-key-id is missing/,
    );
    writeFileSync(keyFile, 'ABCDEFGHIJKLMNOPQRST\n');
    expect(lineOf((await doctor(['--worker'], rotatingEnv)).stdout, 'XKS proxy credentials').line).toMatch(
      /^ {2}OK /,
    );

    const bad = await doctor(['--worker', '--json'], {
      ...workerEnv,
      KEYSTORE_MAINT_AUDIT_KEY_FILE: shortKey,
      KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: '{"controllers": ',
      KEYSTORE_MAINT_XKS_PROXIES: JSON.stringify({
        proxies: { p: { accessKeyId: 'short', secretFile: 'x' } },
      }),
      KEYSTORE_MAINT_GATES: '{"prometheus": {"main": {"url": "ftp://prom"}}}',
    });
    expect(bad.code).toBe(8);
    const report = JSON.parse(bad.stdout) as { ok: boolean; checks: JsonCheck[] };
    expect(report.checks.find((c) => c.name === 'worker.audit-key')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/is 9 bytes; it must be at least 32/) as unknown,
      fix: expect.stringContaining('openssl rand -hex 32') as unknown,
    });
    expect(report.checks.find((c) => c.name === 'worker.webhook-controllers')).toMatchObject({
      ok: false,
      detail: 'KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: not valid JSON',
    });
    expect(report.checks.find((c) => c.name === 'worker.xks-proxies')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/proxies\.p\.accessKeyId: must be 20 to 30 characters/) as unknown,
    });
    expect(report.checks.find((c) => c.name === 'worker.gates')).toMatchObject({
      ok: false,
      fix: expect.stringContaining('docs/gates.md') as unknown,
    });

    // Without --worker, none of these is looked at.
    const plain = await doctor([], { KEYSTORE_MAINT_AUDIT_KEY_FILE: shortKey });
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('worker configuration');
  });

  it('--help lists what is checked; a bad --timeout is a usage error', async () => {
    const help = await runCli(['doctor', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('What is checked');
    expect(help.stdout).toContain('DescribeTaskQueue');
    expect(help.stdout).toContain('GetCallerIdentity');
    expect(help.stdout).toContain('Example');
    const bad = await doctor(['--timeout', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"soon" is not a duration');
  });
});

describe('policySourceArn', () => {
  it('turns an assumed-role session into its role, which the policy simulator accepts', () => {
    expect(
      policySourceArn('arn:aws:sts::111122223333:assumed-role/keystore-maint-worker/i-0123456789abcdef0'),
    ).toEqual({
      arn: 'arn:aws:iam::111122223333:role/keystore-maint-worker',
      note: 'if the role has a path, insert it after role/',
    });
    expect(policySourceArn('arn:aws-cn:sts::111122223333:assumed-role/r/s').arn).toBe(
      'arn:aws-cn:iam::111122223333:role/r',
    );
    expect(policySourceArn('arn:aws:iam::111122223333:user/alice')).toEqual({
      arn: 'arn:aws:iam::111122223333:user/alice',
    });
  });
});
