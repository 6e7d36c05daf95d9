/** Keys (create, describe, list, enable, disable) and real crypto round-trips and refusals. */
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisconnectCustomKeyStoreCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import { createDecipheriv, createCipheriv, randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { kmsError, rawKms, useSimulator, waitFor } from './helpers';

const ACCOUNT = '444455556666';
const REGION = 'eu-central-1';
const h = useSimulator({
  account: ACCOUNT,
  region: REGION,
  connectDelayMs: 0,
  disconnectDelayMs: 0,
  consistencyLagMs: 0,
  quotaRps: 0,
});

beforeEach(async () => {
  await h.control.reset();
});

async function keyInStore(type: 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE' = 'AWS_CLOUDHSM') {
  const store = await h.control.createStore({ CustomKeyStoreType: type });
  const { KeyMetadata } = await h.kms.send(
    new CreateKeyCommand(
      type === 'AWS_CLOUDHSM'
        ? { Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: store.CustomKeyStoreId, Description: 'hsm key' }
        : { Origin: 'EXTERNAL_KEY_STORE', CustomKeyStoreId: store.CustomKeyStoreId, XksKeyId: 'ext-key-1' },
    ),
  );
  if (!KeyMetadata?.KeyId) throw new Error('no key');
  return { store, keyId: KeyMetadata.KeyId, metadata: KeyMetadata };
}

describe('CreateKey and DescribeKey', () => {
  it('creates an AWS_KMS key with complete metadata and the configured account and region', async () => {
    const { KeyMetadata } = await h.kms.send(new CreateKeyCommand({ Description: 'plain' }));
    expect(KeyMetadata?.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(KeyMetadata).toMatchObject({
      AWSAccountId: ACCOUNT,
      Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KeyMetadata?.KeyId ?? ''}`,
      Enabled: true,
      Description: 'plain',
      KeyState: 'Enabled',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      MultiRegion: false,
    });
    expect(KeyMetadata?.CreationDate).toBeInstanceOf(Date);
    expect(KeyMetadata?.CustomKeyStoreId).toBeUndefined();
  });

  it('creates keys in CloudHSM and external key stores', async () => {
    const hsm = await keyInStore('AWS_CLOUDHSM');
    expect(hsm.metadata).toMatchObject({
      Origin: 'AWS_CLOUDHSM',
      CustomKeyStoreId: hsm.store.CustomKeyStoreId,
      CloudHsmClusterId: hsm.store.CloudHsmClusterId,
    });
    expect(hsm.metadata.XksKeyConfiguration).toBeUndefined();
    const xks = await keyInStore('EXTERNAL_KEY_STORE');
    expect(xks.metadata).toMatchObject({
      Origin: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreId: xks.store.CustomKeyStoreId,
      XksKeyConfiguration: { Id: 'ext-key-1' },
    });
    expect(xks.metadata.CloudHsmClusterId).toBeUndefined();
    const reused = await kmsError(
      h.kms.send(
        new CreateKeyCommand({
          Origin: 'EXTERNAL_KEY_STORE',
          CustomKeyStoreId: xks.store.CustomKeyStoreId,
          XksKeyId: 'ext-key-1',
        }),
      ),
    );
    expect(reused.name).toBe('XksKeyAlreadyInUseException');
  });

  it.each([
    ['ValidationException', { Origin: 'AWS_CLOUDHSM' as const }],
    [
      'ValidationException',
      { Origin: 'EXTERNAL_KEY_STORE' as const, CustomKeyStoreId: 'cks-00000000000000000' },
    ],
    ['ValidationException', { CustomKeyStoreId: 'cks-00000000000000000' }],
    [
      'ValidationException',
      { KeySpec: 'SYMMETRIC_DEFAULT' as const, CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT' as const },
    ],
    [
      'CustomKeyStoreNotFoundException',
      { Origin: 'AWS_CLOUDHSM' as const, CustomKeyStoreId: 'cks-00000000000000000' },
    ],
    ['UnsupportedOperationException', { KeySpec: 'RSA_2048' as const, KeyUsage: 'SIGN_VERIFY' as const }],
    ['UnsupportedOperationException', { Origin: 'EXTERNAL' as const }],
  ])('answers %s for %j', async (name, input) => {
    expect((await kmsError(h.kms.send(new CreateKeyCommand(input)))).name).toBe(name);
  });

  it('refuses an Origin that does not match the store type', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
    const error = await kmsError(
      h.kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: store.CustomKeyStoreId })),
    );
    expect(error.name).toBe('ValidationException');
  });

  it('describes a key by key id, key ARN, alias name and alias ARN', async () => {
    const { keyId, metadata } = await keyInStore();
    await h.kms.send(new CreateAliasCommand({ AliasName: 'alias/app', TargetKeyId: keyId }));
    for (const reference of [
      keyId,
      metadata.Arn,
      'alias/app',
      `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app`,
    ]) {
      const { KeyMetadata } = await h.kms.send(new DescribeKeyCommand({ KeyId: reference }));
      expect(KeyMetadata?.KeyId).toBe(keyId);
    }
  });

  it.each([
    ['NotFoundException', '1234abcd-12ab-34cd-56ef-1234567890ab'],
    ['NotFoundException', 'not-a-key-id'],
    ['NotFoundException', 'alias/missing'],
    ['NotFoundException', `arn:aws:kms:us-west-2:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`],
    ['InvalidArnException', 'arn:aws:kms:nonsense'],
  ])('answers %s for the key reference %s', async (name, reference) => {
    expect((await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: reference })))).name).toBe(name);
  });

  it('lists keys with paging', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await h.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? '');
    const first = await h.kms.send(new ListKeysCommand({ Limit: 3 }));
    expect(first.Keys?.map((k) => k.KeyId)).toEqual(ids.slice(0, 3));
    expect(first.Keys?.[0]?.KeyArn).toBe(`arn:aws:kms:${REGION}:${ACCOUNT}:key/${ids[0] ?? ''}`);
    expect(first.Truncated).toBe(true);
    const second = await h.kms.send(new ListKeysCommand({ Limit: 3, Marker: first.NextMarker }));
    expect(second.Keys?.map((k) => k.KeyId)).toEqual(ids.slice(3));
    expect(second.Truncated).toBe(false);
  });

  it('disables and enables a key', async () => {
    const { keyId } = await keyInStore();
    await h.kms.send(new DisableKeyCommand({ KeyId: keyId }));
    expect((await h.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata).toMatchObject({
      KeyState: 'Disabled',
      Enabled: false,
    });
    const disabled = await kmsError(
      h.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })),
    );
    expect(disabled).toMatchObject({ name: 'DisabledException', status: 409 });
    await h.kms.send(new EnableKeyCommand({ KeyId: keyId }));
    expect((await h.kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState).toBe(
      'Enabled',
    );
    expect((await kmsError(h.kms.send(new EnableKeyCommand({ KeyId: 'alias/none' })))).name).toBe(
      'NotFoundException',
    );
  });
});

describe('crypto', () => {
  it('round-trips Encrypt and Decrypt, with Decrypt finding the key from the ciphertext', async () => {
    const { keyId, metadata } = await keyInStore();
    const plaintext = randomBytes(100);
    const context = { purpose: 'test', tenant: 'a' };
    const encrypted = await h.kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }),
    );
    expect(encrypted).toMatchObject({ KeyId: metadata.Arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(Buffer.from(encrypted.CiphertextBlob ?? []).includes(plaintext)).toBe(false);
    const decrypted = await h.kms.send(
      new DecryptCommand({
        CiphertextBlob: encrypted.CiphertextBlob,
        EncryptionContext: { tenant: 'a', purpose: 'test' },
      }),
    );
    expect(Buffer.from(decrypted.Plaintext ?? [])).toEqual(plaintext);
    expect(decrypted.KeyId).toBe(metadata.Arn);
    const withKey = await h.kms.send(
      new DecryptCommand({
        CiphertextBlob: encrypted.CiphertextBlob,
        EncryptionContext: context,
        KeyId: keyId,
      }),
    );
    expect(Buffer.from(withKey.Plaintext ?? [])).toEqual(plaintext);
  });

  it('generates data keys that decrypt to the same bytes and really encrypt', async () => {
    const { keyId } = await keyInStore('EXTERNAL_KEY_STORE');
    const generated = await h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
    const dataKey = Buffer.from(generated.Plaintext ?? []);
    expect(dataKey).toHaveLength(32);
    const decrypted = await h.kms.send(new DecryptCommand({ CiphertextBlob: generated.CiphertextBlob }));
    expect(Buffer.from(decrypted.Plaintext ?? [])).toEqual(dataKey);
    // Use the data key locally, as envelope encryption does.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    const sealed = Buffer.concat([cipher.update('payload'), cipher.final()]);
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(decrypted.Plaintext ?? []), iv);
    decipher.setAuthTag(cipher.getAuthTag());
    expect(Buffer.concat([decipher.update(sealed), decipher.final()]).toString()).toBe('payload');

    expect(
      (await h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_128' }))).Plaintext,
    ).toHaveLength(16);
    expect(
      (await h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 64 }))).Plaintext,
    ).toHaveLength(64);
    const withoutPlaintext = await h.kms.send(
      new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, NumberOfBytes: 16 }),
    );
    const recovered = await h.kms.send(
      new DecryptCommand({ CiphertextBlob: withoutPlaintext.CiphertextBlob }),
    );
    expect(recovered.Plaintext).toHaveLength(16);
    // The SDK would drop a stray Plaintext; the wire must not carry one.
    const wire = await rawKms(h.sim.url, {
      region: REGION,
      target: 'GenerateDataKeyWithoutPlaintext',
      body: JSON.stringify({ KeyId: keyId, NumberOfBytes: 16 }),
    });
    expect(Object.keys(wire.json).sort()).toEqual(['CiphertextBlob', 'KeyId']);
  });

  it('refuses tampered ciphertext, a different context, the wrong key and garbage', async () => {
    const { keyId } = await keyInStore();
    const other = (await h.kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const { CiphertextBlob } = await h.kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret'), EncryptionContext: { a: '1' } }),
    );
    const blob = Buffer.from(CiphertextBlob ?? []);
    const tampered = Buffer.from(blob);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 0xff;
    expect(
      (
        await kmsError(
          h.kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { a: '1' } })),
        )
      ).name,
    ).toBe('InvalidCiphertextException');
    expect(
      (
        await kmsError(
          h.kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: '2' } })),
        )
      ).name,
    ).toBe('InvalidCiphertextException');
    expect((await kmsError(h.kms.send(new DecryptCommand({ CiphertextBlob: blob })))).name).toBe(
      'InvalidCiphertextException',
    );
    expect(
      (
        await kmsError(
          h.kms.send(
            new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: '1' }, KeyId: other }),
          ),
        )
      ).name,
    ).toBe('IncorrectKeyException');
    expect((await kmsError(h.kms.send(new DecryptCommand({ CiphertextBlob: randomBytes(64) })))).name).toBe(
      'InvalidCiphertextException',
    );
  });

  it('refuses crypto while the key store is not CONNECTED, and works again once reconnected', async () => {
    const { store, keyId } = await keyInStore();
    const { CiphertextBlob } = await h.kms.send(
      new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('before') }),
    );
    await h.control.patchStore(store.CustomKeyStoreId, { disconnectDelayMs: 100 });
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    for (const call of [
      h.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') })),
      h.kms.send(new DecryptCommand({ CiphertextBlob })),
      h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })),
    ]) {
      expect(await kmsError(call)).toMatchObject({ name: 'KMSInvalidStateException', status: 409 });
    }
    await waitFor(
      () => h.control.getStore(store.CustomKeyStoreId),
      (s) => s.ConnectionState === 'DISCONNECTED',
    );
    expect((await kmsError(h.kms.send(new DecryptCommand({ CiphertextBlob })))).name).toBe(
      'KMSInvalidStateException',
    );
    await h.control.patchStore(store.CustomKeyStoreId, { ConnectionState: 'CONNECTED' });
    const { Plaintext } = await h.kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext ?? []).toString()).toBe('before');
  });

  it('validates crypto parameters', async () => {
    const { keyId } = await keyInStore();
    expect(
      (await kmsError(h.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.alloc(4097) })))).name,
    ).toBe('ValidationException');
    expect((await kmsError(h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId })))).name).toBe(
      'ValidationException',
    );
    expect(
      (
        await kmsError(
          h.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', NumberOfBytes: 32 })),
        )
      ).name,
    ).toBe('ValidationException');
    expect(
      (
        await kmsError(
          h.kms.send(
            new EncryptCommand({
              KeyId: keyId,
              Plaintext: Buffer.from('x'),
              EncryptionAlgorithm: 'RSAES_OAEP_SHA_256',
            }),
          ),
        )
      ).name,
    ).toBe('InvalidKeyUsageException');
    expect(
      (
        await kmsError(
          h.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x'), DryRun: true })),
        )
      ).name,
    ).toBe('DryRunOperationException');
  });
});
