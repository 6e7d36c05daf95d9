import { type Command, InvalidArgumentError, Option } from 'commander';
import { startKmsSimulator, type SimulatorOptions } from '../sim';
import { untilSignal } from './dev-server';
import { parseDurationMs, parseNonNegativeInt, parsePort } from './parse';

function parseAccount(value: string): string {
  if (!/^\d{12}$/.test(value))
    throw new InvalidArgumentError(`"${value}" is not an AWS account id (12 digits).`);
  return value;
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'Run the KMS simulator: a local KMS endpoint with custom key stores, and STS GetCallerIdentity (see docs/simulator.md)',
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
      'requests per second per custom key store operation (0 = unlimited)',
      parseNonNegativeInt,
    )
    .option('--account <id>', 'AWS account id in ARNs', parseAccount)
    .option('--region <region>', 'AWS Region in ARNs')
    .addHelpText(
      'after',
      '\nExamples:\n  $ keystore-maint sim --port 4566\n  $ keystore-maint sim --state-file sim-state.json --profile realistic\n  $ AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4566 aws kms describe-custom-key-stores\n',
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
        account?: string;
        region?: string;
      }) => {
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
