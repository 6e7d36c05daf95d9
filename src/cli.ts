/**
 * The `keystore-maint` command. Each subcommand lives in `src/commands/<name>.ts`.
 * Exit codes are documented in `src/commands/exit-codes.ts` and the README.
 */
import { Command, CommanderError } from 'commander';
import { AuditConfigError, AuditSourceNotFoundError } from './audit';
import { registerDevServer } from './commands/dev-server';
import { registerDoctor } from './commands/doctor';
import { CliError, EXIT } from './commands/exit-codes';
import { registerSim } from './commands/sim';
import { registerTemporalEnsure } from './commands/temporal-ensure';
import { registerWorker } from './commands/worker';
import { registerStart } from './commands/start';
import { registerInspect } from './commands/inspect';
import { registerSteer } from './commands/steer';
import { registerSchedule } from './commands/schedule';
import { registerFleet } from './commands/fleet';
import { registerDemo } from './commands/demo';
import { registerAudit } from './commands/audit';
import { TERMINAL_MESSAGE_MAX_LENGTH, terminalText } from './commands/terminal-text';

/**
 * An error as one message for stderr. Messages often quote what a far side said (Temporal, KMS,
 * a webhook, the audit sink) or the caller's own input: made safe to print (see terminal-text.ts).
 */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `keystore-maint: ${terminalText(message, { maxLength: TERMINAL_MESSAGE_MAX_LENGTH })}`;
}

/** Commander's own errors (unknown option, bad value) quote the command line: escaped as well. */
function safeOutput(command: Command): void {
  command.configureOutput({
    outputError: (text, write) => write(terminalText(text, { maxLength: TERMINAL_MESSAGE_MAX_LENGTH })),
  });
  for (const sub of command.commands) safeOutput(sub);
}

export function buildProgram(): Command {
  const program = new Command('keystore-maint')
    .description(
      'Durable, auditable maintenance runs for AWS KMS custom key stores, orchestrated by Temporal',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerWorker(program);
  registerStart(program);
  registerInspect(program);
  registerSteer(program);
  registerSchedule(program);
  registerFleet(program);
  registerDemo(program);
  registerAudit(program);
  registerDoctor(program);
  registerSim(program);
  registerDevServer(program);
  registerTemporalEnsure(program);
  for (const command of program.commands)
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
  safeOutput(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  // The pinned AWS SDK warns that its future releases need Node 22; that is no news at run time.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    // Commands that report an outcome (start --wait, watch) set process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; everything else commander rejects is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof AuditConfigError || err instanceof AuditSourceNotFoundError) {
      console.error(errorText(err));
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      console.error(errorText(err));
      return err.exitCode;
    }
    console.error(errorText(err));
    return EXIT.error;
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(
        terminalText(err instanceof Error ? (err.stack ?? err.message) : String(err), {
          maxLength: TERMINAL_MESSAGE_MAX_LENGTH,
        }),
      );
      process.exitCode = EXIT.error;
    },
  );
}
