/**
 * A real third-party Amazon SNS emulator for the notification tests: `moto` in server mode, from
 * the project's Python test environment (pinned in test/clients/python/requirements.txt,
 * installed by scripts/ensure-python-venv.sh). Topics made here deliver to HTTP subscriptions,
 * so a test subscribes its own receiver and reads what SNS actually sent.
 *
 * Like the test Prometheus, it runs in its own process group watched by the orphan watchdog.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { freePort } from '../../src/temporal/free-port';
import { watchForOrphan } from '../../src/temporal/orphan-watchdog';
import { projectRoot } from '../../src/util/project-root';
import { stopProcess } from './prometheus';

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
  let lastProblem = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(join(bin, 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    const stopWatchdog = child.pid !== undefined ? watchForOrphan(child.pid) : () => undefined;
    const url = `http://127.0.0.1:${port}`;
    const stop = () => stopProcess(child).finally(stopWatchdog);
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
        await response.body?.cancel();
        ready = true;
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    if (ready) {
      const clients = new Map<string, SNSClient>();
      const client = (region: string) => {
        let c = clients.get(region);
        if (!c) {
          c = new SNSClient({ region, endpoint: url, credentials: CREDENTIALS, maxAttempts: 1 });
          clients.set(region, c);
        }
        return c;
      };
      return {
        url,
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
          await stop();
        },
      };
    }
    await stop();
    lastProblem = stderr.trim().split('\n').slice(-5).join('\n');
    if (!/address already in use/i.test(stderr)) break;
  }
  throw new Error(`moto_server did not become ready:\n${lastProblem}`);
}
