/** The wire: authentication, parsing, unknown operations, status codes, request ids, the call log. */
import {
  CreateCustomKeyStoreCommand,
  CreateKeyCommand,
  CustomKeyStoreInvalidStateException,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSInternalException,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  CLOUDHSM_CREATE,
  clusterId,
  kmsClient,
  kmsError,
  rawKms,
  useSimulator,
  XKS_CREDENTIAL,
} from './helpers';

const h = useSimulator();

beforeEach(async () => {
  await h.control.reset();
});

describe('KMS wire protocol', () => {
  it('refuses a request without Authorization, before even parsing it', async () => {
    const response = await rawKms(h.sim.url, {
      target: 'DescribeCustomKeyStores',
      body: '{not json',
      headers: { authorization: '' },
    });
    expect(response.status).toBe(400);
    expect(response.json['__type']).toBe('MissingAuthenticationTokenException');
    expect(response.json['message']).toBe('Missing Authentication Token');
    expect(response.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a request signed for another Region, as a Region endpoint does', async () => {
    const elsewhere = kmsClient(h.sim.url, 'eu-west-1');
    const err = await kmsError(elsewhere.send(new DescribeCustomKeyStoresCommand({})));
    expect(err.name).toBe('InvalidSignatureException');
    expect(err.message).toBe("Credential should be scoped to a valid region, not 'eu-west-1'.");
    expect(err.status).toBe(400);
    // The simulator's own Region is served.
    await expect(h.kms.send(new DescribeCustomKeyStoresCommand({}))).resolves.toBeDefined();
    elsewhere.destroy();
  });

  it('answers malformed JSON and non-object bodies with SerializationException', async () => {
    for (const body of ['{"CustomKeyStoreId":', '[1,2]', '"text"']) {
      const response = await rawKms(h.sim.url, { target: 'DescribeCustomKeyStores', body });
      expect(response.status).toBe(400);
      expect(response.json['__type']).toBe('SerializationException');
    }
  });

  it('parses JSON before looking at the operation', async () => {
    const response = await rawKms(h.sim.url, { target: 'NoSuchOperation', body: '{oops' });
    expect(response.json['__type']).toBe('SerializationException');
  });

  it('answers unknown or missing operations with UnknownOperationException', async () => {
    const unknown = await rawKms(h.sim.url, { target: 'FrobnicateKey', body: '{}' });
    expect(unknown.status).toBe(400);
    expect(unknown.json['__type']).toBe('UnknownOperationException');
    const missing = await rawKms(h.sim.url, { body: '{}' });
    expect(missing.json['__type']).toBe('UnknownOperationException');
  });

  it('treats a member of the wrong JSON type as SerializationException', async () => {
    const limit = await rawKms(h.sim.url, { target: 'DescribeCustomKeyStores', body: '{"Limit":"ten"}' });
    expect(limit.json['__type']).toBe('SerializationException');
    const blob = await rawKms(h.sim.url, {
      target: 'Encrypt',
      body: JSON.stringify({ KeyId: 'alias/x', Plaintext: 'not base64!' }),
    });
    expect(blob.json['__type']).toBe('SerializationException');
  });

  it('reports missing required members and violated constraints as ValidationException, AWS style', async () => {
    const missing = await rawKms(h.sim.url, { target: 'ConnectCustomKeyStore', body: '{}' });
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      __type: 'ValidationException',
      message:
        "1 validation error detected: Value null at 'customKeyStoreId' failed to satisfy constraint: " +
        'Member must not be null',
    });
    const several = await kmsError(
      h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 0, CustomKeyStoreName: 'x'.repeat(257) })),
    );
    expect(several.name).toBe('ValidationException');
    expect(several.message).toMatch(/^2 validation errors detected: /);
    expect(several.message).toContain(
      "at 'limit' failed to satisfy constraint: Member must have value greater",
    );
    expect(several.message).toContain('Member must have length less than or equal to 256');
  });

  it('never echoes a secret in a validation message', async () => {
    const error = await kmsError(
      h.kms.send(
        new CreateCustomKeyStoreCommand({
          ...CLOUDHSM_CREATE,
          CustomKeyStoreName: 'short-password',
          CloudHsmClusterId: clusterId(),
          KeyStorePassword: 'secret',
        }),
      ),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("Value at 'keyStorePassword'");
    expect(error.message).not.toContain('secret');
  });

  it('uses the status codes of the KMS service model, and the SDK raises the modelled classes', async () => {
    let caught: unknown;
    try {
      await h.kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-4000-8000-000000000000' }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NotFoundException);
    expect((await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })))).status).toBe(404);

    const store = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    const key = await h.control
      .createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' })
      .then((connected) =>
        h.kms.send(
          new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: connected.CustomKeyStoreId }),
        ),
      );
    await h.control.patchStore(key.KeyMetadata?.CustomKeyStoreId ?? '', { ConnectionState: 'DISCONNECTED' });
    const invalidState = await kmsError(
      h.kms.send(new EncryptCommand({ KeyId: key.KeyMetadata?.KeyId, Plaintext: Buffer.from('x') })),
    );
    expect(invalidState).toMatchObject({ name: 'KMSInvalidStateException', status: 409 });

    try {
      await h.kms.send(
        new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: store.CustomKeyStoreId }),
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CustomKeyStoreInvalidStateException);

    await h.control.addFault({ operation: 'DescribeCustomKeyStores', errorType: 'KMSInternalException' });
    await h.control.addFault({ operation: 'DescribeKey', errorType: 'DependencyTimeoutException' });
    try {
      await h.kms.send(new DescribeCustomKeyStoresCommand({}));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KMSInternalException);
    expect(caught).toMatchObject({ $fault: 'server', $metadata: { httpStatusCode: 500 } });
    const timeout = await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })));
    expect(timeout).toMatchObject({ name: 'DependencyTimeoutException', status: 503 });
  });

  it('gives every response a request id, the one the SDK and the call log report', async () => {
    const ok = await h.kms.send(new DescribeCustomKeyStoresCommand({}));
    const failed = await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })));
    const calls = await h.control.calls();
    expect(calls.map((call) => call.requestId)).toEqual([ok.$metadata.requestId, failed.requestId]);
    expect(new Set(calls.map((call) => call.requestId)).size).toBe(2);
  });
});

