/**
 * The `keystore-maint` command. Each subcommand lives in `src/commands/<name>.ts`.
 * Exit codes are documented in `src/commands/exit-codes.ts` and the README.
 */
import { Command, CommanderError } from 'commander';
import { registerDevServer } from './commands/dev-server';
import { CliError, EXIT } from './commands/exit-codes';
import { registerTemporalEnsure } from './commands/temporal-ensure';

export function buildProgram(): Command {
  const program = new Command('keystore-maint')
    .description(
      'Durable, auditable maintenance runs for AWS KMS custom key stores, orchestrated by Temporal',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDevServer(program);
  registerTemporalEnsure(program);
  for (const command of program.commands)
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; everything else commander rejects is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      console.error(`keystore-maint: ${err.message}`);
      return err.exitCode;
    }
    console.error(`keystore-maint: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.error;
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = EXIT.error;
    },
  );
}
