/**
 * `keystore-maint fleet start|status|abort`: maintaining many stores in rolling waves
 * (docs/fleet.md).
 */
import { Command, Option } from 'commander';
import {
  FleetAlreadyRunningError,
  FleetClient,
  FleetNotFoundError,
  FleetUpdateRejectedError,
  InvalidFleetRequestError,
  type FleetStatusWithPhases,
} from '../fleet-client';
import type { FleetRequest, FleetResult, FleetStatus } from '../domain/fleet';
import { DEFAULT_TASK_QUEUE } from '../domain/names';
import { actor, printJson, withClient, withConnectionOptions, type GlobalOptions } from './context';
import { CliError, EXIT } from './exit-codes';
import { parseDurationText, parseNonNegativeInt, readInput } from './parse';
import { printable } from './terminal-text';

interface FleetStartOptions extends GlobalOptions {
  input?: string;
  store?: string[];
  namePattern?: string;
  window?: string;
  maxWindow?: string;
  reason?: string;
  by?: string;
  ticket?: string;
  maxConcurrency?: number;
  maxErrors?: number;
  pollInterval?: string;
  confirmSettle?: string;
  disconnectTimeout?: string;
  connectTimeout?: string;
  reconnectAttempts?: number;
  dryRun?: boolean;
  id?: string;
  wait?: boolean;
  json?: boolean;
}

/** The fleet request from `--input` (if any) with the flags on top: flags win. */
export function fleetRequestFromFlags(opts: FleetStartOptions): FleetRequest {
  const base = opts.input ? readInput(opts.input) : {};
  const fleet: Record<string, unknown> = { ...base };
  const request: Record<string, unknown> =
    typeof base.request === 'object' && base.request !== null ? { ...base.request } : {};
  const stores = (opts.store ?? [])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (stores.length && opts.namePattern)
    throw new CliError('give either --store or --name-pattern, not both');
  if (stores.length) {
    fleet.stores = stores;
    delete fleet.namePattern;
  }
  if (opts.namePattern) {
    fleet.namePattern = opts.namePattern;
    delete fleet.stores;
  }
  const set = (target: Record<string, unknown>, key: string, value: unknown) => {
    if (value !== undefined) target[key] = value;
  };
  set(fleet, 'region', opts.region);
  set(fleet, 'reason', opts.reason);
  set(fleet, 'maxConcurrency', opts.maxConcurrency);
  set(fleet, 'maxErrors', opts.maxErrors);
  if (fleet.requestedBy === undefined || opts.by !== undefined) fleet.requestedBy = actor(opts.by);
  if (opts.window !== undefined) request.window = { duration: opts.window };
  set(request, 'maxWindow', opts.maxWindow);
  set(request, 'ticket', opts.ticket);
  set(request, 'pollInterval', opts.pollInterval);
  set(request, 'confirmSettle', opts.confirmSettle);
  set(request, 'reconnectAttempts', opts.reconnectAttempts);
  if (opts.dryRun) request.dryRun = true;
  if (opts.disconnectTimeout || opts.connectTimeout) {
    request.timeouts = {
      ...(typeof request.timeouts === 'object' && request.timeouts ? request.timeouts : {}),
      ...(opts.disconnectTimeout ? { disconnect: opts.disconnectTimeout } : {}),
      ...(opts.connectTimeout ? { connect: opts.connectTimeout } : {}),
    };
  }
  fleet.request = request;
  if (fleet.stores === undefined && fleet.namePattern === undefined && fleet.locations === undefined) {
    throw new CliError(
      '--store (one or more, or comma-separated) or --name-pattern is required, or "locations" in --input (docs/fleet.md, "Locations")',
    );
  }
  if (fleet.reason === undefined)
    throw new CliError('--reason is required: why the stores are being taken offline');
  if (request.window === undefined) throw new CliError('--window (e.g. 2h) is required: each store’s window');
  return fleet as unknown as FleetRequest;
}

async function withFleetClient<T>(opts: GlobalOptions, fn: (client: FleetClient) => Promise<T>): Promise<T> {
  return withClient(opts, async (maintenance) => {
    const taskQueue = opts.taskQueue ?? (process.env.KEYSTORE_MAINT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE);
    const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    try {
      return await fn(new FleetClient(maintenance.temporal, taskQueue, region));
    } catch (err) {
      if (err instanceof InvalidFleetRequestError || err instanceof FleetAlreadyRunningError) {
        throw new CliError(err.message, EXIT.usage);
      }
      if (err instanceof FleetNotFoundError) throw new CliError(err.message, EXIT.usage);
      if (err instanceof FleetUpdateRejectedError) throw new CliError(`rejected: ${err.message}`, EXIT.usage);
      throw err;
    }
  });
}

