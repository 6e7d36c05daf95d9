/**
 * One custom-key-store API call within the worker's KMS budget (src/kms/rate-limit.ts): every
 * DescribeCustomKeyStores, ConnectCustomKeyStore and DisconnectCustomKeyStore an activity makes
 * goes through here, under the budget of its (account, Region, operation). Without a gate (budget
 * off) the call is made at once.
 *
 * Here, too, each call is counted by outcome (`kms_calls_total`) and its wait for a permit timed
 * (`kms_budget_wait_seconds`): measured around the gate, so the gate itself is unchanged. The
 * shared poller's listings pass through `gatedKmsCall` and `countedKmsCall` as well. And each call
 * is a `kms.<Operation>` span with its request id, when tracing is on (src/tracing.ts).
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/domain/errors';
import { accountRegionKey, type KmsTarget } from '../src/domain/location';
import type { CallerAccountProvider } from '../src/kms/caller-account';
import type { KmsClientProvider } from '../src/kms/client';
import { classifyKmsError } from '../src/kms/errors';
import type { GateWaitOptions, KmsCallGate } from '../src/kms/rate-limit';
import type { KmsCallOutcome, MetricsRecorder } from '../src/metrics/recorder';
import { projectTracer } from '../src/tracing';

export interface KmsCallDeps {
  readonly kms: KmsClientProvider;
  /**
   * The worker's own account, for requests that name an account without an execution role;
   * undefined: such requests are refused (the account cannot be checked).
   */
  readonly callerAccount?: CallerAccountProvider | undefined;
  /** The worker process's gate; undefined when the budget is off. */
  readonly kmsGate?: KmsCallGate | undefined;
  /** The worker's metrics (never throwing); undefined records nothing. */
  readonly metrics?: MetricsRecorder | undefined;
}

/** The custom-key-store operations the budget counts, each with its own KMS quota. */
export type BudgetedOperation =
  'DescribeCustomKeyStores' | 'ConnectCustomKeyStore' | 'DisconnectCustomKeyStore';

/** The gate's key for an operation in a target's account and Region: `<account|self>/<region>/<op>`. */
export function budgetKey(target: KmsTarget, operation: BudgetedOperation): string {
  return `${accountRegionKey(target)}/${operation}`;
}

export interface BudgetedCall {
  readonly target: KmsTarget;
  readonly operation: BudgetedOperation;
  /** The role session name, when the target's execution role is assumed (CloudTrail shows it). */
  readonly sessionName?: string | undefined;
  /**
   * What to do every few seconds while waiting for a permit; by default a heartbeat without
   * details. A waiting activity passes its own, to keep its resume details.
   */
  readonly whileQueued?: (() => void) | undefined;
  /** `poll` for the polls of a waiting activity (served after one-off calls). */
  readonly priority?: 'call' | 'poll';
}

/**
 * Waits for a permit (heartbeating meanwhile, so a long queue is not mistaken for a dead worker,
 * and giving up when the activity is cancelled), then makes the call.
 */
export async function budgetedKmsCall<T>(
  deps: KmsCallDeps,
  request: BudgetedCall,
  call: (kms: KMSClient) => Promise<T>,
): Promise<T> {
  await checkOwnAccount(deps, request.target);
  const kms = deps.kms(request.target, request.sessionName);
  const gate = deps.kmsGate;
  if (!gate) return countedKmsCall(deps.metrics, request.operation, () => call(kms), request.target.region);
  const ctx = Context.current();
  return gatedKmsCall(gate, deps.metrics, request.target, request.operation, () => call(kms), {
    signal: ctx.cancellationSignal,
    priority: request.priority ?? 'call',
    whileQueued: request.whileQueued ?? (() => ctx.heartbeat()),
  });
}

/** `gate.run` for the operation's key, with the wait for a permit and the outcome recorded. */
export async function gatedKmsCall<T>(
  gate: KmsCallGate,
  metrics: MetricsRecorder | undefined,
  target: KmsTarget,
  operation: BudgetedOperation,
  call: () => Promise<T>,
  options: GateWaitOptions,
): Promise<T> {
  const queuedAt = performance.now();
  let sent = false;
  try {
    return await gate.run(
      budgetKey(target, operation),
      () => {
        sent = true;
        metrics?.kmsBudgetWait(operation, (performance.now() - queuedAt) / 1000);
        return countedKmsCall(metrics, operation, call, target.region);
      },
      options,
    );
  } catch (err) {
    if (!sent) metrics?.kmsCall(operation, 'not_sent');
    throw err;
  }
}

