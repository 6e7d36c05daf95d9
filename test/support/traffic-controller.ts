/**
 * A small HTTP traffic controller for tests, built on the package's own receiving helpers
 * (src/traffic/webhook-receiver.ts): it verifies every request's signature over method, full URL,
 * timestamp, nonce and body and refuses replays (401), records drain/restore actions, and signs
 * its status answers. Its `mode` makes it slow, broken (500), failing, or misbehave the ways a
 * security review tried: redirecting, answering unsigned, leaking a secret in an error body.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type WebhookBody } from '../../src/domain/traffic';
import {
  signWebhookResponse,
  verifyIncomingWebhook,
  WebhookNonceCache,
} from '../../src/traffic/webhook-receiver';
import { webhookControllers, type WebhookControllers } from '../../src/traffic/webhook-controllers';

/** A request as it arrived, raw, so a test can replay it elsewhere. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
  /** Whether it passed verification (signature, timestamp, nonce). */
  readonly accepted: boolean;
  readonly reason?: string;
}

export interface Controller {
  readonly server: Server;
  readonly name: string;
  readonly url: string;
  readonly secret: string;
  readonly received: { action: string; validSignature: boolean; raw: string }[];
  /** Every request, accepted or refused. */
  readonly requests: ReceivedRequest[];
  statusPolls: number;
  /**
   * How the controller behaves: `act-then-500` records (and performs) a drain, then answers 500 —
   * an outcome the sender cannot tell from a failure; `redirect` answers every request with a 307
   * to `redirectTo`; `unsigned-status` answers status polls without a signature (what a forger on
   * the path would send); `leaky-500` answers 500 with a body that holds a password.
   */
  mode: 'ok' | 'slow' | 'error500' | 'fails' | 'act-then-500' | 'redirect' | 'unsigned-status' | 'leaky-500';
  redirectTo: string | undefined;
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

export const LEAKED_SECRET = 'db_password=hunter2-leaked-by-the-controller';

export async function startController(secret: string, name = 'test-controller'): Promise<Controller> {
  let lastAction: string | undefined;
  let acceptedAt = 0;
  const nonces = new WebhookNonceCache();
  let base = '';
  const controller: Omit<Controller, 'server' | 'url' | 'close'> = {
    name,
    secret,
    received: [],
    requests: [],
    statusPolls: 0,
    mode: 'ok',
    redirectTo: undefined,
    postDelayMs: 0,
    actions: () => controller.received.map((r) => r.action),
  };
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const path = req.url ?? '/';
      const url = new URL(path, base);
      const check = verifyIncomingWebhook(
        secret,
        { method: req.method ?? 'GET', url: `${base}${path}`, headers: req.headers, body: raw },
        nonces,
      );
      controller.requests.push({
        method: req.method ?? '',
        path,
        headers: { ...req.headers },
        body: raw,
        accepted: check.ok,
        ...(check.ok ? {} : { reason: check.reason }),
      });
      if (!check.ok) {
        res.writeHead(401).end(check.reason);
        return;
      }
      if (controller.mode === 'redirect') {
        res.writeHead(307, { location: controller.redirectTo ?? 'http://127.0.0.1:9/' }).end();
        return;
      }
      if (controller.mode === 'error500') {
        res.writeHead(500).end('controller broken');
        return;
      }
      if (controller.mode === 'leaky-500') {
        res.writeHead(500).end(`internal error: connect failed with ${LEAKED_SECRET} host=db.internal`);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/traffic') {
        const body = JSON.parse(raw) as WebhookBody;
        controller.received.push({ action: body.action, validSignature: true, raw });
        lastAction = body.action;
        acceptedAt = Date.now();
        if (controller.postDelayMs > 0) await new Promise((r) => setTimeout(r, controller.postDelayMs));
        if (controller.mode === 'act-then-500' && body.action === 'drain') {
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
        const text = JSON.stringify({ state, message: 'upstream pool' });
        const signature =
          controller.mode === 'unsigned-status' ? {} : signWebhookResponse(secret, check.nonce, 200, text);
        res.writeHead(200, { 'content-type': 'application/json', ...signature }).end(text);
        return;
      }
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  base = `http://127.0.0.1:${port}`;
  return Object.assign(controller, {
    server,
    url: `${base}/traffic`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/**
 * The worker's configuration for these controllers (plain http allowed: these are loopback test
 * servers), with each secret in a variable of its own, as a worker would read them.
 */
export function controllersConfig(controllers: readonly Pick<Controller, 'name' | 'url' | 'secret'>[]): {
  readonly config: { controllers: Record<string, { url: string; secretEnv: string }> };
  readonly env: Record<string, string>;
} {
  const env: Record<string, string> = {};
  const entries: Record<string, { url: string; secretEnv: string }> = {};
  controllers.forEach((c, i) => {
    const variable = `KEYSTORE_MAINT_WEBHOOK_SECRET_TEST_${i}`;
    env[variable] = c.secret;
    entries[c.name] = { url: c.url, secretEnv: variable };
  });
  return { config: { controllers: entries }, env };
}

export function testWebhookControllers(
  controllers: readonly Pick<Controller, 'name' | 'url' | 'secret'>[],
): WebhookControllers {
  const { config, env } = controllersConfig(controllers);
  return webhookControllers(config, { allowHttp: true, env });
}

/** A worker process's environment for these controllers, as a production worker reads it. */
export function webhookEnvironment(
  ...controllers: readonly Pick<Controller, 'name' | 'url' | 'secret'>[]
): Record<string, string> {
  const { config, env } = controllersConfig(controllers);
  return {
    ...env,
    KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: JSON.stringify(config),
    KEYSTORE_MAINT_WEBHOOK_ALLOW_HTTP: '1',
  };
}
