import type { Command } from 'commander';
import { startDevServer } from '../temporal/dev-server';
import { freePort, portIsFree } from '../temporal/free-port';
import { parsePort } from './parse';

async function portOrFree(wanted: number): Promise<number> {
  return (await portIsFree(wanted)) ? wanted : freePort();
}

/** Resolves when the process is told to stop (Ctrl-C or SIGTERM). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals) => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

export function registerDevServer(program: Command): void {
  program
    .command('dev-server')
    .description('Run a local Temporal dev server with the keystore-maint search attributes registered')
    .option('--port <port>', 'gRPC port (default 7233, or a free one if 7233 is taken)', parsePort)
    .option('--ui-port <port>', 'Web UI port (default 8233, or a free one)', parsePort)
    .option('--headless', 'run without the Web UI')
    .option('--db-file <path>', 'persist to this sqlite file (default: in memory)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ keystore-maint dev-server\n  $ keystore-maint dev-server --port 7300 --db-file temporal.sqlite\n',
    )
    .action(async (opts: { port?: number; uiPort?: number; headless?: boolean; dbFile?: string }) => {
      const port = opts.port ?? (await portOrFree(7233));
      const uiPort = opts.headless ? false : (opts.uiPort ?? (await portOrFree(8233)));
      const server = await startDevServer({
        port,
        uiPort,
        ...(opts.dbFile ? { dbFile: opts.dbFile } : {}),
        log: (m) => console.error(m),
      });
      console.log(
        `Temporal dev server (${server.source}) on ${server.address}, namespace ${server.namespace}`,
      );
      if (server.uiUrl) console.log(`Web UI: ${server.uiUrl}`);
      console.log(`Use it with: export TEMPORAL_ADDRESS=${server.address}`);
      console.log('Press Ctrl-C to stop.');
      await untilSignal();
      await server.stop();
    });
}
