/**
 * A local HTTP gate for the tests: answers each POST with whatever `answer` says for that request
 * (status, body, delay; signed with the secret when one is given, as a real gate written with
 * src/traffic/webhook-receiver.ts would), and records what it received.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import {
  WEBHOOK_NONCE_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from '../../src/domain/traffic';
import { signWebhookResponse, verifyWebhookRequest } from '../../src/traffic/webhook-signature';

export interface GateAnswer {
  status?: number;
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
  delayMs?: number;
  headers?: Record<string, string>;
  /** Sign the answer with the server's secret (default: when the server has one). */
  sign?: boolean;
}

export interface ReceivedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** With a secret: whether the request's signature checked out. */
  signatureOk?: boolean;
}

export interface GateServer {
  readonly url: string;
  readonly received: ReceivedRequest[];
  answer: (request: ReceivedRequest, index: number) => GateAnswer;
  close(): Promise<void>;
}

export async function startGateServer(options: { secret?: string; path?: string } = {}): Promise<GateServer> {
  const path = options.path ?? '/gate';
  const received: ReceivedRequest[] = [];
  const state: { origin: string; answer: GateServer['answer'] } = {
    origin: '',
    answer: () => ({ body: { open: true } }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedRequest = { method: req.method ?? '', headers: req.headers, body };
      if (options.secret !== undefined) {
        const check = verifyWebhookRequest(options.secret, {
          method: request.method,
          url: `${state.origin}${req.url ?? ''}`,
          body,
          headers: {
            signature: header(req.headers, WEBHOOK_SIGNATURE_HEADER),
            timestamp: header(req.headers, WEBHOOK_TIMESTAMP_HEADER),
            nonce: header(req.headers, WEBHOOK_NONCE_HEADER),
          },
        });
        request.signatureOk = check.ok;
      }
      received.push(request);
      const answer = state.answer(request, received.length - 1);
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      const status = answer.status ?? 200;
      const nonce = header(req.headers, WEBHOOK_NONCE_HEADER) ?? '';
      const signature =
        options.secret !== undefined && (answer.sign ?? true)
          ? signWebhookResponse(options.secret, nonce, status, text)
          : {};
      const send = () => {
        if (res.destroyed) return;
        res
          .writeHead(status, { 'content-type': 'application/json', ...signature, ...answer.headers })
          .end(text);
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  state.origin = `http://127.0.0.1:${port}`;
  return {
    url: `${state.origin}${path}`,
    received,
    get answer() {
      return state.answer;
    },
    set answer(fn) {
      state.answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
