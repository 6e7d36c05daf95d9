/**
 * The canary: proof that the reconnected store really serves cryptography before traffic
 * returns (`CONNECTED` only says the connection succeeded). GenerateDataKey with a key in the
 * store, Decrypt the returned ciphertext, compare. The plaintext is compared in constant time,
 * zeroed, and never logged, returned or audited.
 */
import { timingSafeEqual } from 'node:crypto';
import { DecryptCommand, DescribeKeyCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/domain/errors';
import { roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import type { KmsClientProvider } from '../src/kms/client';
import { kmsFailure } from '../src/kms/errors';

export interface CanaryInput extends KmsTarget {
  readonly customKeyStoreId: string;
  readonly keyId: string;
}

export interface CanaryOutcome {
  readonly ok: true;
  readonly generateRequestId: string | undefined;
  readonly decryptRequestId: string | undefined;
}

export function createHealthActivities(deps: { readonly kms: KmsClientProvider }) {
  /** Preflight: the canary key must exist and live in this store. */
  async function checkCanaryKey(
    input: CanaryInput,
  ): Promise<{ keyArn: string; requestId: string | undefined }> {
    const kms = deps.kms(input, roleSessionNameFor(input.customKeyStoreId));
    let out;
    try {
      out = await kms.send(new DescribeKeyCommand({ KeyId: input.keyId }));
    } catch (err) {
      if ((err as { name?: unknown }).name === 'NotFoundException') {
        throw ApplicationFailure.nonRetryable(
          `canaryKeyId ${input.keyId} was not found in ${input.region}; give a key id of a key in ${input.customKeyStoreId}`,
          FAILURE_TYPES.preflightRefused,
        );
      }
      throw kmsFailure(err, { operation: 'DescribeKey', keyId: input.keyId });
    }
    const meta = out.KeyMetadata;
    if (meta?.CustomKeyStoreId !== input.customKeyStoreId) {
      throw ApplicationFailure.nonRetryable(
        `canaryKeyId ${input.keyId} is not a key in ${input.customKeyStoreId} (it is in ${meta?.CustomKeyStoreId ?? 'the AWS-managed key store'}); give a key from the store being maintained`,
        FAILURE_TYPES.preflightRefused,
      );
    }
    return { keyArn: meta.Arn ?? input.keyId, requestId: out.$metadata.requestId };
  }

  async function canaryRoundTrip(input: CanaryInput): Promise<CanaryOutcome> {
    const kms = deps.kms(input, roleSessionNameFor(input.customKeyStoreId));
    let generated;
    try {
      generated = await kms.send(new GenerateDataKeyCommand({ KeyId: input.keyId, KeySpec: 'AES_256' }));
    } catch (err) {
      throw kmsFailure(err, { operation: 'GenerateDataKey', keyId: input.keyId });
    }
    const plaintext = generated.Plaintext;
    try {
      if (!plaintext || !generated.CiphertextBlob) {
        throw ApplicationFailure.nonRetryable(
          `GenerateDataKey with ${input.keyId} returned no data key`,
          FAILURE_TYPES.canaryFailed,
        );
      }
      let decrypted;
      try {
        decrypted = await kms.send(
          new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob, KeyId: input.keyId }),
        );
      } catch (err) {
        throw kmsFailure(err, { operation: 'Decrypt', keyId: input.keyId });
      }
      const roundTripped = decrypted.Plaintext;
      try {
        const same =
          roundTripped !== undefined &&
          roundTripped.length === plaintext.length &&
          timingSafeEqual(Buffer.from(roundTripped), Buffer.from(plaintext));
        if (!same) {
          throw ApplicationFailure.nonRetryable(
            `canary with ${input.keyId}: Decrypt did not return the data key that GenerateDataKey produced`,
            FAILURE_TYPES.canaryFailed,
          );
        }
      } finally {
        roundTripped?.fill(0);
      }
      return {
        ok: true,
        generateRequestId: generated.$metadata.requestId,
        decryptRequestId: decrypted.$metadata.requestId,
      };
    } finally {
      plaintext?.fill(0);
    }
  }

  return { checkCanaryKey, canaryRoundTrip };
}
