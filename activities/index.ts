/**
 * `createActivities(deps)`: the one place activities get their clients. Workflows see only the
 * type of the returned object (`proxyActivities<Activities>`), never the implementations.
 */
import { cloudWatchClientProvider, type CloudWatchClientProvider } from '../src/gates/cloudwatch';
import { NO_GATES_CONFIG, type GatesConfig } from '../src/gates/config';
import { createGateActivities } from './gates';
import type { AuditSink } from '../src/audit/sink';
import type { CallerAccountProvider } from '../src/kms/caller-account';
import type { KmsClientProvider } from '../src/kms/client';
import type { KmsCallGate } from '../src/kms/rate-limit';
import type { MetricsRecorder } from '../src/metrics/recorder';
import { cloudHsmClientProvider, type CloudHsmClientProvider } from '../src/probes/cloudhsm-cluster';
import { NO_XKS_PROXIES, type XksProxies } from '../src/probes/xks-proxies';
import type { WebhookControllers } from '../src/traffic/webhook-controllers';
import { createAuditActivities } from './audit';
import { createFleetActivities } from './fleet';
import { createHookActivities } from './hooks';
import { createNotificationActivities } from './notifications';
import { snsClientProvider, type SnsClientProvider } from '../src/notify/sns';
import { createHealthActivities } from './health';
import { createKeyStoreActivities } from './keystore';
import { createProbeActivities } from './probes';
import type { SharedDescribePoller } from './shared-poller';
import { createTrafficActivities } from './traffic';

export interface ActivityDeps {
  readonly kms: KmsClientProvider;
  /**
   * The worker process's KMS budget gate, passed by every custom-key-store call; undefined = no
   * budget. `createMaintenanceWorker` supplies it from the worker's budget.
   */
  readonly kmsGate?: KmsCallGate | undefined;
  /**
   * The worker's own account (STS GetCallerIdentity), checked for requests that name an account
   * without an execution role; without it such requests are refused.
   */
  readonly callerAccount?: CallerAccountProvider | undefined;
  /** The process's shared poller for waits; `createMaintenanceWorker` supplies it unless turned off. */
  readonly poller?: SharedDescribePoller | undefined;
  readonly auditSink: AuditSink;
  /** Region used when a request names none (the worker's AWS_REGION). */
  readonly defaultRegion: string;
  /** The traffic controllers the webhook provider may call, and their secrets (the worker's configuration). */
  readonly webhookControllers: WebhookControllers;
  /** The XKS proxy credentials readiness probes may sign with (default: none configured). */
  readonly xksProxies?: XksProxies | undefined;
  /** CloudHSM v2 clients for the `cloudHsmCluster` probe (default: the SDK's endpoints and credentials). */
  readonly cloudHsm?: CloudHsmClientProvider | undefined;
  /** The Prometheus sources and HTTP gates requests may name (default: none configured). */
  readonly gatesConfig?: GatesConfig | undefined;
  /** SNS clients for notification topics (default: the SDK's endpoints and the worker's credentials). */
  readonly sns?: SnsClientProvider | undefined;
  /** CloudWatch clients for alarm gates (default: the SDK's endpoints and credentials). */
  readonly cloudWatch?: CloudWatchClientProvider | undefined;
  /**
   * The worker's metrics; `createMaintenanceWorker` supplies them, made never-throwing, so that
   * recording can fail without failing an activity. Undefined records nothing.
   */
  readonly metrics?: MetricsRecorder | undefined;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createKeyStoreActivities(deps),
    ...createFleetActivities(deps),
    ...createTrafficActivities(deps),
    ...createHealthActivities(deps),
    ...createGateActivities({
      gatesConfig: deps.gatesConfig ?? NO_GATES_CONFIG,
      cloudWatch: deps.cloudWatch ?? cloudWatchClientProvider(),
      metrics: deps.metrics,
    }),
    // Hooks are configured beside the HTTP gates (src/gates/config.ts, "hooks").
    ...createHookActivities({ gatesConfig: deps.gatesConfig ?? NO_GATES_CONFIG }),
    // So are notification destinations ("notifications").
    ...createNotificationActivities({
      gatesConfig: deps.gatesConfig ?? NO_GATES_CONFIG,
      sns: deps.sns ?? snsClientProvider(),
      metrics: deps.metrics,
    }),
    ...createProbeActivities({
      ...deps,
      xksProxies: deps.xksProxies ?? NO_XKS_PROXIES,
      cloudHsm: deps.cloudHsm ?? cloudHsmClientProvider(),
    }),
    ...createAuditActivities(deps),
    /** The Region a request without one runs in: the worker's. */
    async defaultRegion(): Promise<string> {
      return Promise.resolve(deps.defaultRegion);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
