import { Command, Option } from 'commander';
import type { RunSummary } from '../client';
import { END_STATES, PHASES, type RunPhase } from '../domain/phases';
import type { MaintenanceStatus } from '../domain/status';
import { exitCodeFor, printJson, withClient, withConnectionOptions, type GlobalOptions } from './context';
import { auditLine, describeResult, followRun } from './follow';
import { progressLine } from './progress';
import { printable, terminalText } from './terminal-text';

/**
 * What `status` prints, line by line. Everything the run reports (who, why, messages, the
 * store's state) is made safe to print: see terminal-text.ts.
 */
export function statusLines(status: MaintenanceStatus, nowMs: number = Date.now()): string[] {
  const lines = [printable`${status.workflowId}`, `  ${progressLine(status, nowMs)}`];
  lines.push(printable`  ${status.message}`);
  if (status.requestedBy) lines.push(printable`  requested by ${status.requestedBy}: ${status.reason ?? ''}`);
  if (status.window.startedAt) {
    lines.push(
      printable`  window ${status.window.startedAt} → ${status.window.endsAt ?? '?'} (latest ${status.window.latestEnd ?? '?'})`,
    );
  }
  if (status.approval.required) {
    lines.push(
      status.approval.approvedBy
        ? printable`  approval: approved by ${status.approval.approvedBy}`
        : '  approval: waiting',
    );
  }
  if (status.failure) lines.push(printable`  failure type: ${status.failure.type}`);
  if (status.connectionError) {
    lines.push(printable`  ${status.connectionError.code}: ${status.connectionError.meaning}`);
    lines.push(printable`  next step: ${status.connectionError.action}`);
  }
  lines.push(...readinessLines(status));
  const notifications = notificationsLine(status);
  if (notifications) lines.push(`  ${notifications}`);
  const audit = auditLine(status.audit);
  if (audit) lines.push(`  ${audit}`);
  lines.push('  timeline:');
  for (const span of status.timeline) {
    lines.push(
      `    ${terminalText(span.phase, { singleLine: true }).padEnd(22)} ${printable`${span.startedAt}`}${span.endedAt ? printable` → ${span.endedAt}` : ' (now)'}`,
    );
  }
  return lines;
}

/** What became of the run's notifications, when it has any (docs/notifications.md). */
export function notificationsLine(status: MaintenanceStatus): string | undefined {
  const n = status.notifications;
  if (!n) return undefined;
  const counts = `notifications: ${n.sent} sent, ${n.failed} failed, ${n.pending} being tried${n.skipped ? `, ${n.skipped} skipped` : ''}`;
  return n.lastProblem ? printable`${counts}; last problem: ${n.lastProblem}` : counts;
}

/** What the readiness probes said last, and whether the run holds the store for them. */
function readinessLines(status: MaintenanceStatus): string[] {
  const readiness = status.readiness;
  if (!readiness) return [];
  const latest = readiness.last ?? readiness.preflight;
  const lines: string[] = [];
  if (readiness.waiting) {
    lines.push(
      printable`  readiness: NOT READY since ${readiness.waiting.since}; holding the store disconnected until ${readiness.waiting.until} (connect anyway: keystore-maint end-window --force)`,
    );
  } else if (readiness.forced) {
    lines.push(printable`  readiness: connect forced by ${readiness.forced.by} at ${readiness.forced.at}`);
  }
  if (latest) {
    lines.push(printable`  probes (${latest.checkedAt}): ${latest.ready ? 'ready' : 'not ready'}`);
    for (const probe of latest.probes)
      lines.push(printable`    ${probe.probe} ${probe.status}: ${probe.summary}`);
  }
  return lines;
}

function printStatus(status: MaintenanceStatus): void {
  for (const line of statusLines(status)) console.log(line);
}

/** One row of `list`; the workflow id and search attributes are made safe to print. */
export function listLine(run: RunSummary): string {
  const cell = (value: unknown) => terminalText(value, { singleLine: true, maxLength: 300 });
  return `${cell(run.startTime)}  ${cell(run.phase ?? '-').padEnd(20)} ${cell(run.status).padEnd(10)} ${cell(run.workflowId)}`;
}

export function registerInspect(program: Command): void {
  const status = new Command('status')
    .description('Show the status of a run (by store id or workflow id)')
    .argument('<store-or-workflow-id>', 'cks-… (uses --region/AWS_REGION) or the workflow id')
    .addOption(new Option('--json', 'print JSON'))
    .addHelpText(
      'after',
      '\nExample:\n  $ keystore-maint status cks-1234567890abcdef0 --region eu-central-1\n',
    )
    .action(async (id: string, opts: GlobalOptions & { json?: boolean }) => {
      await withClient(opts, async (client) => {
        const s = await client.getStatus(id);
        if (opts.json) printJson(s);
        else printStatus(s);
      });
    });
  program.addCommand(withConnectionOptions(status));

  const watch = new Command('watch')
    .description('Follow a run live until it ends; the exit code tells how it ended')
    .argument('<store-or-workflow-id>', 'cks-… or the workflow id')
    .option(
      '--interval <ms>',
      'refresh interval in milliseconds',
      (v) => Math.max(200, Number(v) || 1000),
      1000,
    )
    .addOption(new Option('--json', 'print the final result as JSON'))
    .addHelpText(
      'after',
      '\nExample:\n  $ keystore-maint watch cks-1234567890abcdef0\n\nExit codes: 0 COMPLETED, 3 CANCELLED, 4 FAILED, 5 NEEDS_ATTENTION.\n',
    )
    .action(async (id: string, opts: GlobalOptions & { interval: number; json?: boolean }) => {
      process.exitCode = await withClient(opts, async (client) => {
        const result = await followRun(client, id, { intervalMs: opts.interval, quiet: opts.json === true });
        if (opts.json) printJson(result);
        else console.log(describeResult(result));
        return exitCodeFor(result);
      });
    });
  program.addCommand(withConnectionOptions(watch));

  const list = new Command('list')
    .description('List maintenance runs, newest first')
    .addOption(
      new Option('--phase <phase>', 'only runs in this phase or end state').choices([
        ...PHASES,
        ...END_STATES,
      ]),
    )
    .option('--store <cks-id>', 'only runs of this store')
    .option('--limit <n>', 'at most this many', (v) => Math.max(1, Number(v) || 50), 50)
    .addOption(new Option('--json', 'print JSON'))
    .addHelpText('after', '\nExamples:\n  $ keystore-maint list\n  $ keystore-maint list --phase IN_WINDOW\n')
    .action(
      async (opts: GlobalOptions & { phase?: RunPhase; store?: string; limit: number; json?: boolean }) => {
        await withClient(opts, async (client) => {
          const runs = await client.list({
            ...(opts.phase ? { phase: opts.phase } : {}),
            ...(opts.store ? { customKeyStoreId: opts.store } : {}),
            limit: opts.limit,
          });
          if (opts.json) return printJson(runs);
          if (runs.length === 0) return console.log('no maintenance runs found');
          for (const run of runs) console.log(listLine(run));
        });
      },
    );
  program.addCommand(withConnectionOptions(list));
}
