/**
 * A complete local keystore-maint installation in one process: a Temporal dev server, the KMS
 * simulator, a worker whose activities talk to the simulator through the real AWS SDK, and a
 * typed client. Used by `keystore-maint demo`, the history recorder and the benchmarks; it stops
 * everything it started, in reverse order.
 */
import { cloudWatchClientProvider } from './gates/cloudwatch';
import { gatesConfigFromEnvironment } from './gates/config';
import { cloudHsmClientProvider } from './probes/cloudhsm-cluster';
import { xksProxiesFromEnvironment, type XksProxies } from './probes/xks-proxies';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { JsonlAuditSink, type AuditKey } from './audit';
import { createMaintenanceClient, type MaintenanceClient } from './client';
import { DEFAULT_TASK_QUEUE } from './domain/names';
import { callerAccountProvider } from './kms/caller-account';
import { kmsClientProvider } from './kms/client';
import { webhookControllersFromEnvironment, type WebhookControllers } from './traffic/webhook-controllers';
import { SimulatorControl, startKmsSimulator, type RunningSimulator, type SimulatorOptions } from './sim';
import { startDevServer, type DevServer, type DevServerOptions } from './temporal/dev-server';
import { createMaintenanceWorker, type MaintenanceWorkerOptions } from './worker';

export const LOCAL_REGION = 'us-east-1';
/** The simulator ignores signatures; the SDK still needs something to sign with. */
export const LOCAL_CREDENTIALS = {
  accessKeyId: 'AKIDKEYSTOREMAINTLOCAL',
  secretAccessKey: 'local-not-a-secret',
};

export interface LocalStackOptions {
  readonly devServer?: DevServerOptions;
  readonly simulator?: SimulatorOptions;
  readonly taskQueue?: string;
  readonly auditFile: string;
  /** The audit key that seals the trail (the demo makes one); unsealed without. */
  readonly auditKey?: AuditKey;
  readonly workerTuning?: MaintenanceWorkerOptions['tuning'];
  /** The KMS budget of the worker (default: from the environment, 4 calls per second). */
  readonly kmsBudget?: MaintenanceWorkerOptions['kmsBudget'];
  /** Default: the process environment's configuration. */
  readonly webhookControllers?: WebhookControllers;
  /** The XKS proxy credentials the worker's readiness probes sign with. */
  readonly xksProxies?: XksProxies;
}

export interface LocalStack {
  readonly server: DevServer;
  readonly sim: RunningSimulator;
  readonly control: SimulatorControl;
  readonly worker: Worker;
  readonly client: MaintenanceClient;
  readonly auditSink: JsonlAuditSink;
  readonly taskQueue: string;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const server = await startDevServer(options.devServer ?? {});
    stops.push(() => server.stop());
    const sim = await startKmsSimulator({ port: 0, region: LOCAL_REGION, ...options.simulator });
    stops.push(() => sim.stop());
    const auditSink = new JsonlAuditSink(
      options.auditFile,
      options.auditKey ? { key: options.auditKey } : {},
    );
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    const worker = await createMaintenanceWorker({
      connection: nativeConnection,
      namespace: server.namespace,
      taskQueue,
      deps: {
        kms: kmsClientProvider({ endpoint: sim.url, stsEndpoint: sim.url, credentials: LOCAL_CREDENTIALS }),
        callerAccount: callerAccountProvider({ stsEndpoint: sim.url, credentials: LOCAL_CREDENTIALS }),
        auditSink,
        defaultRegion: LOCAL_REGION,
        webhookControllers: options.webhookControllers ?? webhookControllersFromEnvironment(),
        xksProxies: options.xksProxies ?? xksProxiesFromEnvironment(),
        gatesConfig: gatesConfigFromEnvironment(),
        cloudWatch: cloudWatchClientProvider({
          endpoint: sim.url,
          stsEndpoint: sim.url,
          credentials: LOCAL_CREDENTIALS,
        }),
        cloudHsm: cloudHsmClientProvider({
          endpoint: sim.url,
          stsEndpoint: sim.url,
          credentials: LOCAL_CREDENTIALS,
        }),
      },
      ...(options.workerTuning ? { tuning: options.workerTuning } : {}),
      ...(options.kmsBudget ? { kmsBudget: options.kmsBudget } : {}),
    });
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await auditSink.close();
    });
    const connection = await Connection.connect({ address: server.address });
    stops.push(() => connection.close());
    const client = await createMaintenanceClient({
      client: new Client({ connection, namespace: server.namespace }),
      taskQueue,
      region: LOCAL_REGION,
    });
    return {
      server,
      sim,
      control: new SimulatorControl(sim.url),
      worker,
      client,
      auditSink,
      taskQueue,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
