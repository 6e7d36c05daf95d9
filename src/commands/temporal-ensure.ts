import type { Command } from 'commander';
import { findTemporalCli, temporalCliVersion, TEMPORAL_CLI_VERSION } from '../temporal/cli-binary';

export function registerTemporalEnsure(program: Command): void {
  program
    .command('temporal-ensure')
    .description('Find the Temporal CLI (or build it with Go) and print where it came from and its version')
    .option('--no-build', 'do not build with Go when no binary is found')
    .addHelpText('after', '\nExample:\n  $ keystore-maint temporal-ensure\n')
    .action(async (opts: { build: boolean }) => {
      const cli = await findTemporalCli({
        allowBuild: opts.build,
        allowSdkDownload: true,
        log: (m) => console.error(m),
      });
      if (cli.source === 'sdk-download') {
        console.log(
          'source: sdk-download (the Temporal SDK will download a dev server on first use; needs internet)',
        );
        return;
      }
      const version = await temporalCliVersion(cli.path);
      const built =
        cli.source === 'go-install' || cli.source === 'cache' ? ` (built from ${TEMPORAL_CLI_VERSION})` : '';
      console.log(`source: ${cli.source}\npath: ${cli.path}\nversion: ${version}${built}`);
    });
}