/** Exit code for a fleet's end: 0 all completed, 3 aborted, 5 a store needs attention, else 4. */
export function fleetExitCode(result: FleetResult): number {
  if (result.stores.some((s) => s.state === 'NEEDS_ATTENTION')) return EXIT.needsAttention;
  if (result.outcome === 'COMPLETED') return EXIT.ok;
  if (result.outcome === 'ABORTED' && !result.stores.some((s) => s.state === 'FAILED')) return EXIT.cancelled;
  return EXIT.failed;
}

function countsLine(status: FleetStatus): string {
  const c = status.counts;
  return printable`${status.outcome ?? status.phase}: ${c.completed} completed, ${c.errors} not completed, ${c.running} running, ${c.pending} waiting, ${c.skipped} skipped (of ${c.total})`;
}

/**
 * What `fleet status` prints, line by line. Everything the fleet reports (who, why, store names
 * from KMS, the runs' messages) is made safe to print: see terminal-text.ts.
 */
export function fleetStatusLines(status: FleetStatus | FleetStatusWithPhases): string[] {
  const lines = [printable`${status.workflowId}`, `  ${countsLine(status)}`, printable`  ${status.message}`];
  lines.push(
    printable`  requested by ${status.requestedBy ?? '?'}: ${status.reason ?? ''}; maxConcurrency ${status.maxConcurrency}, maxErrors ${status.maxErrors}` +
      (status.continuedAsNew ? printable`; continued as new ${status.continuedAsNew}×` : ''),
  );
  if (status.abort)
    lines.push(printable`  aborted by ${status.abort.by} at ${status.abort.at}: ${status.abort.reason}`);
  for (const location of status.locations ?? []) {
    const c = location.counts;
    lines.push(
      printable`  location ${location.location}: ${location.accounts.join(',')} × ${location.regions.join(',')}: ${c.completed} completed, ${c.errors} not completed, ${c.running} running, ${c.pending} waiting, ${c.skipped} skipped` +
        (location.failedTargets ? printable`; ${location.failedTargets} account-Region(s) not listed` : '') +
        (location.stopped ? printable`; STOPPED (more than maxErrors ${location.maxErrors ?? 0})` : ''),
    );
  }
  for (const target of status.targets ?? []) {
    if (target.state !== 'FAILED') continue;
    lines.push(printable`  ${target.account ?? 'self'}/${target.region} FAILED  ${target.message ?? ''}`);
  }
  const phases = 'phases' in status ? status.phases : {};
  for (const store of status.stores) {
    const state =
      store.state === 'RUNNING' && phases[store.customKeyStoreId]
        ? `RUNNING/${phases[store.customKeyStoreId]}`
        : store.state === 'FAILED' && store.errorType
          ? `${store.state} (${store.errorType})`
          : store.state;
    const name =
      (store.account !== undefined || store.region !== undefined
        ? printable` ${store.account ?? 'self'}/${store.region ?? ''}`
        : '') + (store.name ? printable` ${store.name}` : '');
    const message = store.message && store.state !== 'COMPLETED' ? printable`  ${store.message}` : '';
    lines.push(`${printable`  ${store.customKeyStoreId}`}${name}${printable`  ${state}`}${message}`);
  }
  return lines;
}

function printFleet(status: FleetStatus | FleetStatusWithPhases): void {
  for (const line of fleetStatusLines(status)) console.log(line);
}

