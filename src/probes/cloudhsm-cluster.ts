/**
 * The `cloudHsmCluster` probe: CloudHSM v2 DescribeClusters on the store's cluster, judged as
 * KMS judges a connect: the cluster must be ACTIVE with enough ACTIVE HSMs (KMS needs one to
 * connect; creating keys needs two in different Availability Zones). Fewer, and the connect ends
 * FAILED with INSUFFICIENT_CLOUDHSM_HSMS.
 *
 * What no API reveals before a connect, and so no probe can check: whether the `kmsuser` crypto
 * user is still logged in (USER_LOGGED_IN), exists, is locked out, or has the store's password.
 * The evidence says so every time, with what to do.
 */
import { CloudHSMV2Client, DescribeClustersCommand } from '@aws-sdk/client-cloudhsm-v2';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type {
  AwsCredentialIdentity,
  AwsCredentialIdentityProvider,
  FinalizeHandler,
  FinalizeHandlerArguments,
  MetadataBearer,
} from '@aws-sdk/types';
import {
  awsClientSettings,
  targetClientProvider,
  type TargetClientOptions,
  type TargetClientProvider,
} from '../aws/target-clients';
import type { ProbeResult } from '../domain/probes';

export type CloudHsmClientProvider = TargetClientProvider<CloudHSMV2Client>;

export interface CloudHsmClientOptions extends TargetClientOptions {
  /** The CloudHSM v2 endpoint (e.g. the simulator's URL); default: the Region's. */
  readonly endpoint?: string;
  readonly requestTimeoutMs?: number;
}

/**
 * One attempt per call. `maxAttempts: 1` is not enough with this client: the retry strategy of
 * its SDK core (util-retry 3.329) compares the retry count, which starts at 0, with maxAttempts,
 * so a 5xx or a throttle was still sent twice. A strategy that never retries is passed instead.
 */
const SEND_ONCE = {
  mode: 'standard',
  retry: <Input extends object, Output extends MetadataBearer>(
    next: FinalizeHandler<Input, Output>,
    args: FinalizeHandlerArguments<Input>,
  ) => next(args),
};

/** SDK retries off, as for KMS: the probe's own schedule is the retry. */
export function cloudHsmClientProvider(options: CloudHsmClientOptions = {}): CloudHsmClientProvider {
  const { endpoint, requestTimeoutMs, ...targetOptions } = options;
  return targetClientProvider(
    (region, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined) => {
      const settings = awsClientSettings({
        region,
        ...(endpoint ? { endpoint } : {}),
        ...(credentials ? { credentials } : {}),
        ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
      });
      return new CloudHSMV2Client({
        ...settings,
        // This client's older SDK core takes a handler, not the handler's settings.
        requestHandler: new NodeHttpHandler(settings.requestHandler),
        retryStrategy: SEND_ONCE,
      });
    },
    targetOptions,
  );
}

export const NOT_CHECKABLE =
  'not checkable before a connect: kmsuser logged in (USER_LOGGED_IN: log kmsuser out of every cloudhsm-cli/cloudhsm_mgmt_util session), kmsuser missing or locked out, kmsuser password matching the store (UpdateCustomKeyStore KeyStorePassword)';

export async function probeCloudHsmCluster(
  client: CloudHSMV2Client,
  clusterId: string | undefined,
  options: { minActiveHsms: number; minAvailabilityZones: number },
): Promise<ProbeResult> {
  const result = (status: ProbeResult['status'], summary: string, evidence: Record<string, unknown>) =>
    ({
      probe: 'cloudHsmCluster',
      status,
      summary,
      evidence: { ...evidence, notChecked: NOT_CHECKABLE },
    }) satisfies ProbeResult;
  if (!clusterId) return result('error', 'the store names no CloudHSM cluster (CloudHsmClusterId)', {});
  let answer;
  try {
    answer = await client.send(new DescribeClustersCommand({ Filters: { clusterIds: [clusterId] } }));
  } catch (err) {
    const name = err instanceof Error ? err.name : 'Error';
    const message = err instanceof Error ? err.message.slice(0, 512) : String(err).slice(0, 512);
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === undefined) {
      return result('unreachable', `CloudHSM is unreachable from the worker (${name})`, {
        clusterId,
        error: name,
        message,
      });
    }
    return result(
      status === 400 && /AccessDenied/.test(name) ? 'error' : status >= 500 ? 'unreachable' : 'error',
      `DescribeClusters failed: ${name}${/AccessDenied/.test(name) ? ' (the worker or execution role needs cloudhsm:DescribeClusters)' : ''}`,
      { clusterId, error: name, message, httpStatus: status },
    );
  }
  const requestId = answer.$metadata.requestId;
  const cluster = answer.Clusters?.find((c) => c.ClusterId === clusterId);
  if (!cluster) {
    return result(
      'unhealthy',
      `cluster ${clusterId} not found (a connect would end FAILED with CLUSTER_NOT_FOUND)`,
      { clusterId, requestId },
    );
  }
  const hsms = (cluster.Hsms ?? []).map((h) => ({
    hsmId: h.HsmId,
    availabilityZone: h.AvailabilityZone,
    state: h.State,
  }));
  const active = hsms.filter((h) => h.state === 'ACTIVE');
  const zones = [...new Set(active.map((h) => h.availabilityZone).filter((z): z is string => !!z))].sort();
  const evidence = {
    clusterId,
    requestId,
    clusterState: cluster.State,
    hsms,
    activeHsms: active.length,
    availabilityZones: zones,
  };
  const want = `need ${options.minActiveHsms} ACTIVE HSM${options.minActiveHsms === 1 ? '' : 's'}${options.minAvailabilityZones > 1 ? ` in ${options.minAvailabilityZones} Availability Zones` : ''}`;
  const seen = `cluster ${clusterId} ${cluster.State ?? 'UNKNOWN'}, ${active.length} of ${hsms.length} HSMs ACTIVE in ${zones.length} Availability Zone${zones.length === 1 ? '' : 's'}${zones.length ? ` (${zones.join(', ')})` : ''}`;
  if (cluster.State !== 'ACTIVE') {
    return result('unhealthy', `${seen}; the cluster must be ACTIVE; ${want}`, evidence);
  }
  const healthy = active.length >= options.minActiveHsms && zones.length >= options.minAvailabilityZones;
  return result(healthy ? 'healthy' : 'unhealthy', `${seen}; ${want}`, evidence);
}

/**
 * `AWS_ENDPOINT_URL_CLOUDHSM_V2` (the SDK's name for the service's endpoint variable; the
 * CloudHSM v2 client in use predates the SDK reading it itself).
 */
export function cloudHsmOptionsFromEnvironment(env: NodeJS.ProcessEnv = process.env): CloudHsmClientOptions {
  const endpoint = env.AWS_ENDPOINT_URL_CLOUDHSM_V2?.trim() || env.AWS_ENDPOINT_URL?.trim();
  return endpoint ? { endpoint } : {};
}
