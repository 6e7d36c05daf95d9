/**
 * A local HTTP receiver for notifications, standing in for Slack, a Teams workflow, a generic
 * webhook endpoint and an SNS HTTP subscription at once (one path each). It records every
 * request it gets, answers as the real service does (Slack 200 "ok", Teams 202), can answer a
 * path with a chosen status, and can go down (its port closed: connections are refused) and come
 * back on the same port.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Epoch ms when it arrived. */
  readonly at: number;
}

export interface NotificationReceiver {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly received: Received[];
  /** Answers `path` with `status` from now on (e.g. 404 for a revoked Slack URL). */
  answer(path: string, status: number): void;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Epoch ms of the last `up()` (or the start). */
  readonly upSince: number;
  close(): Promise<void>;
}

const DEFAULT_STATUS: Record<string, [number, string]> = {
  '/slack': [200, 'ok'],
  '/teams': [202, ''],
};

export async function startNotificationReceiver(): Promise<NotificationReceiver> {
  const received: Received[] = [];
  const statuses = new Map<string, number>();
  const make = (): Server =>
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        received.push({
          path,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        const [status, text] = statuses.has(path)
          ? [statuses.get(path) ?? 500, 'refused by the test']
          : (DEFAULT_STATUS[path] ?? [200, '']);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      });
    });
  let server = make();
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  let listening = true;
  let upSince = Date.now();
  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answer: (path, status) => statuses.set(path, status),
    down: stop,
    up: async () => {
      if (listening) return;
      server = make();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      listening = true;
      upSince = Date.now();
    },
    get upSince() {
      return upSince;
    },
    close: stop,
  };
}
