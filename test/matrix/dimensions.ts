/** The dimensions of the interruption matrix (no test-runner imports: the report reads them too). */
import type { Phase } from '../../src/domain/phases';

export const INTERRUPTIONS = ['abort', 'cancel', 'sigkill', 'kms-failure'] as const;
export type Interruption = (typeof INTERRUPTIONS)[number];
export const STORE_TYPES = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export const PROVIDERS = ['none', 'alias', 'webhook'] as const;
export type Provider = (typeof PROVIDERS)[number];
/**
 * A failing call: denied once (AccessDeniedException, final), denied until the run ends, a burst
 * of KMSInternalException (retryable), or an error after KMS acted (the caller cannot tell).
 */
export const FAILURES = ['denied-once', 'denied-persistent', 'burst', 'after-effect'] as const;
export type Failure = (typeof FAILURES)[number];

export interface Cell {
  readonly phase: Phase;
  readonly interruption: Interruption;
  readonly storeType: (typeof STORE_TYPES)[number];
  readonly provider: Provider;
  /** Describe shows a change this late. */
  readonly lagMs: number;
  readonly failure: Failure;
}