/**
 * Makes the call, counts its outcome and traces it (`kms.<Operation>`, when tracing is on); what
 * it answers or throws passes through unchanged.
 */
export async function countedKmsCall<T>(
  metrics: MetricsRecorder | undefined,
  operation: BudgetedOperation,
  call: () => Promise<T>,
  region?: string,
): Promise<T> {
  const span = startKmsSpan(operation, region);
  try {
    const answer = await call();
    metrics?.kmsCall(operation, 'ok');
    endKmsSpan(span, { ok: true, answer });
    return answer;
  } catch (err) {
    metrics?.kmsCall(operation, kmsCallOutcome(err));
    endKmsSpan(span, { ok: false, err });
    throw err;
  }
}

/**
 * A client span for one KMS call, child of the activity's span. Tracing is a side channel: a span
 * that cannot be made or ended is dropped, never a reason to fail or delay the call.
 */
function startKmsSpan(operation: BudgetedOperation, region: string | undefined): Span | undefined {
  try {
    return projectTracer().startSpan(`kms.${operation}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'aws.service': 'kms',
        'aws.operation': operation,
        ...(region !== undefined ? { 'aws.region': region } : {}),
      },
    });
  } catch {
    return undefined;
  }
}

function endKmsSpan(
  span: Span | undefined,
  outcome: { ok: true; answer: unknown } | { ok: false; err: unknown },
): void {
  if (!span) return;
  try {
    // CloudTrail and AWS Support find a call by this id; errors carry it as answers do.
    const requestId = requestIdOf(outcome.ok ? outcome.answer : outcome.err);
    if (requestId !== undefined) span.setAttribute('aws.request_id', requestId);
    if (!outcome.ok) {
      const { err } = outcome;
      span.setAttribute('error.type', err instanceof Error ? err.name : typeof err);
      span.setStatus({
        code: SpanStatusCode.ERROR,
        ...(err instanceof Error ? { message: err.message } : {}),
      });
    }
    span.end();
  } catch {
    // A broken tracer loses this span only.
  }
}

/** `$metadata.requestId` of an AWS SDK answer or service exception, when it has one. */
function requestIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('$metadata' in value)) return undefined;
  const metadata: unknown = value.$metadata;
  if (typeof metadata !== 'object' || metadata === null || !('requestId' in metadata)) return undefined;
  return typeof metadata.requestId === 'string' ? metadata.requestId : undefined;
}

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException']);

function kmsCallOutcome(err: unknown): KmsCallOutcome {
  const c = classifyKmsError(err);
  if (THROTTLING.has(c.name)) return 'throttled';
  if (c.kind === 'invalid-state') return 'invalid_state';
  return c.kind === 'retryable' ? 'retryable_error' : 'error';
}

/**
 * A target with an account but no execution role is reached with the worker's own credentials,
 * which must then be in that account: otherwise the run would act on another account's store of
 * the same id (store ids are random, but nothing should rest on that) under the wrong lock.
 */
export async function checkOwnAccount(deps: KmsCallDeps, target: KmsTarget): Promise<void> {
  if (target.account === undefined || target.executionRole !== undefined) return;
  if (!deps.callerAccount) {
    throw ApplicationFailure.nonRetryable(
      `the request names account ${target.account} without an execution role, and this worker cannot check which account its own credentials are in; add "executionRole", or drop "account" to use the worker's own account`,
      FAILURE_TYPES.accountMismatch,
    );
  }
  let own: string;
  try {
    own = await deps.callerAccount(target.region);
  } catch (err) {
    throw ApplicationFailure.retryable(
      `could not ask STS which account the worker's credentials are in: ${err instanceof Error ? err.message : String(err)}`,
      'CallerIdentityUnavailable',
    );
  }
  if (own !== target.account) {
    throw ApplicationFailure.nonRetryable(
      `the request names account ${target.account} without an execution role, but the worker's own credentials are in account ${own}; add "executionRole" (a role in ${target.account} the worker may assume), or drop "account"`,
      FAILURE_TYPES.accountMismatch,
      { requested: target.account, worker: own },
    );
  }
}
