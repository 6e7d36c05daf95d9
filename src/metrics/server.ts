/**
 * The worker's metrics endpoint: `GET /metrics` (Prometheus text) and `GET /healthz` (is the
 * endpoint up; it says nothing about runs or Temporal). No authentication and nothing secret: the
 * series carry counts and phases, never store ids; restrict who can reach the port with the
 * network (a NetworkPolicy, a security group) or bind it to 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';

export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsServer {
  /** e.g. `http://0.0.0.0:9464/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export class MetricsServerError extends Error {
  constructor(
    message: string,
    readonly host: string,
    readonly port: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'MetricsServerError';
  }
}

/** Listens on `host:port` (port 0: any free port, for tests). */
export async function startMetricsServer(options: {
  readonly metrics: MetricsSource;
  readonly host: string;
  readonly port: number;
}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('see /metrics\n');
      return;
    }
    options.metrics.render().then(
      (body) => res.writeHead(200, { 'content-type': options.metrics.contentType }).end(body),
      (err: unknown) => {
        // A scrape that fails is visible in Prometheus as up == 0 for this target.
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new MetricsServerError(
          `cannot serve metrics on ${options.host}:${options.port}: ${err.message}`,
          options.host,
          options.port,
          { cause: err },
        ),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${bound}/metrics`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
