/**
 * A real third-party Amazon SNS emulator for the notification tests: `moto` in server mode, from
 * the project's Python test environment (pinned in test/clients/python/requirements.txt,
 * installed by scripts/ensure-python-venv.sh). Topics made here deliver to HTTP subscriptions,
 * so a test subscribes its own receiver and reads what SNS actually sent.
 *
 * Like the test Prometheus (`startLocalServer`), it runs in its own process group watched by the
 * orphan watchdog.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { projectRoot } from '../../src/util/project-root';
import { startLocalServer } from './prometheus';

/** moto accepts any credentials; these only satisfy the SDK's signer. */
const CREDENTIALS = { accessKeyId: 'AKIAMOTOEXAMPLE00000', secretAccessKey: 'moto-accepts-any-secret' };

export interface MotoServer {
  /** e.g. `http://127.0.0.1:41235`: the SNS endpoint. */
  readonly url: string;
  readonly credentials: typeof CREDENTIALS;
  client(region: string): SNSClient;
  /** Creates a topic (idempotent) and subscribes `endpoint` over HTTP; returns the topic ARN. */
  topicDeliveringTo(name: string, region: string, endpoint: string): Promise<string>;
  stop(): Promise<void>;
}

function pythonBin(): string {
  const out = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-python-venv.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  });
  return dirname(out.trim().split('\n').pop() ?? '');
}

export async function startMoto(): Promise<MotoServer> {
  const bin = pythonBin();
  const server = await startLocalServer(
    'moto_server',
    (port) =>
      spawn(join(bin, 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    async (url, child) => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null) {
        try {
          const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
          await response.body?.cancel();
          return true;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      return false;
    },
  );
  const clients = new Map<string, SNSClient>();
  const client = (region: string) => {
    let c = clients.get(region);
    if (!c) {
      c = new SNSClient({ region, endpoint: server.url, credentials: CREDENTIALS, maxAttempts: 1 });
      clients.set(region, c);
    }
    return c;
  };
  return {
    url: server.url,
    credentials: CREDENTIALS,
    client,
    async topicDeliveringTo(name, region, endpoint) {
      const sns = client(region);
      const topic = await sns.send(new CreateTopicCommand({ Name: name }));
      const arn = topic.TopicArn ?? '';
      await sns.send(new SubscribeCommand({ TopicArn: arn, Protocol: 'http', Endpoint: endpoint }));
      return arn;
    },
    stop: async () => {
      for (const c of clients.values()) c.destroy();
      await server.stop();
    },
  };
}