export function registerFleet(program: Command): void {
  const fleet = new Command('fleet').description(
    'Maintain many custom key stores in rolling waves (maxConcurrency, maxErrors); see docs/fleet.md',
  );

  const start = new Command('start')
    .description('Start a fleet: one maintenance run per store, at most --max-concurrency at a time')
    .option('--input <file>', 'the fleet request as one JSON object (see docs/fleet.md); flags override it')
    .option(
      '--store <cks-ids>',
      'a store id, or several comma-separated (repeatable); run in this order',
      (v: string, all: string[] = []) => [...all, v],
    )
    .option(
      '--name-pattern <pattern>',
      'all stores whose whole name matches a glob ("prod-eu-*": * any characters, ? one), in name order',
    )
    .option('--window <duration>', "each store's window, e.g. 2h", parseDurationText)
    .option('--max-window <duration>', 'cap for extensions of each window', parseDurationText)
    .option('--reason <text>', 'why (each run records it, with the fleet id)')
    .option('--by <name>', 'who requests it (default: your user name)')
    .option('--ticket <id>', 'change ticket')
    .option(
      '--max-concurrency <n>',
      'stores maintained at the same time (default 1: one after another)',
      parseNonNegativeInt,
    )
    .option(
      '--max-errors <n>',
      'runs that may end other than COMPLETED before no more are started (default 0)',
      parseNonNegativeInt,
    )
    .option(
      '--poll-interval <duration>',
      'how often each run reads its store (default 15s)',
      parseDurationText,
    )
    .option(
      '--confirm-settle <duration>',
      'per store: how long reads must say CONNECTED before it counts as back (default 30s)',
      parseDurationText,
    )
    .option('--disconnect-timeout <duration>', 'per store (default 10m)', parseDurationText)
    .option('--connect-timeout <duration>', 'per store (default 30m)', parseDurationText)
    .option('--reconnect-attempts <n>', 'per store (default 3)', parseNonNegativeInt)
    .option('--dry-run', 'each run describes and plans only')
    .option(
      '--id <name>',
      'the fleet workflow id is keystore-maint-fleet/<region>/<name> (default: the time)',
    )
    .option('--wait', 'follow the fleet to its end; the exit code tells how it ended')
    .addOption(new Option('--json', 'print JSON'))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ keystore-maint fleet start --name-pattern "prod-eu-*" --window 1h --max-concurrency 3 --max-errors 1 --reason "HSM firmware" --wait',
        '  $ keystore-maint fleet start --store cks-1234567890abcdef0,cks-0987654321fedcba0 --window 30m --reason "rotate XKS proxy TLS cert"',
        '',
        'Exit codes with --wait: 0 all COMPLETED, 3 ABORTED, 4 runs failed or the wave stopped, 5 a store NEEDS_ATTENTION.',
        '',
      ].join('\n'),
    )
    .action(async (opts: FleetStartOptions) => {
      const request = fleetRequestFromFlags(opts);
      process.exitCode = await withFleetClient(opts, async (client) => {
        const started = await client.start(request, opts.id ? { name: opts.id } : {});
        if (!opts.wait) {
          if (opts.json) printJson(started);
          else console.log(printable`started fleet ${started.workflowId} (run ${started.runId})`);
          return EXIT.ok;
        }
        if (!opts.json) console.log(printable`started fleet ${started.workflowId} (run ${started.runId})`);
        let last = '';
        for (;;) {
          const status = await client.status(started.workflowId);
          const line = countsLine(status);
          if (!opts.json && line !== last) console.log(`${new Date().toISOString()} ${line}`);
          last = line;
          if (status.outcome) break;
          await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
        const result = await client.result(started.workflowId);
        if (opts.json) printJson(result);
        else printFleet(result);
        return fleetExitCode(result);
      });
    });
  fleet.addCommand(withConnectionOptions(start));

  const status = new Command('status')
    .description("Show a fleet's progress: every store's state, and the phase of each running one")
    .argument('<fleet-workflow-id>', 'e.g. keystore-maint-fleet/us-east-1/20260301T020000Z-1a2b3c')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (id: string, opts: GlobalOptions & { json?: boolean }) => {
      await withFleetClient(opts, async (client) => {
        const answer = await client.statusWithPhases(id);
        if (opts.json) printJson(answer);
        else printFleet(answer);
      });
    });
  fleet.addCommand(withConnectionOptions(status));

  const abort = new Command('abort')
    .description('Abort a fleet: cancel every running run (each undoes its changes) and start no more')
    .argument('<fleet-workflow-id>', 'the fleet workflow id')
    .option('--reason <text>', 'why (required; recorded)')
    .option('--by <name>', 'who is doing this (default: your user name)')
    .addOption(new Option('--json', 'print the answer as JSON'))
    .action(async (id: string, opts: GlobalOptions & { reason?: string; by?: string; json?: boolean }) => {
      const reason = opts.reason?.trim();
      if (!reason) throw new CliError('--reason is required: why the fleet is being aborted');
      await withFleetClient(opts, async (client) => {
        const answer = await client.abort(id, { by: actor(opts.by), reason });
        if (opts.json) printJson(answer);
        else
          console.log(
            `abort accepted: ${answer.cancelling} run(s) under way are being cancelled (each undoes its changes); ${answer.notStarted} store(s) will not be started`,
          );
      });
    });
  fleet.addCommand(withConnectionOptions(abort));

  program.addCommand(fleet);
}
