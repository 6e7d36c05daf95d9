import { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { GatesConfigError, gatesConfigFromEnvironment } from '../gates/config';
import { cloudHsmClientProvider, cloudHsmOptionsFromEnvironment } from '../probes/cloudhsm-cluster';
import { XksProxyConfigError, xksProxiesFromEnvironment } from '../probes/xks-proxies';
import {
  AuditConfigError,
  allowPrivilegedWriterFromEnv,
  auditConfigFromEnv,
  createAuditSink,
  loadAuditKey,
  requiredAuditKeyFile,
} from '../audit';
import { callerAccountProvider } from '../kms/caller-account';
import { kmsClientProvider, regionFromEnvironment } from '../kms/client';
import { webhookControllersFromEnvironment } from '../traffic/webhook-controllers';
import { connectWorkerConnection, temporalSettings } from '../temporal/connection';
import { describeKmsBudget, kmsBudgetFromEnvironment, KmsBudgetConfigError } from '../kms/rate-limit';
import { kmsTaskQueue } from '../domain/kms-budget';
import {
  MetricsConfigError,
  metricsEndpointFromEnvironment,
  sdkMetricsAddressFromEnvironment,
} from '../metrics/config';
import { OpenRuns, temporalVisibility } from '../metrics/open-runs';
import { installSdkMetricsRuntime } from '../metrics/sdk-runtime';
import { startMetricsServer, type MetricsServer } from '../metrics/server';
import { WorkerMetrics } from '../metrics/worker-metrics';
import { DEFAULT_WORKER_SERVICE_NAME, tracesUrl, tracingFromEnvironment } from '../tracing';
import { createMaintenanceWorker, taskQueueFromEnvironment } from '../worker';
import { CliError } from './exit-codes';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a worker for keystore-maint workflows and activities (stops gracefully on SIGINT/SIGTERM)',
    )
    .option('--task-queue <name>', 'task queue (default: KEYSTORE_MAINT_TASK_QUEUE or keystore-maintenance)')
    .option(
      '--workflow-bundle <path>',
      'prebuilt workflow bundle (default: KEYSTORE_MAINT_WORKFLOW_BUNDLE, else bundle at start)',
    )
    .addHelpText(
      'after',
      [
        '',
        'Settings (environment):',
        '  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*  Temporal connection (or a TOML profile)',
        '  AWS_REGION, AWS_ENDPOINT_URL_KMS, AWS credentials chain                KMS',
        '  KEYSTORE_MAINT_AUDIT_SINK, KEYSTORE_MAINT_AUDIT_FILE                    audit sink (see docs/audit.md)',
        '  KEYSTORE_MAINT_AUDIT_KEY_FILE                                           the audit key that seals the trail (required)',
        '  KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE                                  postgres sink: URL of a writer role (SELECT, INSERT only)',
        '  KEYSTORE_MAINT_AUDIT_ALLOW_PRIVILEGED_WRITER=1                          development only: write even as a role that could rewrite the trail',
        '  KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE                                 traffic controllers of the webhook provider',
        '  KEYSTORE_MAINT_KMS_BUDGET_RPS (default 4; 0 = off)                      custom-key-store calls/s per Region, all workers together',
        '  KEYSTORE_MAINT_KMS_WORKERS (default 1)                                  worker processes sharing that budget (see docs/fleet.md)',
        '  KEYSTORE_MAINT_METRICS_PORT (unset = off), KEYSTORE_MAINT_METRICS_HOST   Prometheus /metrics of the worker (host default 0.0.0.0; docs/monitoring.md)',
        "  KEYSTORE_MAINT_SDK_METRICS_ADDRESS (unset = off)                        the Temporal SDK's own Prometheus exporter, host:port (e.g. 0.0.0.0:9465)",
        '  OTEL_EXPORTER_OTLP_ENDPOINT (unset = off), OTEL_SERVICE_NAME            OpenTelemetry traces over OTLP/HTTP (service default keystore-maint-worker)',
        '',
        'Example:',
        '  $ TEMPORAL_ADDRESS=localhost:7233 AWS_REGION=us-east-1 keystore-maint worker',
        '',
      ].join('\n'),
    )
    .action(async (opts: { taskQueue?: string; workflowBundle?: string }) => {
      const region = regionFromEnvironment();
      let kmsBudget;
      try {
        kmsBudget = kmsBudgetFromEnvironment();
      } catch (err) {
        if (err instanceof KmsBudgetConfigError) throw new CliError(err.message);
        throw err;
      }
      let metricsEndpoint;
      let sdkMetricsAddress;
      try {
        metricsEndpoint = metricsEndpointFromEnvironment();
        sdkMetricsAddress = sdkMetricsAddressFromEnvironment();
      } catch (err) {
        if (err instanceof MetricsConfigError) throw new CliError(err.message);
        throw err;
      }
      const settings = temporalSettings();
      const taskQueue = opts.taskQueue ?? taskQueueFromEnvironment();
      const bundle = opts.workflowBundle ?? process.env.KEYSTORE_MAINT_WORKFLOW_BUNDLE;
      let auditSink;
      try {
        const auditConfig = auditConfigFromEnv(process.env);
        const keyFile = requiredAuditKeyFile(auditConfig, process.env);
        if (!keyFile && auditConfig.kind !== 'stdout') {
          console.warn(
            'keystore-maint worker: WARNING: KEYSTORE_MAINT_AUDIT_UNKEYED=1: the audit trail is not sealed with a key; anyone who can write it can rewrite it undetected',
          );
        }
        auditSink = createAuditSink(auditConfig, {
          ...(keyFile ? { key: loadAuditKey(keyFile) } : {}),
          // The PostgreSQL sink refuses a role that could rewrite the trail unless this says so.
          postgres: { allowPrivilegedWriter: allowPrivilegedWriterFromEnv(process.env) },
        });
      } catch (err) {
        if (err instanceof AuditConfigError) throw new CliError(err.message);
        throw err;
      }
      let xksProxies;
      let gatesConfig;
      try {
        xksProxies = xksProxiesFromEnvironment();
        gatesConfig = gatesConfigFromEnvironment();
      } catch (err) {
        if (err instanceof XksProxyConfigError || err instanceof GatesConfigError)
          throw new CliError(err.message);
        throw err;
      }
      // The SDK's Runtime is created by the first connection: its exporter must be configured before.
      if (sdkMetricsAddress) {
        try {
          installSdkMetricsRuntime(sdkMetricsAddress);
          console.log(
            `keystore-maint worker: Temporal SDK metrics on http://${sdkMetricsAddress}/metrics (series prefixed temporal_)`,
          );
        } catch (err) {
          // Metrics may fail; maintenance must not wait for them (the worker runs without).
          console.error(
            `keystore-maint worker: ERROR: the Temporal SDK's metrics could not be served on ${sdkMetricsAddress} (${err instanceof Error ? err.message : String(err)}); running without them`,
          );
        }
      }
      // Spans are sent in the background; a collector that is down loses spans, never a run.
      const tracing = tracingFromEnvironment(DEFAULT_WORKER_SERVICE_NAME);
      if (tracing) {
        console.log(
          `keystore-maint worker: traces as ${tracing.serviceName} to ${tracesUrl(process.env)} (OTLP/HTTP)`,
        );
      }
      const connection = await connectWorkerConnection(settings);
      const metrics = metricsEndpoint ? new WorkerMetrics({ processMetrics: true }) : undefined;
      let metricsServer: MetricsServer | undefined;
      try {
        if (metrics && metricsEndpoint) {
          const lastWarned = new Map<string, number>();
          metrics.watchOpenRuns(
            new OpenRuns({
              visibility: temporalVisibility(new Client({ connection, namespace: settings.namespace })),
              taskQueue,
              onError: (source, err) => {
                metrics.sourceError(source);
                // Counted every time; logged at most every 5 minutes per source, not per scrape.
                const now = Date.now();
                if (now - (lastWarned.get(source) ?? 0) < 300_000) return;
                lastWarned.set(source, now);
                console.warn(
                  `keystore-maint worker: metrics: ${source} failed (${err instanceof Error ? err.message : String(err)}); the gauges keep their last values, metrics_source_errors_total{source="${source}"} counts failures`,
                );
              },
            }),
          );
          try {
            metricsServer = await startMetricsServer({ metrics, ...metricsEndpoint });
            console.log(`keystore-maint worker: metrics on ${metricsServer.url} (and /healthz)`);
          } catch (err) {
            // A port taken must not keep a worker from bringing stores back: run, and say so loudly.
            console.error(
              `keystore-maint worker: ERROR: ${err instanceof Error ? err.message : String(err)}; running without the metrics endpoint (Prometheus will show this target down)`,
            );
          }
        }
        const worker = await createMaintenanceWorker({
          connection,
          namespace: settings.namespace,
          taskQueue,
          deps: {
            kms: kmsClientProvider(),
            callerAccount: callerAccountProvider(),
            auditSink,
            defaultRegion: region,
            webhookControllers: webhookControllersFromEnvironment(),
            xksProxies,
            gatesConfig,
            cloudHsm: cloudHsmClientProvider(cloudHsmOptionsFromEnvironment()),
          },
          ...(bundle ? { workflowBundlePath: bundle } : {}),
          kmsBudget,
          ...(metrics ? { metrics } : {}),
          ...(tracing ? { tracing } : {}),
        });
        console.log(
          `keystore-maint worker: task queue ${taskQueue} (KMS calls on ${kmsTaskQueue(taskQueue)}), namespace ${settings.namespace} at ${settings.address}, Region ${region}`,
        );
        console.log(`keystore-maint worker: ${describeKmsBudget(kmsBudget)}`);
        // The SDK's runtime shuts the worker down gracefully on SIGINT/SIGTERM; run() then resolves.
        await worker.run();
        console.log('keystore-maint worker: stopped');
      } finally {
        await metricsServer?.close();
        await tracing?.shutdown();
        await auditSink.close();
        await connection.close();
      }
    });
}
