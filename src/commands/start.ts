import { Command, Option } from 'commander';
import { InvalidMaintenanceRequestError } from '../client';
import { validateMaintenanceRequest, type MaintenanceRequest } from '../domain/request';
import { checkStoreExists } from './store-check';
import {
  actor,
  exitCodeFor,
  printJson,
  withClient,
  withConnectionOptions,
  type GlobalOptions,
} from './context';
import { CliError, EXIT } from './exit-codes';
import { describeResult, followRun } from './follow';
import { parseDurationText, parseNonNegativeInt, readInput } from './parse';
import { printable } from './terminal-text';

interface StartOptions extends GlobalOptions {
  input?: string;
  drain?: 'none' | 'alias' | 'webhook';
  alias?: string[];
  fallbackKey?: string;
  webhookController?: string;
  webhookTimeout?: string;
  settle?: string;
  notify?: string[];
  notifyEvents?: string;
  store?: string;
  window?: string;
  until?: string;
  maxWindow?: string;
  reason?: string;
  by?: string;
  ticket?: string;
  approvalRequired?: boolean;
  approvalTimeout?: string;
  canaryKey?: string;
  pollInterval?: string;
  confirmSettle?: string;
  disconnectTimeout?: string;
  connectTimeout?: string;
  reconnectAttempts?: number;
  dryRun?: boolean;
  allowAlreadyDisconnected?: boolean;
  wait?: boolean;
  json?: boolean;
  preflight?: boolean;
  executionRole?: string;
  externalId?: string;
}

/** The traffic provider from `--drain` and its flags; `undefined` keeps the one from --input. */
function drainFromFlags(opts: StartOptions, fromInput: unknown): Record<string, unknown> | undefined {
  const provider = opts.drain;
  const used = {
    alias: opts.alias?.length || opts.fallbackKey,
    webhook: opts.webhookController || opts.webhookTimeout,
  };
  if (!provider) {
    if (used.alias || used.webhook)
      throw new CliError('--alias/--fallback-key and --webhook-* need --drain alias or --drain webhook');
    if (opts.settle === undefined) return undefined;
    const base =
      typeof fromInput === 'object' && fromInput
        ? (fromInput as Record<string, unknown>)
        : { provider: 'none' };
    return { ...base, settle: opts.settle };
  }
  const settle = opts.settle !== undefined ? { settle: opts.settle } : {};
  if (provider === 'none') return { provider, ...settle };
  if (provider === 'alias') {
    if (!opts.alias?.length || !opts.fallbackKey)
      throw new CliError('--drain alias needs --alias (one or more) and --fallback-key');
    return { provider, aliases: opts.alias, fallbackKeyId: opts.fallbackKey, ...settle };
  }
  if (!opts.webhookController)
    throw new CliError('--drain webhook needs --webhook-controller (a controller configured on the workers)');
  return {
    provider,
    controller: opts.webhookController,
    ...(opts.webhookTimeout ? { timeout: opts.webhookTimeout } : {}),
    ...settle,
  };
}

