import { type Command, InvalidArgumentError, Option } from 'commander';
import { startKmsSimulator, type SimulatorOptions } from '../sim';
import { untilSignal } from './dev-server';
import { CliError } from './exit-codes';
import { parseDurationMs, parseNonNegativeInt, parsePort } from './parse';

function parseAccount(value: string): string {
  if (!/^\d{12}$/.test(value))
    throw new InvalidArgumentError(`"${value}" is not an AWS account id (12 digits).`);
  return value;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;

/** `--regions us-east-1,eu-west-1`: the Regions served, each checked, duplicates dropped. */
export function parseRegions(value: string): string[] {
  const regions = value
    .split(',')
    .map((region) => region.trim())
    .filter((region) => region !== '');
  if (regions.length === 0) {
    throw new InvalidArgumentError(
      'give at least one Region, comma-separated, e.g. --regions us-east-1,eu-west-1',
    );
  }
  const bad = regions.find((region) => !REGION.test(region));
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `"${bad}" is not an AWS Region; give Regions like us-east-1, comma-separated, e.g. --regions us-east-1,eu-west-1`,
    );
  }
  return [...new Set(regions)];
}

/** `--regions` must include the default Region, which `--region` names (default us-east-1). */
export function checkRegions(region: string | undefined, regions: readonly string[] | undefined): void {
  const home = region ?? 'us-east-1';
  if (regions && !regions.includes(home)) {
    throw new CliError(
      `--regions ${regions.join(',')} must include the default Region ${home} (--region); add it, or pass --region ${regions[0] ?? ''}`,
    );
  }
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'Run the KMS simulator: a local KMS endpoint with custom key stores per account and Region, and STS GetCallerIdentity and AssumeRole (see docs/simulator.md)',
    )
    .option('--port <port>', 'port to listen on (0 = any free port)', parsePort, 4566)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--state-file <path>', 'keep state in this file (written atomically) so it survives a restart')
    .option('--seed <path>', 'JSON seed of stores, keys and aliases created at start when there is no state')
    .addOption(
      new Option('--profile <profile>', 'timing profile').choices(['fast', 'realistic']).default('fast'),
    )
    .option('--connect-delay <duration>', 'CONNECTING → CONNECTED delay, e.g. 2s', parseDurationMs)
    .option('--disconnect-delay <duration>', 'DISCONNECTING → DISCONNECTED delay, e.g. 1s', parseDurationMs)
    .option(
      '--consistency-lag <duration>',
      'how long Describe shows the previous state, e.g. 500ms',
      parseDurationMs,
    )
    .option(
      '--quota-rps <n>',
      'requests per second per custom key store operation, per account and Region (0 = unlimited)',
      parseNonNegativeInt,
    )
    .option(
      '--store-limit <n>',
      'custom key stores per account and Region (KMS: 10; 0 = unlimited)',
      parseNonNegativeInt,
    )
    .option('--account <id>', 'default AWS account: unregistered access keys act in it', parseAccount)
    .option('--region <region>', 'default AWS Region')
    .option(
      '--regions <list>',
      'comma-separated Regions served, including --region, e.g. us-east-1,eu-west-1',
      parseRegions,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ keystore-maint sim --port 4566\n  $ keystore-maint sim --state-file sim-state.json --profile realistic\n  $ keystore-maint sim --regions us-east-1,eu-west-1\n  $ AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4566 aws kms describe-custom-key-stores\n',
    )
    .action(
      async (opts: {
        port: number;
        host: string;
        stateFile?: string;
        seed?: string;
        profile: 'fast' | 'realistic';
        connectDelay?: number;
        disconnectDelay?: number;
        consistencyLag?: number;
        quotaRps?: number;
        storeLimit?: number;
        account?: string;
        region?: string;
        regions?: string[];
      }) => {
        checkRegions(opts.region, opts.regions);
        const options: SimulatorOptions = {
          port: opts.port,
          host: opts.host,
          profile: opts.profile,
          ...(opts.stateFile ? { stateFile: opts.stateFile } : {}),
          ...(opts.seed ? { seedFile: opts.seed } : {}),
          ...(opts.connectDelay !== undefined ? { connectDelayMs: opts.connectDelay } : {}),
          ...(opts.disconnectDelay !== undefined ? { disconnectDelayMs: opts.disconnectDelay } : {}),
          ...(opts.consistencyLag !== undefined ? { consistencyLagMs: opts.consistencyLag } : {}),
          ...(opts.quotaRps !== undefined ? { quotaRps: opts.quotaRps } : {}),
          ...(opts.account ? { account: opts.account } : {}),
          ...(opts.region ? { region: opts.region } : {}),
          ...(opts.regions ? { regions: opts.regions } : {}),
          ...(opts.storeLimit !== undefined ? { storeLimit: opts.storeLimit } : {}),
        };
        const sim = await startKmsSimulator(options);
        console.log(`KMS simulator listening on ${sim.url}`);
        console.log(
          `Point the AWS SDK or CLI at it with: export AWS_ENDPOINT_URL_KMS=${sim.url} AWS_ENDPOINT_URL_STS=${sim.url}`,
        );
        await untilSignal();
        await sim.stop();
      },
    );
}