describe('call log', () => {
  it('records every KMS request in order, refused ones too, with ISO times', async () => {
    await rawKms(h.sim.url, {
      target: 'DescribeCustomKeyStores',
      body: '{}',
      headers: { authorization: '' },
    });
    await rawKms(h.sim.url, { target: 'Nope', body: '{}' });
    await h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 5 }));
    const calls = await h.control.calls();
    expect(calls.map((call) => [call.operation, call.outcome])).toEqual([
      ['DescribeCustomKeyStores', 'MissingAuthenticationTokenException'],
      ['Nope', 'UnknownOperationException'],
      ['DescribeCustomKeyStores', 'ok'],
    ]);
    expect(calls[2]?.params).toEqual({ Limit: 5 });
    for (const call of calls) expect(new Date(call.at).toISOString()).toBe(call.at);
  });

  it('redacts Plaintext, KeyStorePassword and RawSecretAccessKey', async () => {
    await h.kms.send(
      new CreateCustomKeyStoreCommand({
        ...CLOUDHSM_CREATE,
        CustomKeyStoreName: 'redaction',
        CloudHsmClusterId: clusterId(),
      }),
    );
    await h.kms.send(
      new CreateCustomKeyStoreCommand({
        CustomKeyStoreName: 'redaction-xks',
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        XksProxyUriEndpoint: 'https://redaction.example.com',
        XksProxyUriPath: '/kms/xks/v1',
        XksProxyConnectivity: 'PUBLIC_ENDPOINT',
        XksProxyAuthenticationCredential: XKS_CREDENTIAL,
      }),
    );
    await kmsError(
      h.kms.send(new EncryptCommand({ KeyId: 'alias/none', Plaintext: Buffer.from('top secret') })),
    );
    const text = JSON.stringify(await h.control.calls());
    expect(text).not.toContain(CLOUDHSM_CREATE.KeyStorePassword);
    expect(text).not.toContain(XKS_CREDENTIAL.RawSecretAccessKey);
    expect(text).not.toContain(Buffer.from('top secret').toString('base64'));
    const calls = await h.control.calls();
    expect(calls[0]?.params['KeyStorePassword']).toBe('<redacted>');
    expect(calls[1]?.params['XksProxyAuthenticationCredential']).toEqual({
      AccessKeyId: XKS_CREDENTIAL.AccessKeyId,
      RawSecretAccessKey: '<redacted>',
    });
    expect(calls[2]?.params['Plaintext']).toBe('<redacted>');
  });

  it('filters by operation and by custom key store id', async () => {
    const a = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const b = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: a.CustomKeyStoreId }));
    await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: b.CustomKeyStoreId }));
    await kmsError(h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/none' })));
    expect(await h.control.calls({ operation: 'DescribeKey' })).toHaveLength(1);
    const forA = await h.control.calls({ customKeyStoreId: a.CustomKeyStoreId });
    expect(forA).toHaveLength(1);
    expect(forA[0]?.params['CustomKeyStoreId']).toBe(a.CustomKeyStoreId);
    await h.control.clearCalls();
    expect(await h.control.calls()).toEqual([]);
  });
});
