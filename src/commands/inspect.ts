import { Command, Option } from 'commander';
import { END_STATES, PHASES, type RunPhase } from '../domain/phases';
import type { MaintenanceStatus } from '../domain/status';
import { exitCodeFor, printJson, withClient, withConnectionOptions, type GlobalOptions } from './context';
import { auditLine, describeResult, followRun } from './follow';
import { progressLine } from './progress';

function printStatus(status: MaintenanceStatus): void {
  console.log(`${status.workflowId}`);
  console.log(`  ${progressLine(status)}`);
  console.log(`  ${status.message}`);
  if (status.requestedBy) console.log(`  requested by ${status.requestedBy}: ${status.reason ?? ''}`);
  if (status.window.startedAt) {
    console.log(
      `  window ${status.window.startedAt} → ${status.window.endsAt ?? '?'} (latest ${status.window.latestEnd ?? '?'})`,
    );
  }
  if (status.approval.required) {
    console.log(
      `  approval: ${status.approval.approvedBy ? `approved by ${status.approval.approvedBy}` : 'waiting'}`,
    );
  }
  if (status.connectionError) {
    console.log(`  ${status.connectionError.code}: ${status.connectionError.meaning}`);
    console.log(`  next step: ${status.connectionError.action}`);
  }
  const audit = auditLine(status.audit);
  if (audit) console.log(`  ${audit}`);
  console.log('  timeline:');
  for (const span of status.timeline) {
    console.log(
      `    ${span.phase.padEnd(22)} ${span.startedAt}${span.endedAt ? ` → ${span.endedAt}` : ' (now)'}`,
    );
  }
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
          for (const run of runs) {
            console.log(
              `${run.startTime}  ${(run.phase ?? '-').padEnd(20)} ${run.status.padEnd(10)} ${run.workflowId}`,
            );
          }
        });
      },
    );
  program.addCommand(withConnectionOptions(list));
}
