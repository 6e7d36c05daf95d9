/**
 * Encrypt, Decrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext with real AES-GCM (see
 * `crypto.ts`). A key in a custom key store that is not `CONNECTED` is `Unavailable` and every one
 * of these fails with `KMSInvalidStateException`; a disabled key fails with `DisabledException`.
 * `DryRun: true` answers `DryRunOperationException` when the call would have succeeded.
 */
import { DataKeySpec, EncryptionAlgorithmSpec } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { open, parseBlob, seal } from '../crypto';
import { assertUsableForCrypto, keyArn, resolveKey } from '../keys';
import type { KeyRecord } from '../model';
import { KmsError, toBase64 } from '../protocol';
import type { KmsScope } from '../scope';
import { encryptionContextSchema, grantTokensSchema, keyIdSchema, modelBlob } from '../validation';
import { defineOperation } from './define';

const algorithmSchema = z.enum(Object.values(EncryptionAlgorithmSpec));

function assertSymmetricAlgorithm(algorithm: string | undefined): void {
  if (algorithm !== undefined && algorithm !== 'SYMMETRIC_DEFAULT') {
    throw new KmsError(
      'InvalidKeyUsageException',
      `${algorithm} is not a valid encryption algorithm for a symmetric encryption KMS key.`,
    );
  }
}

function assertNotDryRun(dryRun: boolean | undefined): void {
  if (dryRun === true) {
    throw new KmsError(
      'DryRunOperationException',
      'The request would have succeeded, but the DryRun option is set.',
    );
  }
}

function usableKey(sim: KmsScope, keyId: string): KeyRecord {
  const key = resolveKey(sim.state, sim.arn, keyId);
  assertUsableForCrypto(sim.arn, key, sim.storeOfKey(key));
  return key;
}

export const encrypt = defineOperation(
  z.object({
    KeyId: keyIdSchema,
    Plaintext: modelBlob(1, 4096),
    EncryptionContext: encryptionContextSchema.optional(),
    GrantTokens: grantTokensSchema.optional(),
    EncryptionAlgorithm: algorithmSchema.optional(),
    DryRun: z.boolean().optional(),
  }),
  (sim, input) => {
    const key = usableKey(sim, input.KeyId);
    assertSymmetricAlgorithm(input.EncryptionAlgorithm);
    assertNotDryRun(input.DryRun);
    return {
      CiphertextBlob: toBase64(seal(key.id, key.secret, input.Plaintext, input.EncryptionContext)),
      KeyId: keyArn(sim.arn, key.id),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
);

const generateDataKeySchema = z.object({
  KeyId: keyIdSchema,
  EncryptionContext: encryptionContextSchema.optional(),
  NumberOfBytes: z.int().min(1).max(1024).optional(),
  KeySpec: z.enum(Object.values(DataKeySpec)).optional(),
  GrantTokens: grantTokensSchema.optional(),
  DryRun: z.boolean().optional(),
});

function generateDataKey(withPlaintext: boolean) {
  return defineOperation(generateDataKeySchema, (sim, input) => {
    if (input.NumberOfBytes !== undefined && input.KeySpec !== undefined) {
      throw new KmsError('ValidationException', 'Specify either KeySpec or NumberOfBytes, not both.');
    }
    if (input.NumberOfBytes === undefined && input.KeySpec === undefined) {
      throw new KmsError('ValidationException', 'Specify either KeySpec or NumberOfBytes.');
    }
    const key = usableKey(sim, input.KeyId);
    assertNotDryRun(input.DryRun);
    const size = input.NumberOfBytes ?? (input.KeySpec === 'AES_128' ? 16 : 32);
    const dataKey = randomBytes(size);
    return {
      CiphertextBlob: toBase64(seal(key.id, key.secret, dataKey, input.EncryptionContext)),
      Plaintext: withPlaintext ? toBase64(dataKey) : undefined,
      KeyId: keyArn(sim.arn, key.id),
    };
  });
}

export const generateDataKeyWithPlaintext = generateDataKey(true);
export const generateDataKeyWithoutPlaintext = generateDataKey(false);

export const decrypt = defineOperation(
  z.object({
    CiphertextBlob: modelBlob(1, 6144),
    EncryptionContext: encryptionContextSchema.optional(),
    GrantTokens: grantTokensSchema.optional(),
    KeyId: keyIdSchema.optional(),
    EncryptionAlgorithm: algorithmSchema.optional(),
    DryRun: z.boolean().optional(),
  }),
  (sim, input) => {
    const parsed = parseBlob(input.CiphertextBlob);
    if (!parsed) throw invalidCiphertext();
    const named = input.KeyId !== undefined ? resolveKey(sim.state, sim.arn, input.KeyId) : undefined;
    const key = sim.state.keys.get(parsed.keyId);
    // The blob names a key this account does not have: KMS cannot tell it from garbage.
    if (!key) throw invalidCiphertext();
    if (named && named.id !== key.id) {
      throw new KmsError(
        'IncorrectKeyException',
        `The ciphertext was not encrypted under ${keyArn(sim.arn, named.id)}.`,
      );
    }
    assertUsableForCrypto(sim.arn, key, sim.storeOfKey(key));
    assertSymmetricAlgorithm(input.EncryptionAlgorithm);
    const plaintext = open(parsed, key.secret, input.EncryptionContext);
    if (!plaintext) throw invalidCiphertext();
    assertNotDryRun(input.DryRun);
    return {
      KeyId: keyArn(sim.arn, key.id),
      Plaintext: toBase64(plaintext),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  },
);

function invalidCiphertext(): KmsError {
  return new KmsError(
    'InvalidCiphertextException',
    'The ciphertext is invalid, was changed, or its encryption context does not match.',
  );
}
