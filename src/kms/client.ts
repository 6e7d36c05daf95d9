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
import {
  DEFAULT_ROLE_SESSION_NAME,
  awsClientSettings,
  targetClientProvider,
  type AwsClientConfig,
  type TargetClientOptions,
  type TargetClientProvider,
} from '../aws/target-clients';

export type KmsClientConfig = AwsClientConfig;

export function createKmsClient(config: KmsClientConfig): KMSClient {
  return new KMSClient(awsClientSettings(config));
}

/**
 * The KMS client for a target: the worker's own credentials in the target's Region, or the
 * target's execution role, assumed under `sessionName` (which CloudTrail shows in the store's
 * account). Clients are reused (src/aws/target-clients.ts).
 */
export type KmsClientProvider = TargetClientProvider<KMSClient>;

export interface KmsClientProviderOptions
  extends Omit<KmsClientConfig, 'region' | 'credentials'>, TargetClientOptions {}

export { DEFAULT_ROLE_SESSION_NAME };

export function kmsClientProvider(options: KmsClientProviderOptions = {}): KmsClientProvider {
  const { stsEndpoint, maxClients, credentials, ...config } = options;
  return targetClientProvider(
    (region, clientCredentials) =>
      createKmsClient({
        ...config,
        region,
        ...(clientCredentials ? { credentials: clientCredentials } : {}),
      }),
    {
      ...(credentials ? { credentials } : {}),
      ...(stsEndpoint ? { stsEndpoint } : {}),
      ...(maxClients !== undefined ? { maxClients } : {}),
    },
  );
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
