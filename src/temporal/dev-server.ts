/**
 * Starting and stopping a local Temporal dev server (`temporal server start-dev`) for tests, the
 * demo and rehearsals: on free ports, in memory or on a sqlite file, with keystore-maint's search
 * attributes registered at start-up, and never left behind (stopped on `stop()`, on process exit,
 * and by a watchdog when the owning process is killed outright).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEV_SERVER_SEARCH_ATTRIBUTE_ARGS, SEARCH_ATTRIBUTES } from '../domain/names';
import { findTemporalCli, type TemporalCli } from './cli-binary';
import { freePort, portIsFree } from './free-port';
import { watchForOrphan } from './orphan-watchdog';

export interface DevServerOptions {
  /** Which binary; found with `findTemporalCli` when omitted. */
  readonly cli?: TemporalCli;
  readonly ip?: string;
  /** gRPC port; a free one when omitted. */
  readonly port?: number;
  /** Web UI port; a free one when omitted; `false` runs headless. */
  readonly uiPort?: number | false;
  /** Persist to this sqlite file (survives a restart); in memory when omitted. */
  readonly dbFile?: string;
  readonly namespace?: string;
  /** How long to wait for the server to answer (default 60 s). */
  readonly startTimeoutMs?: number;
  readonly log?: (message: string) => void;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  readonly address: string;
  readonly namespace: string;
  readonly uiUrl: string | undefined;
  readonly source: TemporalCli['source'];
  /** Process id of the server (undefined when the SDK manages it). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Thrown when the dev server does not come up; carries its last log lines. */
export class DevServerStartError extends Error {
  constructor(
    message: string,
    readonly logTail: readonly string[],
  ) {
    super(logTail.length ? `${message}\nLast dev server log lines:\n${logTail.join('\n')}` : message);
    this.name = 'DevServerStartError';
  }
}

const LOG_TAIL_LINES = 40;
const PORT_ATTEMPTS = 3;

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const cli = options.cli ?? (await findTemporalCli({ log: options.log }));
  if (cli.source === 'sdk-download') return startWithSdkDownload(options);
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    try {
      return await startFromBinary(cli.path, cli.source, options);
    } catch (err) {
      lastError = err;
      const portClash =
        err instanceof PortInUseError ||
        (err instanceof DevServerStartError && /address already in use/i.test(err.message));
      // A port taken between choosing and binding: choose again, unless the caller fixed the ports.
      if (!portClash || options.port !== undefined) throw err;
    }
  }
  throw lastError;
}

/** Thrown when a port the caller asked for is already taken. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    what: string,
  ) {
    super(`${what} port ${port} is already in use; choose another port, or omit it to use a free one`);
    this.name = 'PortInUseError';
  }
}

async function startFromBinary(
  path: string,
  source: TemporalCli['source'],
  options: DevServerOptions,
): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  // A server already on the port would answer our readiness check: refuse up front instead.
  if (options.port !== undefined && !(await portIsFree(options.port, ip))) {
    throw new PortInUseError(options.port, 'the Temporal gRPC');
  }
  if (typeof options.uiPort === 'number' && !(await portIsFree(options.uiPort, ip))) {
    throw new PortInUseError(options.uiPort, 'the Temporal Web UI');
  }
  const port = options.port ?? (await freePort(ip));
  const uiPort = options.uiPort === false ? undefined : (options.uiPort ?? (await freePort(ip)));
  // The HTTP API and metrics ports have fixed defaults; two servers on one machine would clash.
  const httpPort = await freePort(ip);
  const metricsPort = await freePort(ip);
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--http-port',
    String(httpPort),
    '--metrics-port',
    String(metricsPort),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...DEV_SERVER_SEARCH_ATTRIBUTE_ARGS,
    ...(uiPort === undefined ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-ip', ip]),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
  ];
  const child = spawn(path, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new DevServerStartError(`could not start ${path}`, tail);

  const stopWatchdog = watchForOrphan(pid);
  const killOnExit = () => killGroup(pid, 'SIGKILL');
  process.once('exit', killOnExit);

  const address = `${ip}:${port}`;
  try {
    await waitUntilServing(address, namespace, child, tail, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    killGroup(pid, 'SIGKILL');
    stopWatchdog();
    process.removeListener('exit', killOnExit);
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    address,
    namespace,
    uiUrl: uiPort === undefined ? undefined : `http://${ip}:${uiPort}`,
    source,
    pid,
    stop: () =>
      (stopped ??= (async () => {
        await stopGroup(child, pid);
        stopWatchdog();
        process.removeListener('exit', killOnExit);
      })()),
  };
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function stopGroup(child: ChildProcess, pgid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(pgid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(pgid, 'SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntilServing(
  address: string,
  namespace: string,
  child: ChildProcess,
  tail: string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new DevServerStartError(`the Temporal dev server exited during start-up`, tail);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        throw new DevServerStartError(
          `the Temporal dev server did not answer on ${address} within ${timeoutMs} ms (${String(err)})`,
          tail,
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function startWithSdkDownload(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const port = options.port ?? (await freePort(ip));
  const uiPort = options.uiPort === false ? undefined : (options.uiPort ?? (await freePort(ip)));
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip,
      port,
      namespace,
      ...(uiPort === undefined ? {} : { ui: true, uiPort }),
      ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
      searchAttributes: Object.values(SEARCH_ATTRIBUTES),
    },
  });
  return {
    address: env.address,
    namespace,
    uiUrl: uiPort === undefined ? undefined : `http://${ip}:${uiPort}`,
    source: 'sdk-download',
    pid: undefined,
    stop: () => env.teardown(),
  };
}
