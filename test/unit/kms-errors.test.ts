import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../../src/domain/errors';
import { classifyKmsError, kmsFailure } from '../../src/kms/errors';

function awsError(name: string, httpStatusCode: number, requestId = 'req-1') {
  return Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode, requestId } });
}

describe('classifyKmsError', () => {
  it.each(['ThrottlingException', 'KMSInternalException', 'DependencyTimeoutException'])(
    '%s is retryable',
    (name) => {
      expect(classifyKmsError(awsError(name, name === 'ThrottlingException' ? 400 : 500)).kind).toBe(
        'retryable',
      );
    },
  );

  it('network errors and unknown 5xx are retryable', () => {
    expect(
      classifyKmsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).kind,
    ).toBe('retryable');
    expect(classifyKmsError(awsError('SomethingNew', 502)).kind).toBe('retryable');
  });

  it('invalid state is reconciled, not retried', () => {
    expect(classifyKmsError(awsError('CustomKeyStoreInvalidStateException', 400)).kind).toBe('invalid-state');
  });

  it.each([
    ['CustomKeyStoreNotFoundException', FAILURE_TYPES.keyStoreNotFound],
    ['AccessDeniedException', FAILURE_TYPES.accessDenied],
    ['ValidationException', FAILURE_TYPES.invalidKmsInput],
    ['CloudHsmClusterNotActiveException', FAILURE_TYPES.cloudHsmClusterProblem],
    ['SomethingNew', FAILURE_TYPES.kmsNonRetryable],
  ])('%s is non-retryable as %s', (name, type) => {
    const c = classifyKmsError(awsError(name, 400));
    expect(c).toMatchObject({ kind: 'non-retryable', failureType: type, requestId: 'req-1' });
  });
});

describe('kmsFailure', () => {
  it('names the IAM action to grant on access denied', () => {
    const failure = kmsFailure(awsError('AccessDeniedException', 400), {
      operation: 'ConnectCustomKeyStore',
      customKeyStoreId: 'cks-0123456789abcdef0',
    });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe(FAILURE_TYPES.accessDenied);
    expect(failure.message).toMatch(/ConnectCustomKeyStore on cks-0123456789abcdef0 failed/);
    expect(failure.message).toMatch(/Grant kms:ConnectCustomKeyStore/);
  });

  it('keeps retryable errors retryable', () => {
    const failure = kmsFailure(awsError('ThrottlingException', 400), {
      operation: 'DescribeCustomKeyStores',
    });
    expect(failure.nonRetryable).toBe(false);
    expect(failure.type).toBe('ThrottlingException');
  });
});

describe('kmsFailure messages', () => {
  it('read as one sentence: a far side message ending in a period gets no second one', () => {
    const notFound = Object.assign(
      new Error('Custom key store cks-0000000000000dead does not exist in this account and Region.'),
      { name: 'CustomKeyStoreNotFoundException', $metadata: { httpStatusCode: 400, requestId: 'r' } },
    );
    const failure = kmsFailure(notFound, {
      operation: 'DescribeCustomKeyStores',
      customKeyStoreId: 'cks-0000000000000dead',
    });
    expect(failure.message).toBe(
      'DescribeCustomKeyStores on cks-0000000000000dead failed: CustomKeyStoreNotFoundException: Custom key store cks-0000000000000dead does not exist in this account and Region. Check the id, and that the worker uses the account and Region that own the store.',
    );
    expect(failure.message).not.toContain('..');
  });
});
