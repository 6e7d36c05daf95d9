/**
 * Stable failure type names. They are the `type` of Temporal `ApplicationFailure`s raised by
 * activities and workflows, so clients, the CLI, alerts and the retry policies can match on them.
 * Renaming one breaks every caller that matches on it.
 */
export const FAILURE_TYPES = {
  /** The request is invalid; the message names every bad field. Never retried. */
  invalidRequest: 'InvalidMaintenanceRequest',
  /** DescribeCustomKeyStores does not know the store (wrong id, account or Region). */
  keyStoreNotFound: 'KeyStoreNotFound',
  /** Preflight refused to start (store already disconnected, FAILED, unsupported, canary key not in store). */
  preflightRefused: 'PreflightRefused',
  /** A gate (CloudWatch alarm, Prometheus alert, HTTP gate) was blocked: nothing was changed. */
  gateBlocked: 'GateBlocked',
  /** The store reached FAILED while we waited for CONNECTED; details carry the ConnectionErrorCode. */
  connectFailed: 'KeyStoreConnectFailed',
  /** The store did not reach the awaited state before the timeout. */
  stateTimeout: 'KeyStoreStateTimeout',
  /** KMS refused the call for lack of permission; details name the IAM action to grant. */
  accessDenied: 'KmsAccessDenied',
  /**
   * The store's execution role could not be assumed (no such role, a trust policy that does not
   * allow the worker's account, a wrong or missing ExternalId); details carry the role's ARN.
   */
  executionRoleNotAssumable: 'ExecutionRoleNotAssumable',
  /** The request names an account without a role, and the worker's own credentials are in another. */
  accountMismatch: 'AccountMismatch',
  /** KMS rejected the call's input (ValidationException and similar): a bug or a misconfiguration. */
  invalidKmsInput: 'KmsInvalidInput',
  /** The CloudHSM cluster is not usable (not active, invalid configuration). */
  cloudHsmClusterProblem: 'CloudHsmClusterProblem',
  /** A KMS error that retrying will not fix and that has no more specific type. */
  kmsNonRetryable: 'KmsNonRetryable',
  /** The canary round-trip (GenerateDataKey + Decrypt) failed. */
  canaryFailed: 'CanaryFailed',
  /** The run ended FAILED (everything it changed was undone); details carry the result. */
  maintenanceFailed: 'MaintenanceFailed',
  /** The run ended NEEDS_ATTENTION: the store did not come back and traffic stays drained. */
  needsAttention: 'NeedsAttention',
  /** Another maintenance of the same store is running; details carry its workflow id. */
  alreadyRunning: 'MaintenanceAlreadyRunning',
  /** An update was refused by its validator; the message says why and what to send instead. */
  updateRejected: 'UpdateRejected',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** Failure types that retrying the same activity cannot fix. */
export const NON_RETRYABLE_FAILURE_TYPES: readonly string[] = [
  FAILURE_TYPES.invalidRequest,
  FAILURE_TYPES.keyStoreNotFound,
  FAILURE_TYPES.preflightRefused,
  FAILURE_TYPES.gateBlocked,
  FAILURE_TYPES.connectFailed,
  FAILURE_TYPES.accessDenied,
  FAILURE_TYPES.executionRoleNotAssumable,
  FAILURE_TYPES.accountMismatch,
  FAILURE_TYPES.invalidKmsInput,
  FAILURE_TYPES.cloudHsmClusterProblem,
  FAILURE_TYPES.kmsNonRetryable,
  FAILURE_TYPES.canaryFailed,
];

/**
 * Failure types of the `audit` activity that retrying cannot fix: the writer sent a batch with a
 * hole in it (a bug), or the sink is misconfigured. A refused event is not a failure: the
 * activity writes an `audit.refused` marker in its place and reports it.
 */
export const AUDIT_FAILURE_TYPES = {
  sequenceGap: 'AuditSequenceGap',
  misconfigured: 'AuditSinkMisconfigured',
  writeFailed: 'AuditWriteFailed',
} as const;

export const AUDIT_NON_RETRYABLE_TYPES: readonly string[] = [
  AUDIT_FAILURE_TYPES.sequenceGap,
  AUDIT_FAILURE_TYPES.misconfigured,
];
