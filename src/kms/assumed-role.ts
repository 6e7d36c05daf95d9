/**
 * Credentials for a store in another account: STS AssumeRole of the location's execution role
 * (`arn:<partition>:iam::<account>:role/<name>`, with its `ExternalId` if the trust policy wants
 * one), made with the worker's own credentials. The SDK's provider caches the temporary
 * credentials and refreshes them before they expire; they live only in the worker's memory —
 * never in workflow input, history, logs or the audit trail, which record the role's ARN.
 *
 * A role that cannot be assumed fails the KMS call that needed it with `ExecutionRoleError`,
 * which the KMS error classifier turns into `ExecutionRoleNotAssumable` (never retried) when STS
 * refused for good (trust policy, ExternalId, unknown role), or into a retryable failure when STS
 * was throttled or unreachable.
 */
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { executionRoleArn, type KmsTarget } from '../domain/location';

/** One hour: the default maximum session of an IAM role, so no role needs a longer setting. */
export const ROLE_SESSION_SECONDS = 3_600;

/** STS answers that another attempt with the same input cannot change. */
const PERMANENT_STS_ERRORS = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'ValidationError',
  'InvalidClientTokenId',
  'MalformedPolicyDocument',
  'PackedPolicyTooLarge',
  'RegionDisabledException',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidParameterValue',
]);

export const EXECUTION_ROLE_NOT_ASSUMABLE = 'ExecutionRoleNotAssumable';

/** Assuming the execution role failed; `name` is the classifier's key (see the module comment). */
export class ExecutionRoleError extends Error {
  readonly stsError: string;
  readonly roleArn: string;
  readonly permanent: boolean;
  readonly $metadata: { requestId?: string; httpStatusCode?: number } | undefined;

  constructor(roleArn: string, sessionName: string, cause: unknown) {
    const e = (typeof cause === 'object' && cause !== null ? cause : {}) as {
      name?: unknown;
      code?: unknown;
      message?: unknown;
      $metadata?: { requestId?: string; httpStatusCode?: number };
    };
    const stsError = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
    const detail = typeof e.message === 'string' ? e.message : String(cause);
    super(
      `could not assume the execution role ${roleArn} (session ${sessionName}): ${stsError}: ${detail.trim().replace(/[.\s]+$/, '')}. Check that the role exists, that its trust policy allows the worker's account (and, if it sets one, that "externalId" matches), and that the worker may call sts:AssumeRole on it (docs/fleet.md, "Roles").`,
      { cause },
    );
    this.stsError = stsError;
    this.roleArn = roleArn;
    this.permanent = PERMANENT_STS_ERRORS.has(stsError);
    // Transient STS trouble keeps its own name, so the classifier retries it like any other.
    this.name = this.permanent ? EXECUTION_ROLE_NOT_ASSUMABLE : stsError;
    this.$metadata = e.$metadata;
  }
}

export function assumedRoleCredentials(
  target: KmsTarget,
  sessionName: string,
  options: { readonly credentials?: AwsCredentialIdentity; readonly stsEndpoint?: string },
): AwsCredentialIdentityProvider {
  const roleArn = executionRoleArn(target);
  if (roleArn === undefined) throw new Error('assumedRoleCredentials needs an account and an execution role');
  const provider = fromTemporaryCredentials({
    params: {
      RoleArn: roleArn,
      RoleSessionName: sessionName,
      DurationSeconds: ROLE_SESSION_SECONDS,
      ...(target.externalId !== undefined ? { ExternalId: target.externalId } : {}),
    },
    ...(options.credentials ? { masterCredentials: options.credentials } : {}),
    clientConfig: {
      region: target.region,
      ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
    },
  });
  return async (identityProperties) => {
    try {
      return await provider(identityProperties);
    } catch (err) {
      throw new ExecutionRoleError(roleArn, sessionName, err);
    }
  };
}
