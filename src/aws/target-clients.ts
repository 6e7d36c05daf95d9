/**
 * AWS clients per target (Region, and the account's execution role when there is one), made
 * once and reused: each holds a connection pool and, for a role, its cached temporary
 * credentials, which the SDK refreshes before they expire. KMS, CloudHSM and CloudWatch clients
 * all reach a store's account the same way, so they share this one cache rule.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { KmsTarget } from '../domain/location';
import { assumedRoleCredentials } from '../kms/assumed-role';

/** What every AWS client of the worker is made from. */
export interface AwsClientConfig {
  readonly region: string;
  /** Overrides the service's `AWS_ENDPOINT_URL_<SERVICE>`; e.g. the simulator's URL. */
  readonly endpoint?: string;
  /** Defaults to the SDK's provider chain (env, shared config, SSO, IMDS, ...). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Per-request timeout (default 10 s), so a hung connection cannot hold an activity. */
  readonly requestTimeoutMs?: number;
}

/**
 * The settings every client shares: SDK retries off (Temporal retries activities, with backoff
 * visible in the history; two layers would multiply calls against KMS's quotas) and bounded
 * connection and request times.
 */
export function awsClientSettings(config: AwsClientConfig) {
  return {
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: config.requestTimeoutMs ?? 10_000 },
  };
}

/** The session name of calls made without one (the worker's own tools, not one store's run). */
export const DEFAULT_ROLE_SESSION_NAME = 'keystore-maint';

export interface TargetClientOptions {
  /** The worker's own credentials; also what assumes execution roles. */
  readonly credentials?: AwsCredentialIdentity;
  /** Overrides `AWS_ENDPOINT_URL_STS` for AssumeRole; e.g. the simulator's URL. */
  readonly stsEndpoint?: string;
  /** How many clients to keep (least recently used go first); default 512. */
  readonly maxClients?: number;
}

export type TargetClientProvider<C> = (target: KmsTarget, sessionName?: string) => C;

/**
 * `make(region, credentials)` builds a client; `credentials` is undefined when the SDK's default
 * chain should be used (no role, none given).
 */
export function targetClientProvider<C>(
  make: (region: string, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined) => C,
  options: TargetClientOptions = {},
): TargetClientProvider<C> {
  const { stsEndpoint, maxClients = 512, credentials } = options;
  const clients = new Map<string, C>();
  return (target, sessionName = DEFAULT_ROLE_SESSION_NAME) => {
    const roleArnKey =
      target.account !== undefined && target.executionRole !== undefined
        ? `${target.account}:${target.executionRole}:${target.externalId ?? ''}:${sessionName}`
        : '';
    const key = `${target.region}|${roleArnKey}`;
    let client = clients.get(key);
    if (client !== undefined) {
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
    client = make(target.region, roleCredentials ?? credentials);
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
