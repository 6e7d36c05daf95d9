import { Command, Option } from 'commander';
import type { MaintenanceClient } from '../client';
import {
  createMaintenanceSchedule,
  deleteMaintenanceSchedule,
  describeMaintenanceSchedule,
  listMaintenanceSchedules,
  MaintenanceScheduleNotFoundError,
  parseCalendar,
  pauseMaintenanceSchedule,
  ScheduleInputError,
  triggerMaintenanceSchedule,
  unpauseMaintenanceSchedule,
  type MaintenanceScheduleView,
} from '../schedules';
import { actor, printJson, withClient, withConnectionOptions, type GlobalOptions } from './context';
import { CliError, EXIT } from './exit-codes';
import { parseDurationText } from './parse';
import { requestFromFlags, withRequestOptions } from './start';
import { printable, terminalText } from './terminal-text';

async function scheduleAction<T>(
  opts: GlobalOptions,
  fn: (client: MaintenanceClient) => Promise<T>,
): Promise<T> {
  return withClient(opts, async (client) => {
    try {
      return await fn(client);
    } catch (err) {
      if (err instanceof ScheduleInputError) throw new CliError(err.message, EXIT.usage);
      if (err instanceof MaintenanceScheduleNotFoundError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
  });
}

/**
 * What `schedule describe` prints, line by line. The note (free text of whoever paused the
 * schedule), the memo's cron and the workflow ids are made safe to print: see terminal-text.ts.
 */
export function scheduleViewLines(v: MaintenanceScheduleView): string[] {
  const lines = [printable`${v.scheduleId}` + (v.paused ? ' (paused)' : '')];
  if (v.note) lines.push(printable`  note: ${v.note}`);
  if (v.customKeyStoreId) lines.push(printable`  store: ${v.customKeyStoreId}`);
  for (const cron of v.spec.cron) lines.push(printable`  cron: ${cron}`);
  // A cron expression is stored as calendars; show those only for calendar schedules.
  if (!v.spec.cron.length)
    for (const calendar of v.spec.calendars) lines.push(printable`  calendar: ${JSON.stringify(calendar)}`);
  if (v.spec.timezone) lines.push(printable`  timezone: ${v.spec.timezone}`);
  lines.push('  next start times:');
  for (const t of v.nextStartTimes) lines.push(printable`    ${t}`);
  if (v.recentRuns.length) {
    lines.push('  recent runs:');
    for (const r of v.recentRuns) lines.push(printable`    ${r.scheduledAt}  ${r.workflowId}`);
  }
  return lines;
}

/** One row of `schedule list`. */
export function scheduleListLine(v: MaintenanceScheduleView): string {
  const cell = (value: unknown) => terminalText(value, { singleLine: true, maxLength: 300 });
  return `${cell(v.scheduleId).padEnd(32)} ${v.paused ? 'paused ' : 'active '} next ${cell(v.nextStartTimes[0] ?? '-')}  ${cell(v.customKeyStoreId ?? '')}`;
}

function printView(v: MaintenanceScheduleView): void {
  for (const line of scheduleViewLines(v)) console.log(line);
}

function sub(name: string, description: string, example: string): Command {
  return withConnectionOptions(
    new Command(name).description(description).addHelpText('after', `\nExample:\n  $ ${example}\n`),
  );
}

export function registerSchedule(program: Command): void {
  const schedule = new Command('schedule').description('Recurring maintenance windows (Temporal Schedules)');

  schedule.addCommand(
    withRequestOptions(
      sub(
        'create',
        'Create a schedule that starts a maintenance run at each window (overlap policy SKIP)',
        `keystore-maint schedule create hsm-monthly --store cks-1234567890abcdef0 --calendar '{"dayOfWeek":"SUNDAY","dayOfMonth":{"start":1,"end":7},"hour":2}' --timezone Europe/Berlin --window 2h --reason "monthly HSM patching"`,
      ),
    )
      .argument('<schedule-id>', 'a name for the schedule, e.g. payments-hsm-monthly')
      .option('--cron <expr>', 'cron expression, e.g. "0 2 * * SUN"')
      .option('--calendar <json>', 'Temporal calendar spec as JSON')
      .option('--timezone <tz>', 'IANA time zone of the spec, e.g. Europe/Berlin (default UTC)')
      .option('--jitter <duration>', 'random delay up to this much at each start, e.g. 5m', parseDurationText)
      .option(
        '--catchup-window <duration>',
        'how late a missed window may still start (default 15m)',
        parseDurationText,
      )
      .action(async (id: string, opts: GlobalOptions & Record<string, string | boolean | undefined>) => {
        if (opts.cron && opts.calendar) throw new CliError('give either --cron or --calendar, not both');
        if (!opts.cron && !opts.calendar) throw new CliError('--cron or --calendar is required');
        await scheduleAction(opts, async (client) => {
          const request = requestFromFlags({ ...opts, region: opts.region ?? process.env.AWS_REGION });
          await createMaintenanceSchedule(client.temporal, {
            scheduleId: id,
            request,
            ...(typeof opts.cron === 'string' ? { cron: opts.cron } : {}),
            ...(typeof opts.calendar === 'string' ? { calendar: parseCalendar(opts.calendar) } : {}),
            ...(typeof opts.timezone === 'string' ? { timezone: opts.timezone } : {}),
            ...(typeof opts.jitter === 'string' ? { jitter: opts.jitter } : {}),
            ...(typeof opts.catchupWindow === 'string' ? { catchupWindow: opts.catchupWindow } : {}),
            taskQueue: opts.taskQueue ?? process.env.KEYSTORE_MAINT_TASK_QUEUE ?? 'keystore-maintenance',
          });
          const v = await describeMaintenanceSchedule(client.temporal, id);
          console.log(printable`created schedule ${id}`);
          printView(v);
        });
      }),
  );

  schedule.addCommand(
    sub('list', 'List maintenance schedules', 'keystore-maint schedule list')
      .addOption(new Option('--json', 'print JSON'))
      .action(async (opts: GlobalOptions & { json?: boolean }) => {
        await scheduleAction(opts, async (client) => {
          const views = await listMaintenanceSchedules(client.temporal);
          if (opts.json) return printJson(views);
          if (!views.length) return console.log('no maintenance schedules');
          for (const v of views) console.log(scheduleListLine(v));
        });
      }),
  );

  schedule.addCommand(
    sub(
      'describe',
      'Show a schedule and its next five start times',
      'keystore-maint schedule describe hsm-monthly',
    )
      .argument('<schedule-id>')
      .addOption(new Option('--json', 'print JSON'))
      .action(async (id: string, opts: GlobalOptions & { json?: boolean }) => {
        await scheduleAction(opts, async (client) => {
          const v = await describeMaintenanceSchedule(client.temporal, id);
          if (opts.json) printJson(v);
          else printView(v);
        });
      }),
  );

  for (const [name, verb, fn] of [
    ['pause', 'Pause a schedule (no new runs until unpaused)', pauseMaintenanceSchedule],
    ['unpause', 'Resume a paused schedule', unpauseMaintenanceSchedule],
  ] as const) {
    schedule.addCommand(
      sub(name, verb, `keystore-maint schedule ${name} hsm-monthly --note "change freeze"`)
        .argument('<schedule-id>')
        .option('--note <text>', 'why (shown in the schedule)')
        .option('--by <name>', 'who (default: your user name)')
        .action(async (id: string, opts: GlobalOptions & { note?: string; by?: string }) => {
          await scheduleAction(opts, async (client) => {
            await fn(
              client.temporal,
              id,
              `${name}d by ${actor(opts.by)}${opts.note ? `: ${opts.note}` : ''}`,
            );
            console.log(printable`${name}d schedule ${id}`);
          });
        }),
    );
  }

  schedule.addCommand(
    sub(
      'trigger',
      'Start a run of the schedule now (skipped if one is running)',
      'keystore-maint schedule trigger hsm-monthly',
    )
      .argument('<schedule-id>')
      .action(async (id: string, opts: GlobalOptions) => {
        await scheduleAction(opts, async (client) => {
          await triggerMaintenanceSchedule(client.temporal, id);
          console.log(printable`triggered schedule ${id}`);
        });
      }),
  );

  schedule.addCommand(
    sub('delete', 'Delete a schedule (running runs go on)', 'keystore-maint schedule delete hsm-monthly')
      .argument('<schedule-id>')
      .action(async (id: string, opts: GlobalOptions) => {
        await scheduleAction(opts, async (client) => {
          await deleteMaintenanceSchedule(client.temporal, id);
          console.log(printable`deleted schedule ${id}`);
        });
      }),
  );

  program.addCommand(schedule);
}
