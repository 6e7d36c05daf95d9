/**
 * What every command that talks to Temporal shares: the global connection flags, a client, and
 * turning typed errors into one-line messages with the right exit code.
 */
import type { AuditReport } from '../domain/status';
import { currentTracing } from '../tracing';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import {
  createMaintenanceClient,
  InvalidMaintenanceRequestError,
  MaintenanceAlreadyRunningError,
  MaintenanceNotFoundError,
  MaintenanceUpdateRejectedError,
  type MaintenanceClient,
} from '../client';
import type { EndState } from '../domain/phases';
import { TemporalUnreachableError } from '../temporal/connection';
import { CliError, EXIT } from './exit-codes';
import { terminalJson } from './terminal-text';

export interface GlobalOptions {
  address?: string;
  namespace?: string;
  profile?: string;
  region?: string;
  account?: string;
  taskQueue?: string;
}

/** Adds the connection flags every Temporal-facing command accepts. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option(
      '--address <host:port>',
      'Temporal frontend (default: TEMPORAL_ADDRESS, the TOML profile, or localhost:7233)',
    )
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option('--profile <name>', 'Temporal client profile from the TOML config file')
    .option('--region <region>', 'AWS Region of the store (default: AWS_REGION)')
    .option(
      '--account <id>',
      'AWS account that owns the store, when it is not the worker\'s own (docs/fleet.md, "Locations")',
    )
    .option(
      '--task-queue <name>',
      'task queue of the workers (default: KEYSTORE_MAINT_TASK_QUEUE or keystore-maintenance)',
    );
}

export async function withClient<T>(
  opts: GlobalOptions,
  fn: (client: MaintenanceClient) => Promise<T>,
): Promise<T> {
  let client: MaintenanceClient;
  try {
    client = await createMaintenanceClient({
      ...(opts.address ? { address: opts.address } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.region ? { region: opts.region } : {}),
      ...(opts.account ? { account: opts.account } : {}),
      ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}),
    });
  } catch (err) {
    throw asCliError(err);
  }
  try {
    return await fn(client);
  } catch (err) {
    throw asCliError(err);
  } finally {
    // The CLI exits right after: send its spans first (bounded; tracing off: nothing to send).
    await currentTracing()?.flush();
    await client.temporal.connection.close();
  }
}

export function asCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof InvalidMaintenanceRequestError) return new CliError(err.message, EXIT.usage);
  if (err instanceof MaintenanceAlreadyRunningError) return new CliError(err.message, EXIT.usage);
  if (err instanceof MaintenanceNotFoundError) return new CliError(err.message, EXIT.usage);
  if (err instanceof MaintenanceUpdateRejectedError)
    return new CliError(`rejected: ${err.message}`, EXIT.usage);
  if (err instanceof TemporalUnreachableError) return new CliError(err.message, EXIT.error);
  return err;
}

/** Who is acting: `--by`, else the OS user (recorded in the audit trail). */
export function actor(by: string | undefined): string {
  const name = by?.trim() || process.env.KEYSTORE_MAINT_ACTOR?.trim() || userInfo().username;
  if (!name) throw new CliError('--by is required: who is doing this (recorded in the audit trail)');
  return name;
}

/** Whether a run's audit trail lacks events (refused, or never written). */
export function auditIncomplete(audit: AuditReport | undefined): boolean {
  return audit !== undefined && (audit.refused > 0 || audit.unwritten > 0);
}

/** The exit code of a waited-for run: its outcome, and an incomplete audit trail on a COMPLETED run. */
export function exitCodeFor(result: { outcome: EndState; audit?: AuditReport }): number {
  switch (result.outcome) {
    case 'COMPLETED':
      return auditIncomplete(result.audit) ? EXIT.auditIncomplete : EXIT.ok;
    case 'CANCELLED':
      return EXIT.cancelled;
    case 'FAILED':
      return EXIT.failed;
    case 'NEEDS_ATTENTION':
      return EXIT.needsAttention;
  }
}

/** Prints JSON; characters JSON.stringify leaves raw that a terminal acts on are escaped. */
export function printJson(value: unknown): void {
  console.log(terminalJson(value));
}
