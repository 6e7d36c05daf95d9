import { Command, Option } from 'commander';
import {
  AuditConfigError,
  auditConfigFromEnv,
  auditKeyFileFromEnv,
  AuditKeyNeededError,
  loadAuditKey,
  createAuditSink,
  exportAuditTrail,
  formatVerifyReport,
  migrateAuditPostgres,
  verifyAuditFile,
  verifyAuditPostgres,
  type AuditConfig,
} from '../audit';
import { createMaintenanceClient } from '../client';
import { CUSTOM_KEY_STORE_ID_PATTERN } from '../domain/request';
import { withConnectionOptions, type GlobalOptions } from './context';
import { CliError, EXIT } from './exit-codes';
import { TERMINAL_MESSAGE_MAX_LENGTH, terminalText } from './terminal-text';

interface SinkOptions {
  file?: string;
  postgres?: string;
  table?: string;
}

/** The sink named by the flags, else by the same environment the worker reads. */
function sinkConfig(opts: SinkOptions): AuditConfig {
  if (opts.file && opts.postgres) throw new CliError('give either --file or --postgres, not both');
  if (opts.file) return { kind: 'file', path: opts.file };
  try {
    if (opts.postgres) {
      return auditConfigFromEnv({
        KEYSTORE_MAINT_AUDIT_SINK: 'postgres',
        KEYSTORE_MAINT_AUDIT_POSTGRES_URL: opts.postgres,
        ...(opts.table ? { KEYSTORE_MAINT_AUDIT_POSTGRES_TABLE: opts.table } : {}),
      });
    }
    return auditConfigFromEnv(process.env);
  } catch (err) {
    if (err instanceof AuditConfigError) throw new CliError(err.message);
    throw err;
  }
}

function withSinkOptions(command: Command): Command {
  return command
    .option(
      '--file <path>',
      'JSON Lines trail (default: KEYSTORE_MAINT_AUDIT_FILE or audit/keystore-maint.jsonl)',
    )
    .option(
      '--postgres <url>',
      'PostgreSQL trail (default: KEYSTORE_MAINT_AUDIT_POSTGRES_URL with KEYSTORE_MAINT_AUDIT_SINK=postgres)',
    )
    .option('--table <name>', 'PostgreSQL table (default keystore_maint_audit)');
}

/** How much of each run Temporal still has (namespace retention removes histories). */
async function temporalHistory(
  opts: GlobalOptions,
  workflowIds: readonly string[],
): Promise<{ available: boolean | undefined; events: number; note?: string }> {
  let client;
  try {
    client = await createMaintenanceClient({
      ...(opts.address ? { address: opts.address } : {}),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
    });
  } catch (err) {
    return {
      available: undefined,
      events: 0,
      note: `Temporal history: not checked (${err instanceof Error ? err.message.split('.')[0] : String(err)}); this trail comes from the audit sink only.`,
    };
  }
  try {
    let events = 0;
    let missing = 0;
    for (const id of workflowIds) {
      try {
        const history = await client.temporal.workflow.getHandle(id).fetchHistory();
        events += history.events?.length ?? 0;
      } catch {
        missing++;
      }
    }
    if (missing === workflowIds.length) return { available: false, events: 0 };
    return { available: true, events };
  } finally {
    await client.temporal.connection.close();
  }
}