/** The request from `--input` (if any) with the flags on top: flags win. */
export function requestFromFlags(opts: StartOptions): MaintenanceRequest {
  const base = opts.input ? readInput(opts.input) : {};
  const request: Record<string, unknown> = { ...base };
  const set = (key: string, value: unknown) => {
    if (value !== undefined) request[key] = value;
  };
  set('customKeyStoreId', opts.store);
  if (opts.window !== undefined && opts.until !== undefined) {
    throw new CliError('give either --window or --until, not both');
  }
  if (opts.window !== undefined) request.window = { duration: opts.window };
  if (opts.until !== undefined) request.window = { until: opts.until };
  set('region', opts.region);
  set('account', opts.account);
  set('executionRole', opts.executionRole);
  set('externalId', opts.externalId);
  set('maxWindow', opts.maxWindow);
  set('reason', opts.reason);
  set('ticket', opts.ticket);
  set('canaryKeyId', opts.canaryKey);
  set('pollInterval', opts.pollInterval);
  set('confirmSettle', opts.confirmSettle);
  set('reconnectAttempts', opts.reconnectAttempts);
  const drain = drainFromFlags(opts, base.drain);
  if (drain) request.drain = drain;
  const notify = notifyFromFlags(opts, base.notify);
  if (notify) request.notify = notify;
  if (opts.dryRun) request.dryRun = true;
  if (opts.allowAlreadyDisconnected) request.allowAlreadyDisconnected = true;
  if (opts.approvalRequired || opts.approvalTimeout) {
    request.approval = {
      ...(typeof base.approval === 'object' && base.approval ? base.approval : {}),
      required: true,
      ...(opts.approvalTimeout ? { timeout: opts.approvalTimeout } : {}),
    };
  }
  if (opts.disconnectTimeout || opts.connectTimeout) {
    request.timeouts = {
      ...(typeof base.timeouts === 'object' && base.timeouts ? base.timeouts : {}),
      ...(opts.disconnectTimeout ? { disconnect: opts.disconnectTimeout } : {}),
      ...(opts.connectTimeout ? { connect: opts.connectTimeout } : {}),
    };
  }
  if (request.requestedBy === undefined || opts.by !== undefined) request.requestedBy = actor(opts.by);
  if (request.customKeyStoreId === undefined)
    throw new CliError('--store is required (or customKeyStoreId in --input)');
  if (request.reason === undefined)
    throw new CliError('--reason is required: why the store is being taken offline');
  if (request.window === undefined)
    throw new CliError('--window (e.g. 2h) or --until (ISO time) is required');
  return request as unknown as MaintenanceRequest;
}

/** `--notify` and `--notify-events` over the input's `notify` (validation names what is wrong). */
function notifyFromFlags(opts: StartOptions, fromInput: unknown): Record<string, unknown> | undefined {
  if (!opts.notify?.length && opts.notifyEvents === undefined) return undefined;
  const base = typeof fromInput === 'object' && fromInput ? (fromInput as Record<string, unknown>) : {};
  const to = opts.notify?.length ? opts.notify : base.to;
  if (to === undefined)
    throw new CliError('--notify-events needs --notify <destination> (or notify.to in --input)');
  return {
    ...base,
    to,
    ...(opts.notifyEvents !== undefined
      ? {
          events: opts.notifyEvents
            .split(',')
            .map((e) => e.trim())
            .filter(Boolean),
        }
      : {}),
  };
}

