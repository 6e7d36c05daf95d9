/**
 * The one KMS error classifier. Every activity passes whatever a KMS call threw through
 * `classifyKmsError`, and raises `kmsFailure(...)` so that Temporal's retry policy sees the same
 * decision everywhere:
 *
 * - retryable: throttling, KMS internal errors, dependency timeouts, network errors and 5xx —
 *   Temporal retries the activity with backoff;
 * - non-retryable: not found, access denied, invalid input, cluster problems — an
 *   `ApplicationFailure` with a stable `type` from `FAILURE_TYPES`, never retried;
 * - invalid state (`CustomKeyStoreInvalidStateException`): the caller re-reads the store and
 *   reconciles (it usually means "already done" or "still transitioning"); it is never retried
 *   blindly.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES, type FailureType } from '../domain/errors';
import { ExecutionRoleError } from './assumed-role';

export interface KmsErrorInfo {
  /** The exception name (`ThrottlingException`) or the network error code. */
  readonly name: string;
  readonly message: string;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
}

export type KmsErrorClass =
  | ({ readonly kind: 'retryable' } & KmsErrorInfo)
  | ({ readonly kind: 'invalid-state' } & KmsErrorInfo)
  | ({ readonly kind: 'non-retryable'; readonly failureType: FailureType } & KmsErrorInfo);

const RETRYABLE = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  // Crypto on a store that has just reconnected: KMS is eventually consistent.
  'KMSInvalidStateException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

const NON_RETRYABLE: Readonly<Record<string, FailureType>> = {
  CustomKeyStoreNotFoundException: FAILURE_TYPES.keyStoreNotFound,
  AccessDeniedException: FAILURE_TYPES.accessDenied,
  // The name `ExecutionRoleError` (src/kms/assumed-role.ts) takes when STS refused for good.
  ExecutionRoleNotAssumable: FAILURE_TYPES.executionRoleNotAssumable,
  UnrecognizedClientException: FAILURE_TYPES.accessDenied,
  InvalidSignatureException: FAILURE_TYPES.accessDenied,
  IncompleteSignature: FAILURE_TYPES.accessDenied,
  MissingAuthenticationTokenException: FAILURE_TYPES.accessDenied,
  ExpiredTokenException: FAILURE_TYPES.accessDenied,
  ValidationException: FAILURE_TYPES.invalidKmsInput,
  InvalidArnException: FAILURE_TYPES.invalidKmsInput,
  InvalidMarkerException: FAILURE_TYPES.invalidKmsInput,
  InvalidAliasNameException: FAILURE_TYPES.invalidKmsInput,
  InvalidCiphertextException: FAILURE_TYPES.invalidKmsInput,
  IncorrectKeyException: FAILURE_TYPES.invalidKmsInput,
  UnknownOperationException: FAILURE_TYPES.invalidKmsInput,
  SerializationException: FAILURE_TYPES.invalidKmsInput,
  UnsupportedOperationException: FAILURE_TYPES.invalidKmsInput,
  CloudHsmClusterNotActiveException: FAILURE_TYPES.cloudHsmClusterProblem,
  CloudHsmClusterInvalidConfigurationException: FAILURE_TYPES.cloudHsmClusterProblem,
  CloudHsmClusterNotFoundException: FAILURE_TYPES.cloudHsmClusterProblem,
  CloudHsmClusterNotRelatedException: FAILURE_TYPES.cloudHsmClusterProblem,
};

function describe(err: unknown): KmsErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    $metadata?: { requestId?: string; httpStatusCode?: number };
  };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const name = code && NETWORK_CODES.has(code) ? code : typeof e.name === 'string' ? e.name : 'Error';
  return {
    name,
    message: typeof e.message === 'string' ? e.message : String(err),
    requestId: e.$metadata?.requestId,
    httpStatus: e.$metadata?.httpStatusCode,
  };
}

export function classifyKmsError(err: unknown): KmsErrorClass {
  const info = describe(err);
  if (info.name === 'CustomKeyStoreInvalidStateException') return { kind: 'invalid-state', ...info };
  if (RETRYABLE.has(info.name) || NETWORK_CODES.has(info.name)) return { kind: 'retryable', ...info };
  const failureType = NON_RETRYABLE[info.name];
  if (failureType) return { kind: 'non-retryable', failureType, ...info };
  // Unknown errors: a server-side status or no answer at all (a network failure) is worth a
  // retry; an unknown client error is not.
  if (info.httpStatus === undefined || info.httpStatus >= 500) return { kind: 'retryable', ...info };
  return { kind: 'non-retryable', failureType: FAILURE_TYPES.kmsNonRetryable, ...info };
}

export interface KmsCallContext {
  /** The KMS operation, e.g. `ConnectCustomKeyStore`. */
  readonly operation: string;
  readonly customKeyStoreId?: string;
  readonly keyId?: string;
}

/** The IAM action a denied call needs, e.g. `kms:ConnectCustomKeyStore`. */
export function iamActionFor(operation: string): string {
  return `kms:${operation}`;
}

/**
 * Turns a KMS error into the `ApplicationFailure` an activity throws: retryable or not per the
 * classification, with a message that says what failed, on what, and what to do.
 */
/** A far side's message as one sentence: trimmed, ending in exactly one period. */
function sentence(message: string): string {
  return `${message.trim().replace(/[.\s]+$/, '')}.`;
}

export function kmsFailure(err: unknown, context: KmsCallContext): ApplicationFailure {
  const c = classifyKmsError(err);
  const target = context.customKeyStoreId ?? context.keyId;
  const where = `${context.operation}${target ? ` on ${target}` : ''}`;
  const details = {
    operation: context.operation,
    exception: c.name,
    requestId: c.requestId,
    ...(err instanceof ExecutionRoleError ? { roleArn: err.roleArn, stsError: err.stsError } : {}),
    ...(c.kind === 'non-retryable' && c.failureType === FAILURE_TYPES.accessDenied
      ? { iamAction: iamActionFor(context.operation) }
      : {}),
  };
  if (c.kind === 'non-retryable') {
    let hint = '';
    if (c.failureType === FAILURE_TYPES.accessDenied) {
      hint = ` Grant ${iamActionFor(context.operation)} to the worker's IAM role (see docs/iam-policy.json).`;
    } else if (c.failureType === FAILURE_TYPES.keyStoreNotFound) {
      hint = ' Check the id, and that the worker uses the account and Region that own the store.';
    }
    return ApplicationFailure.create({
      type: c.failureType,
      message: `${where} failed: ${c.name}: ${sentence(c.message)}${hint}`,
      nonRetryable: true,
      details: [details],
    });
  }
  return ApplicationFailure.create({
    type: c.kind === 'invalid-state' ? 'CustomKeyStoreInvalidState' : c.name,
    message: `${where} failed: ${c.name}: ${c.message}`,
    nonRetryable: false,
    details: [details],
  });
}
