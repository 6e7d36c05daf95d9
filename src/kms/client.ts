/**
 * The one place KMS clients are made. Region and endpoint come from configuration or from the
 * AWS SDK's standard settings (`AWS_REGION`, `AWS_ENDPOINT_URL_KMS`), credentials from the
 * default provider chain unless given. A store in another account is reached through its
 * execution role: STS AssumeRole with the worker's own credentials (`src/kms/assumed-role.ts`).
 *
 * SDK retries are off (`maxAttempts: 1`) on purpose: Temporal retries activities with its own
 * backoff, visible in the run's history, and the waiting activity counts and absorbs throttled
 * polls itself. Two retry layers would multiply calls against a 5-requests-per-second quota.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { KmsTarget } from '../domain/location';
import { assumedRoleCredentials } from './assumed-role';

export interface KmsClientConfig {
  readonly region: string;
  /** Overrides `AWS_ENDPOINT_URL_KMS`; e.g. the simulator's URL. */
  readonly endpoint?: string;
  /** Defaults to the SDK's provider chain (env, shared config, SSO, IMDS, ...). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Per-request timeout (default 10 s), so a hung connection cannot hold an activity. */
  readonly requestTimeoutMs?: number;
}

export function createKmsClient(config: KmsClientConfig): KMSClient {
  return new KMSClient({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: config.requestTimeoutMs ?? 10_000 },
  });
}

/**
 * The KMS client for a target: the worker's own credentials in the target's Region, or the
 * target's execution role, assumed under `sessionName` (which CloudTrail shows in the store's
 * account). Clients are reused; each holds a connection pool and, for a role, its cached
 * temporary credentials, which the SDK refreshes before they expire.
 */
export type KmsClientProvider = (target: KmsTarget, sessionName?: string) => KMSClient;

export interface KmsClientProviderOptions extends Omit<KmsClientConfig, 'region' | 'credentials'> {
  /** The worker's own credentials; also what assumes execution roles. */
  readonly credentials?: AwsCredentialIdentity;
  /** Overrides `AWS_ENDPOINT_URL_STS` for AssumeRole; e.g. the simulator's URL. */
  readonly stsEndpoint?: string;
  /** How many clients to keep (least recently used go first); default 512. */
  readonly maxClients?: number;
}

/** The session name of calls made without one (the worker's own tools, not one store's run). */
export const DEFAULT_ROLE_SESSION_NAME = 'keystore-maint';

export function kmsClientProvider(options: KmsClientProviderOptions = {}): KmsClientProvider {
  const { stsEndpoint, maxClients = 512, credentials, ...config } = options;
  const clients = new Map<string, KMSClient>();
  return (target, sessionName = DEFAULT_ROLE_SESSION_NAME) => {
    const roleArnKey =
      target.account !== undefined && target.executionRole !== undefined
        ? `${target.account}:${target.executionRole}:${target.externalId ?? ''}:${sessionName}`
        : '';
    const key = `${target.region}|${roleArnKey}`;
    let client = clients.get(key);
    if (client) {
      // Most recently used last: the Map's order is the eviction order.
      clients.delete(key);
      clients.set(key, client);
      return client;
    }
    const roleCredentials =
      roleArnKey === ''
        ? undefined
        : assumedRoleCredentials(target, sessionName, {
            ...(credentials ? { credentials } : {}),
            ...(stsEndpoint ? { stsEndpoint } : {}),
          });
    client = createKmsClient({
      ...config,
      region: target.region,
      ...(roleCredentials ? { credentials: roleCredentials } : credentials ? { credentials } : {}),
    });
    clients.set(key, client);
    // A client still in use by an activity keeps working after eviction: nothing is destroyed,
    // the reference is only dropped, and its idle connections close with it.
    while (clients.size > maxClients) {
      const oldest = clients.keys().next().value;
      if (oldest === undefined) break;
      clients.delete(oldest);
    }
    return client;
  };
}

/** The Region from the standard AWS settings, or a clear error saying how to set it. */
export function regionFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new Error(
      'No AWS Region configured: set AWS_REGION (e.g. AWS_REGION=us-east-1) or put "region" in the maintenance request.',
    );
  }
  return region;
}
