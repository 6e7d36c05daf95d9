/**
 * A small HTTP traffic controller for tests: it verifies every request's signature (401 when it
 * does not match), records drain/restore actions, and answers status polls; its `mode` makes it
 * slow, broken (500) or failing.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import {
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookBody,
} from '../../src/domain/traffic';
import { verifyWebhookSignature } from '../../src/traffic/webhook-signature';

export interface Controller {
  readonly server: Server;
  readonly url: string;
  readonly received: { action: string; validSignature: boolean; raw: string }[];
  statusPolls: number;
  /**
   * How the controller behaves: `act-then-500` records (and performs) the action, then answers
   * 500 — an outcome the sender cannot tell from a failure.
   */
  mode: 'ok' | 'slow' | 'error500' | 'fails' | 'act-then-500';
  /** Delay before answering a POST, after the action was recorded (a slow controller). */
  postDelayMs: number;
  /** The actions received, in order (`drain`, `restore`). */
  actions(): string[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(body));
  });
}

export async function startController(secret: string): Promise<Controller> {
  let lastAction: string | undefined;
  let acceptedAt = 0;
  const controller: Omit<Controller, 'server' | 'url' | 'close'> = {
    received: [],
    statusPolls: 0,
    mode: 'ok',
    postDelayMs: 0,
    actions: () => controller.received.map((r) => r.action),
  };
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const signedOver = req.method === 'POST' ? raw : '';
      const check = verifyWebhookSignature(
        secret,
        {
          signature: req.headers[WEBHOOK_SIGNATURE_HEADER] as string | undefined,
          timestamp: req.headers[WEBHOOK_TIMESTAMP_HEADER] as string | undefined,
        },
        signedOver,
      );
      if (!check.ok) {
        res.writeHead(401).end(check.reason);
        return;
      }
      if (controller.mode === 'error500') {
        res.writeHead(500).end('controller broken');
        return;
      }
      if (req.method === 'POST' && url.pathname === '/traffic') {
        const body = JSON.parse(raw) as WebhookBody;
        controller.received.push({ action: body.action, validSignature: true, raw });
        lastAction = body.action;
        acceptedAt = Date.now();
        if (controller.postDelayMs > 0) await new Promise((r) => setTimeout(r, controller.postDelayMs));
        if (controller.mode === 'act-then-500') {
          res.writeHead(500).end('controller broken after acting');
          return;
        }
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
        return;
      }
      if (req.method === 'GET' && url.pathname === '/traffic/status') {
        controller.statusPolls++;
        let state = lastAction === 'drain' ? 'drained' : lastAction === 'restore' ? 'restored' : 'pending';
        if (controller.mode === 'slow' && Date.now() - acceptedAt < 1_500) state = 'pending';
        if (controller.mode === 'fails') state = 'failed';
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ state, message: 'upstream pool' }));
        return;
      }
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(controller, {
    server,
    url: `http://127.0.0.1:${port}/traffic`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