export function registerAudit(program: Command): void {
  const audit = new Command('audit').description('The tamper-evident audit trail: verify, export, migrate');

  audit.addCommand(
    withSinkOptions(
      new Command('verify')
        .description(
          'Check every hash chain; report the first broken link; exit 6 on any edit, gap, duplicate or reordering',
        )
        .addHelpText(
          'after',
          '\nExamples:\n  $ keystore-maint audit verify --file audit/keystore-maint.jsonl\n  $ keystore-maint audit verify --postgres postgres://audit@db/keystore\n\nExit codes: 0 intact, 6 broken, 2 usage error.\n',
        ),
    )
      .option(
        '--key-file <path>',
        'the audit key the trail is sealed with (default: KEYSTORE_MAINT_AUDIT_KEY_FILE)',
      )
      .option(
        '--allow-unkeyed',
        'accept records not sealed with the key (written before one was configured; forgeable by anyone who can write the trail)',
      )
      .action(async (opts: SinkOptions & { keyFile?: string; allowUnkeyed?: boolean }) => {
        const config = sinkConfig(opts);
        let key;
        try {
          const keyFile = opts.keyFile ?? auditKeyFileFromEnv(process.env);
          key = keyFile ? loadAuditKey(keyFile, opts.keyFile ? '--key-file' : undefined) : undefined;
        } catch (err) {
          if (err instanceof AuditConfigError) throw new CliError(err.message);
          throw err;
        }
        const options = { key, allowUnkeyed: opts.allowUnkeyed === true };
        let report;
        try {
          if (config.kind === 'file') report = await verifyAuditFile(config.path, options);
          else if (config.kind === 'postgres')
            report = await verifyAuditPostgres(config.url, { ...options, table: config.table });
          else
            throw new CliError(
              'the stdout sink keeps no trail to verify; verify where your log pipeline stores it',
            );
        } catch (err) {
          if (err instanceof AuditKeyNeededError) throw new CliError(err.message);
          throw err;
        }
        // The report quotes the trail (ids, damaged text): made safe to print.
        console.log(terminalText(formatVerifyReport(report), { maxLength: TERMINAL_MESSAGE_MAX_LENGTH }));
        process.exitCode = report.ok ? EXIT.ok : EXIT.auditBroken;
      }),
  );

  audit.addCommand(
    withConnectionOptions(
      withSinkOptions(
        new Command('export')
          .description(
            "Print a run's whole trail (all runs of a workflow id, or of a store) as Markdown or JSON",
          )
          .argument('<workflow-id-or-store-id>', 'keystore-maint/<region>/cks-… or cks-…')
          .addOption(new Option('--format <format>', 'output format').choices(['md', 'json']).default('md'))
          .addHelpText(
            'after',
            '\nExamples:\n  $ keystore-maint audit export cks-1234567890abcdef0\n  $ keystore-maint audit export keystore-maint/us-east-1/cks-1234567890abcdef0 --format json\n',
          ),
      ),
    ).action(async (target: string, opts: SinkOptions & GlobalOptions & { format: 'md' | 'json' }) => {
      const sink = createAuditSink(sinkConfig(opts));
      try {
        const workflowIds = CUSTOM_KEY_STORE_ID_PATTERN.test(target)
          ? await sink.findWorkflowIdsForStore(target)
          : [target];
        const events = (await Promise.all(workflowIds.map((id) => sink.readWorkflow(id)))).flat();
        if (events.length === 0) {
          throw new CliError(
            `no audit events for ${target} in ${sink.description}; check the id and --file/--postgres`,
          );
        }
        const history = await temporalHistory(opts, workflowIds);
        const exported = exportAuditTrail(events, {
          format: opts.format === 'md' ? 'markdown' : 'json',
          workflowId: workflowIds.join(', '),
          temporalHistoryAvailable: history.available,
          temporalHistoryEvents: history.events,
          temporalNote: history.note,
          source: sink.description,
        });
        // Events carry free text (reasons, actors, far sides' error messages). Markdown is escaped
        // as a whole, uncapped; JSON stays valid JSON with the same values (see terminalJson).
        console.log(terminalText(exported, { maxLength: Infinity }));
      } finally {
        await sink.close();
      }
    }),
  );

  audit.addCommand(
    new Command('migrate')
      .description(
        "Create or upgrade the PostgreSQL audit tables (idempotent); run it as the role that is to own them, never the worker's",
      )
      .option(
        '--postgres <url>',
        "the owner role's database URL (default: KEYSTORE_MAINT_AUDIT_POSTGRES_URL)",
      )
      .option(
        '--table <name>',
        'table name (default keystore_maint_audit); its checkpoints go to <name>_checkpoints',
      )
      .option(
        '--grant-writer <role>',
        "grant the worker's role exactly SELECT, INSERT on both tables and USAGE on their id sequences (any other privilege it has on them is revoked)",
      )
      .addHelpText(
        'after',
        '\nExample (as the owner role; the worker then connects as keystore_maint_writer):\n' +
          '  $ keystore-maint audit migrate --postgres postgres://keystore_maint_owner@db/keystore --grant-writer keystore_maint_writer\n',
      )
      .action(async (opts: SinkOptions & { grantWriter?: string }) => {
        const url = opts.postgres ?? process.env.KEYSTORE_MAINT_AUDIT_POSTGRES_URL;
        if (!url) throw new CliError('--postgres <url> (or KEYSTORE_MAINT_AUDIT_POSTGRES_URL) is required');
        const result = await migrateAuditPostgres(url, {
          ...(opts.table ? { table: opts.table } : {}),
          ...(opts.grantWriter !== undefined ? { grantWriter: opts.grantWriter } : {}),
        });
        for (const change of result.changes) console.log(`audit migrate: ${change}`);
        console.log(
          `audit tables ${result.table} and ${result.checkpointsTable} are ready` +
            (opts.grantWriter === undefined
              ? ' (no writer granted: give the worker a role with only SELECT and INSERT, --grant-writer <role>)'
              : ''),
        );
      }),
  );

  program.addCommand(audit);
}
