import { Command, Option } from 'commander';
import { actor, printJson, withClient, withConnectionOptions, type GlobalOptions } from './context';
import { CliError } from './exit-codes';
import { parseDurationText } from './parse';
import { printable } from './terminal-text';

type SteerOptions = GlobalOptions & { by?: string; json?: boolean };

function steer(
  name: string,
  description: string,
  example: string,
  configure: (command: Command) => Command,
  act: (
    client: Parameters<Parameters<typeof withClient>[1]>[0],
    id: string,
    by: string,
    opts: SteerOptions & Record<string, unknown>,
  ) => Promise<{ text: string; answer: unknown }>,
): Command {
  const command = configure(
    new Command(name)
      .description(description)
      .argument('<store-or-workflow-id>', 'cks-… (uses --region/AWS_REGION) or the workflow id')
      .option('--by <name>', 'who is doing this (default: your user name)')
      .addOption(new Option('--json', 'print the answer as JSON'))
      .addHelpText('after', `\nExample:\n  $ ${example}\n`),
  ).action(async (id: string, opts: SteerOptions & Record<string, unknown>) => {
    await withClient(opts, async (client) => {
      const { text, answer } = await act(client, id, actor(opts.by), opts);
      if (opts.json) printJson(answer);
      else console.log(text);
    });
  });
  return withConnectionOptions(command);
}

export function registerSteer(program: Command): void {
  program.addCommand(
    steer(
      'extend',
      'Extend the maintenance window (up to maxWindow)',
      'keystore-maint extend cks-1234567890abcdef0 --duration 30m',
      (c) =>
        c.requiredOption('--duration <duration>', 'how much longer, e.g. 30m or PT30M', parseDurationText),
      async (client, id, by, opts) => {
        const answer = await client.extendWindow(id, { by, duration: String(opts.duration) });
        return { text: printable`window now ends at ${answer.windowEndsAt}`, answer };
      },
    ),
  );
  program.addCommand(
    steer(
      'end-window',
      'End the maintenance window now; the store is reconnected (with --force: connect although the readiness probes say not ready)',
      'keystore-maint end-window cks-1234567890abcdef0',
      (c) =>
        c.option(
          '--force',
          'only while the run holds the store until its readiness probes say ready: connect anyway (audited)',
        ),
      async (client, id, by, opts) => {
        const force = opts.force === true;
        const answer = await client.endWindowNow(id, { by, ...(force ? { force } : {}) });
        return {
          text: force
            ? 'forced: connecting without waiting for the readiness probes'
            : printable`window ended at ${answer.windowEndsAt}; reconnecting`,
          answer,
        };
      },
    ),
  );
  program.addCommand(
    steer(
      'approve',
      'Approve a run that waits for approval',
      'keystore-maint approve cks-1234567890abcdef0 --by alice@example.com',
      (c) => c,
      async (client, id, by) => {
        const answer = await client.approve(id, { by });
        return {
          text: answer.alreadyApproved
            ? printable`already approved by ${answer.approvedBy} at ${answer.approvedAt}`
            : printable`approved by ${answer.approvedBy}`,
          answer,
        };
      },
    ),
  );
  program.addCommand(
    steer(
      'abort',
      'Abort a run: undo what it changed (reconnect, restore traffic) and end CANCELLED',
      'keystore-maint abort cks-1234567890abcdef0 --reason "vendor postponed the patch"',
      (c) => c.option('--reason <text>', 'why (required; recorded in the audit trail)'),
      async (client, id, by, opts) => {
        const reason = typeof opts.reason === 'string' ? opts.reason.trim() : '';
        if (!reason) throw new CliError('--reason is required: why the run is being aborted');
        const answer = await client.abort(id, { by, reason });
        return {
          text: printable`abort accepted in phase ${answer.phase}; the run is undoing its changes`,
          answer,
        };
      },
    ),
  );
}
