/**
 * `keystore-maint doctor`: checks a deployment (src/doctor/) and prints one line per check, or
 * JSON with `--json`. Exit code 0 when every check passes, `EXIT.doctorFailed` otherwise.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  DEFAULT_CHECK_TIMEOUT_MS,
  plural,
  runDoctor,
  SECTION_TITLES,
  type CheckStatus,
  type DoctorReport,
} from '../doctor';
import { taskQueueFromEnvironment } from '../worker';
import { printJson, withConnectionOptions, type GlobalOptions } from './context';
import { EXIT } from './exit-codes';
import { parseDurationMs } from './parse';
import { terminalText } from './terminal-text';

interface DoctorOptions extends GlobalOptions {
  json?: boolean;
  worker?: boolean;
  timeout: number;
}

const LABELS: Readonly<Record<CheckStatus, string>> = {
  ok: 'OK',
  fail: 'FAIL',
  skip: 'SKIP',
  warn: 'WARN',
  info: 'INFO',
};

/**
 * The report as lines of text: a heading per section, one line per check, the fix (or, for INFO,
 * how to check) under it, and a summary. Details and fixes quote settings and what far sides said,
 * so they are escaped (terminal-text.ts).
 */
export function formatReport(report: DoctorReport): string[] {
  const safe = (value: string) => terminalText(value, { singleLine: true });
  const width = Math.max(0, ...report.checks.map((c) => c.title.length));
  const lines: string[] = [];
  let section: string | undefined;
  for (const c of report.checks) {
    if (c.section !== section) {
      if (section !== undefined) lines.push('');
      section = c.section;
      lines.push(SECTION_TITLES[c.section]);
    }
    lines.push(`  ${LABELS[c.status].padEnd(4)}  ${c.title.padEnd(width)}  ${safe(c.detail)}`);
    if (c.fix) lines.push(`        ${c.status === 'info' ? 'check' : 'fix'}: ${safe(c.fix)}`);
  }
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const tested = report.checks.length - count('info');
  lines.push('');
  if (report.ok) {
    const warnings = count('warn');
    lines.push(
      `doctor: all ${tested} checks passed${warnings > 0 ? ` (${plural(warnings, 'warning')})` : ''}`,
    );
  } else {
    const skipped = count('skip');
    lines.push(
      `doctor: ${count('fail')} of ${tested} checks failed${skipped > 0 ? `, ${skipped} not checked` : ''}: see the fixes above`,
    );
  }
  return lines;
}

function parseTimeout(value: string): number {
  const ms = parseDurationMs(value);
  if (ms <= 0 || ms > 120_000) {
    throw new InvalidArgumentError(`"${value}" is not a time limit between 1ms and 2m.`);
  }
  return ms;
}

/** The first of these that is set and not blank. */
function firstSet(...values: (string | undefined)[]): string | undefined {
  return values.map((value) => value?.trim()).find((value) => value !== undefined && value !== '');
}

const HELP = [
  '',
  'What is checked (one line each: OK, or FAIL with the fix):',
  '  Temporal  reachable with the usual settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key, TOML profile)',
  '            the namespace exists (DescribeNamespace)',
  '            KmsCustomKeyStoreId and MaintenancePhase are registered as Keyword (ListSearchAttributes)',
  '            a worker polls the task queue, workflow and activity tasks, and its -kms queue (DescribeTaskQueue)',
  '  AWS       the credentials resolve, and whose they are (STS GetCallerIdentity; AWS_ENDPOINT_URL_STS applies)',
  '            KMS answers DescribeCustomKeyStores in the Region (AWS_REGION or --region)',
  '            INFO: kms:ConnectCustomKeyStore and kms:DisconnectCustomKeyStore have no dry run: how to check them',
  '  --worker  the audit sink and key (KEYSTORE_MAINT_AUDIT_KEY_FILE, at least 32 bytes), the webhook',
  '            controllers, the KMS budget and the workflow bundle, as the worker reads them',
  '',
  'Each check gives up after --timeout (default 5s). Exit code 0 when every check passes; 8 when one',
  'fails or could not run (INFO and WARN lines do not fail); 2 for a usage error.',
  '',
  'Examples:',
  '  $ TEMPORAL_ADDRESS=temporal.internal:7233 AWS_REGION=us-east-1 keystore-maint doctor',
  '  $ keystore-maint doctor --worker --json     # where the worker runs, with its environment',
  '',
].join('\n');

export function registerDoctor(program: Command): void {
  withConnectionOptions(
    program
      .command('doctor')
      .description(
        'Check that this deployment can run maintenance: Temporal, the worker, AWS credentials, KMS',
      ),
  )
    .option('--json', 'machine-readable: {"ok", "checks": [{"name", "ok", "detail", "fix", ...}]}')
    .option('--worker', "also check the worker's own configuration (run it where the worker runs)")
    .option('--timeout <duration>', 'time limit of each check', parseTimeout, DEFAULT_CHECK_TIMEOUT_MS)
    .addHelpText('after', HELP)
    .action(async (opts: DoctorOptions) => {
      const env = process.env;
      const report = await runDoctor(
        {
          env,
          timeoutMs: opts.timeout,
          taskQueue: opts.taskQueue ?? taskQueueFromEnvironment(env),
          region: firstSet(opts.region, env.AWS_REGION, env.AWS_DEFAULT_REGION),
          address: opts.address,
          namespace: opts.namespace,
          profile: opts.profile,
        },
        { worker: opts.worker === true },
      );
      if (opts.json) printJson(report);
      else for (const line of formatReport(report)) console.log(line);
      process.exitCode = report.ok ? EXIT.ok : EXIT.doctorFailed;
    });
}
