/**
 * The simulator's HTTP server: KMS's JSON 1.1 endpoint on `POST /`, STS's `GetCallerIdentity` and
 * `AssumeRole` (AWS Query protocol, told apart by `isStsRequest`), CloudWatch's alarms (JSON 1.0,
 * told apart by `isCloudWatchRequest`), CloudHSM v2's DescribeClusters (JSON 1.1, `isCloudHsmRequest`),
 * the XKS proxy stand-in under `/_xks/` and the control API under `/_sim/`, on one port.
 * Every response carries an `x-amzn-RequestId`. A body over `MAX_BODY_BYTES` is read to its end
 * but not kept, and every API answers it with a 413. `stop()` clears the store
 * timers, ends injected-latency waits and closes the server including keep-alive sockets, so a
 * test process is left with no open handles.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolveOptions, type SimulatorOptions } from './config';
import { handleCloudWatchRequest, isCloudWatchRequest, CLOUDWATCH_CONTENT_TYPE } from './cloudwatch-api';
import { QUERY_ERROR_HEADER } from './cloudwatch-protocol';
import { handleCloudHsmRequest, isCloudHsmRequest } from './cloudhsm-api';
import { CONTROL_PREFIX, handleControlRequest } from './control-api';
import { handleKmsRequest } from './kms-api';
import { KMS_CONTENT_TYPE, MAX_BODY_BYTES } from './protocol';
import { Simulator } from './simulator';
import { handleStsRequest, isStsRequest, STS_CONTENT_TYPE } from './sts-api';
import { handleXksRequest, isXksPath } from './xks-proxy';

export interface RunningSimulator {
  /** e.g. `http://127.0.0.1:4566`: the KMS and STS endpoint, and the control API under `/_sim/`. */
  url: string;
  port: number;
  /** The default Region (with `account`, the default partition). */
  region: string;
  /** Every Region served, the default one first: KMS requests signed for another are refused. */
  regions: readonly string[];
  /** The default account: access keys not registered to another account act in it. */
  account: string;
  stop(): Promise<void>;
}

/**
 * Starts a simulator. Throws `SimulatorOptionsError` naming a bad option, or an error describing
 * an unreadable state or seed file, before anything listens.
 */
export async function startKmsSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveOptions(options);
  const sim = new Simulator(resolved);
  const server = createServer((req, res) => {
    serve(sim, req, res).catch((err: unknown) => {
      sim.log(`simulator request failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) send(res, 500, randomUUID(), { error: 'InternalError' }, 'application/json');
      else res.destroy();
    });
  });
  // Node closes an idle keep-alive socket after 5 s, and a client (the AWS SDK keeps sockets and,
  // in this project, never retries by itself) that reuses it in that instant reads ECONNRESET.
  // Real KMS keeps idle connections far longer; so does the simulator.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  try {
    await listen(server, resolved.port, resolved.host);
  } catch (err) {
    sim.stop();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : resolved.port;
  const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host;
  const url = `http://${host}:${port}`;
  sim.log(
    `KMS simulator listening on ${url} (account ${resolved.account}, region ${resolved.region}` +
      `${resolved.regions.length > 1 ? `; regions ${resolved.regions.join(', ')}` : ''})`,
  );
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    region: resolved.region,
    regions: [...resolved.regions],
    account: resolved.account,
    stop: () => (stopping ??= close(sim, server)),
  };
}

async function serve(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const { body, tooLarge } = await readBody(req);
  const url = req.url ?? '/';
  if (
    url === CONTROL_PREFIX ||
    url.startsWith(`${CONTROL_PREFIX}/`) ||
    url.startsWith(`${CONTROL_PREFIX}?`)
  ) {
    const response = handleControlRequest(sim, {
      method: req.method ?? 'GET',
      url,
      body,
      bodyTooLarge: tooLarge,
    });
    sim.log(`SIM ${req.method ?? ''} ${url} -> ${response.status}`);
    send(res, response.status, requestId, response.body, 'application/json');
    return;
  }
  if (isCloudWatchRequest(req.headers)) {
    const response = await handleCloudWatchRequest(
      sim,
      { method: req.method ?? 'GET', headers: req.headers, body, bodyTooLarge: tooLarge },
      requestId,
    );
    send(res, response.status, requestId, response.body, CLOUDWATCH_CONTENT_TYPE, response.errorType, {
      ...(response.queryError ? { [QUERY_ERROR_HEADER]: response.queryError } : {}),
    });
    return;
  }
  // The XKS proxy stand-in and CloudHSM v2: see xks-proxy.ts and cloudhsm-api.ts.
  if (isXksPath(url)) {
    const outcome = await handleXksRequest(
      sim,
      { method: req.method ?? 'GET', url, headers: req.headers, body, bodyTooLarge: tooLarge },
      requestId,
    );
    if (outcome.kind === 'destroy') res.destroy();
    else sendText(res, outcome.status, requestId, outcome.body, outcome.contentType);
    return;
  }
  if (isCloudHsmRequest(req.headers)) {
    const response = await handleCloudHsmRequest(
      sim,
      { method: req.method ?? 'GET', headers: req.headers, body, bodyTooLarge: tooLarge },
      requestId,
    );
    send(res, response.status, requestId, response.body, KMS_CONTENT_TYPE, response.errorType);
    return;
  }
  if (isStsRequest(req.headers, url)) {
    const response = await handleStsRequest(
      sim,
      { method: req.method ?? 'GET', url, headers: req.headers, body, bodyTooLarge: tooLarge },
      requestId,
    );
    sendText(res, response.status, requestId, response.body, STS_CONTENT_TYPE);
    return;
  }
  const response = await handleKmsRequest(
    sim,
    { method: req.method ?? 'GET', headers: req.headers, body, bodyTooLarge: tooLarge },
    requestId,
  );
  send(res, response.status, requestId, response.body, KMS_CONTENT_TYPE, response.errorType);
}

function send(
  res: ServerResponse,
  status: number,
  requestId: string,
  body: unknown,
  contentType: string,
  errorType?: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendText(res, status, requestId, JSON.stringify(body), contentType, errorType, headers);
}

function sendText(
  res: ServerResponse,
  status: number,
  requestId: string,
  payload: string,
  contentType: string,
  errorType?: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': requestId,
    ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}),
    ...headers,
  });
  res.end(payload);
}

function readBody(req: IncomingMessage): Promise<{ body: string; tooLarge: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge }));
    req.on('error', reject);
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function close(sim: Simulator, server: Server): Promise<void> {
  sim.stop();
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