/** The request's flags, shared by `start` and `schedule create`. */
export function withRequestOptions(command: Command): Command {
  return command
    .option(
      '--input <file>',
      'the request as one JSON object (the same JSON as in the Temporal UI); flags override it',
    )
    .option('--store <cks-id>', 'custom key store id')
    .option(
      '--window <duration>',
      'how long the store stays disconnected, e.g. 2h, 90m, PT30M',
      parseDurationText,
    )
    .option('--until <time>', 'end the window at this ISO-8601 time instead of --window')
    .option('--max-window <duration>', 'cap for extensions (default 24h, at most 7d)', parseDurationText)
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--by <name>', 'who requests it (default: your user name)')
    .option('--ticket <id>', 'change ticket')
    .option('--approval-required', 'wait for an approve update before touching anything')
    .option('--approval-timeout <duration>', 'how long to wait for approval (default 24h)', parseDurationText)
    .option(
      '--canary-key <key-id>',
      'a key in the store for the GenerateDataKey/Decrypt check before traffic returns',
    )
    .option(
      '--poll-interval <duration>',
      'how often to read the connection state (default 15s)',
      parseDurationText,
    )
    .option(
      '--confirm-settle <duration>',
      'how long every read must say CONNECTED before the store counts as back (default 30s; above KMS consistency lag)',
      parseDurationText,
    )
    .option(
      '--disconnect-timeout <duration>',
      'how long DISCONNECTED may take (default 10m)',
      parseDurationText,
    )
    .option('--connect-timeout <duration>', 'how long CONNECTED may take (default 30m)', parseDurationText)
    .option(
      '--reconnect-attempts <n>',
      'connect attempts for transient errors (default 3)',
      parseNonNegativeInt,
    )
    .option(
      '--execution-role <name>',
      'IAM role the worker assumes in --account to reach the store (docs/fleet.md, "Roles")',
    )
    .option('--external-id <id>', "the ExternalId the execution role's trust policy requires")
    .option('--dry-run', 'describe and plan only; change nothing')
    .option('--allow-already-disconnected', 'take over a store that is already DISCONNECTED')
    .addOption(
      new Option('--drain <provider>', 'how traffic is moved off the store (default none)').choices([
        'none',
        'alias',
        'webhook',
      ]),
    )
    .option(
      '--alias <name>',
      'with --drain alias: an alias to move (repeat for more)',
      (v: string, all: string[] = []) => [...all, v],
    )
    .option(
      '--fallback-key <key-id>',
      'with --drain alias: the key outside the store the aliases point at meanwhile',
    )
    .option(
      '--webhook-controller <name>',
      "with --drain webhook: the traffic controller, by its name in the workers' configuration",
    )
    .option(
      '--webhook-timeout <duration>',
      'with --drain webhook: how long drain or restore may take (default 5m)',
      parseDurationText,
    )
    .option(
      '--settle <duration>',
      'pause after the drain is confirmed (cached data keys, connection pools)',
      parseDurationText,
    )
    .option(
      '--notify <destination>',
      "send notifications to this destination, by its name in the workers' configuration (repeat for more)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option(
      '--notify-events <list>',
      'with --notify: which events, comma-separated (default drainStarted,disconnected,reconnectStarted,back,ended; also started)',
    );
}

export function registerStart(program: Command): void {
  const command = withRequestOptions(
    new Command('start').description('Start a maintenance run of one custom key store'),
  )
    .option('--wait', 'follow the run to its end; the exit code tells how it ended')
    .option(
      '--no-preflight',
      'skip the read-only DescribeCustomKeyStores check with your own AWS credentials',
    )
    .addOption(new Option('--json', 'print JSON'))
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  $ keystore-maint start --store cks-1234567890abcdef0 --window 2h --reason "rotate XKS proxy TLS cert" --wait',
        '  $ keystore-maint start --input run.json --wait',
        '',
        'Exit codes with --wait: 0 COMPLETED, 3 CANCELLED, 4 FAILED, 5 NEEDS_ATTENTION; 2 usage error.',
        '',
      ].join('\n'),
    )
    .action(async (opts: StartOptions) => {
      const request = requestFromFlags(opts);
      // Bad input is refused before anything is contacted.
      const validation = validateMaintenanceRequest(request, Date.now());
      if (!validation.ok) throw new CliError(new InvalidMaintenanceRequestError(validation.problems).message);
      const code = await withClient(opts, async (client) => {
        const region = validation.request.region ?? opts.region ?? process.env.AWS_REGION;
        if (opts.preflight !== false && region) {
          const check = await checkStoreExists(validation.request.customKeyStoreId, {
            region,
            ...validation.request.location,
          });
          if (!check.checked && !opts.json) {
            console.error(
              printable`note: could not look at the store yourself (${check.why}); the worker's preflight will.`,
            );
          }
        }
        const started = await client.start(request);
        if (!opts.wait) {
          if (opts.json) printJson(started);
          else console.log(printable`started ${started.workflowId} (run ${started.runId})`);
          return EXIT.ok;
        }
        if (!opts.json) console.log(printable`started ${started.workflowId} (run ${started.runId})`);
        const result = await followRun(client, started.workflowId, { quiet: opts.json === true });
        if (opts.json) printJson(result);
        else console.log(describeResult(result));
        return exitCodeFor(result);
      });
      process.exitCode = code;
    });
  program.addCommand(withConnectionOptions(command));
}
