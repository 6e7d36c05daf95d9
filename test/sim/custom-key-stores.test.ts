/** Creating, describing (with paging), updating and deleting custom key stores. */
import {
  ConnectCustomKeyStoreCommand,
  CreateCustomKeyStoreCommand,
  type CreateCustomKeyStoreCommandInput,
  CreateKeyCommand,
  DeleteCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DisconnectCustomKeyStoreCommand,
  UpdateCustomKeyStoreCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { CLOUDHSM_CREATE, clusterId, kmsError, useSimulator, XKS_CREDENTIAL } from './helpers';

// No quota here: these tests create stores faster than 5 per second; quota.test.ts covers it.
// Paging is proven over more stores than KMS's 10 per account and Region (see limits in
// accounts-regions.test.ts), so this file lifts the limit.
const h = useSimulator({
  connectDelayMs: 0,
  disconnectDelayMs: 0,
  consistencyLagMs: 0,
  quotaRps: 0,
  storeLimit: 0,
});

beforeEach(async () => {
  await h.control.reset();
});

let xksCounter = 0;
function xksInput(
  overrides: Partial<CreateCustomKeyStoreCommandInput> = {},
): CreateCustomKeyStoreCommandInput {
  xksCounter += 1;
  return {
    CustomKeyStoreName: `xks-${xksCounter}`,
    CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
    XksProxyUriEndpoint: `https://proxy-${xksCounter}.example.com`,
    XksProxyUriPath: '/example/kms/xks/v1',
    XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    XksProxyAuthenticationCredential: XKS_CREDENTIAL,
    ...overrides,
  };
}

function cloudHsmInput(
  overrides: Partial<CreateCustomKeyStoreCommandInput> = {},
): CreateCustomKeyStoreCommandInput {
  return {
    ...CLOUDHSM_CREATE,
    CustomKeyStoreName: `hsm-${clusterId()}`,
    CloudHsmClusterId: clusterId(),
    ...overrides,
  };
}

async function describeOne(id: string | undefined) {
  const { CustomKeyStores } = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  expect(CustomKeyStores).toHaveLength(1);
  return CustomKeyStores?.[0];
}

describe('CreateCustomKeyStore', () => {
  it('creates a CloudHSM key store, DISCONNECTED, with a real-looking id', async () => {
    const input = cloudHsmInput();
    const { CustomKeyStoreId } = await h.kms.send(new CreateCustomKeyStoreCommand(input));
    expect(CustomKeyStoreId).toMatch(/^cks-[0-9a-f]{17}$/);
    const store = await describeOne(CustomKeyStoreId);
    expect(store).toMatchObject({
      CustomKeyStoreId,
      CustomKeyStoreName: input.CustomKeyStoreName,
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CloudHsmClusterId: input.CloudHsmClusterId,
      TrustAnchorCertificate: input.TrustAnchorCertificate,
      ConnectionState: 'DISCONNECTED',
    });
    expect(store?.ConnectionErrorCode).toBeUndefined();
    expect(store?.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs((store?.CreationDate?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
  });

  it('defaults CustomKeyStoreType to AWS_CLOUDHSM', async () => {
    const { CustomKeyStoreType: _omit, ...input } = cloudHsmInput();
    const { CustomKeyStoreId } = await h.kms.send(new CreateCustomKeyStoreCommand(input));
    expect((await describeOne(CustomKeyStoreId))?.CustomKeyStoreType).toBe('AWS_CLOUDHSM');
  });

  it('creates an external key store with public endpoint and with VPC endpoint service connectivity', async () => {
    const publicInput = xksInput();
    const { CustomKeyStoreId: publicId } = await h.kms.send(new CreateCustomKeyStoreCommand(publicInput));
    expect(await describeOne(publicId)).toMatchObject({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTED',
      XksProxyConfiguration: {
        Connectivity: 'PUBLIC_ENDPOINT',
        AccessKeyId: XKS_CREDENTIAL.AccessKeyId,
        UriEndpoint: publicInput.XksProxyUriEndpoint,
        UriPath: '/example/kms/xks/v1',
      },
    });
    const vpc = xksInput({
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0',
    });
    const { CustomKeyStoreId: vpcId } = await h.kms.send(new CreateCustomKeyStoreCommand(vpc));
    expect((await describeOne(vpcId))?.XksProxyConfiguration).toMatchObject({
      Connectivity: 'VPC_ENDPOINT_SERVICE',
      VpcEndpointServiceName: vpc.XksProxyVpcEndpointServiceName,
    });
  });

  it.each([
    ['CloudHsmClusterId', { CloudHsmClusterId: undefined }],
    ['TrustAnchorCertificate', { TrustAnchorCertificate: undefined }],
    ['KeyStorePassword', { KeyStorePassword: undefined }],
  ])('requires %s for a CloudHSM key store', async (name, overrides) => {
    const error = await kmsError(h.kms.send(new CreateCustomKeyStoreCommand(cloudHsmInput(overrides))));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain(name);
  });

  it.each([
    ['XksProxyUriEndpoint', { XksProxyUriEndpoint: undefined }],
    ['XksProxyUriPath', { XksProxyUriPath: undefined }],
    ['XksProxyAuthenticationCredential', { XksProxyAuthenticationCredential: undefined }],
    ['XksProxyConnectivity', { XksProxyConnectivity: undefined }],
    [
      'XksProxyVpcEndpointServiceName',
      { XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE' as const, XksProxyVpcEndpointServiceName: undefined },
    ],
  ])('requires %s for an external key store', async (name, overrides) => {
    const error = await kmsError(h.kms.send(new CreateCustomKeyStoreCommand(xksInput(overrides))));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain(name);
  });

  it('rejects parameters of the other store type', async () => {
    const error = await kmsError(
      h.kms.send(new CreateCustomKeyStoreCommand(xksInput({ CloudHsmClusterId: clusterId() }))),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('CloudHsmClusterId');
  });

  it.each([
    ['CloudHsmClusterId', cloudHsmInput({ CloudHsmClusterId: 'cluster-1' })],
    ['KeyStorePassword', cloudHsmInput({ KeyStorePassword: 'short' })],
    ['XksProxyUriEndpoint', xksInput({ XksProxyUriEndpoint: 'http://proxy.example.com' })],
    ['XksProxyUriPath', xksInput({ XksProxyUriPath: '/kms/xks/v1/extra' })],
    [
      'XksProxyAuthenticationCredential',
      xksInput({
        XksProxyAuthenticationCredential: { AccessKeyId: 'lowercase-id-not-base32', RawSecretAccessKey: 'x' },
      }),
    ],
  ])('checks the model pattern of %s', async (name, input) => {
    const error = await kmsError(h.kms.send(new CreateCustomKeyStoreCommand(input)));
    expect(error.name).toBe('ValidationException');
    expect(error.message.toLowerCase()).toContain(name.toLowerCase());
  });

  it('enforces unique names, clusters, proxy URIs and VPC endpoint services', async () => {
    const hsm = cloudHsmInput();
    await h.kms.send(new CreateCustomKeyStoreCommand(hsm));
    expect(
      (
        await kmsError(
          h.kms.send(
            new CreateCustomKeyStoreCommand(cloudHsmInput({ CustomKeyStoreName: hsm.CustomKeyStoreName })),
          ),
        )
      ).name,
    ).toBe('CustomKeyStoreNameInUseException');
    expect(
      (
        await kmsError(
          h.kms.send(
            new CreateCustomKeyStoreCommand(cloudHsmInput({ CloudHsmClusterId: hsm.CloudHsmClusterId })),
          ),
        )
      ).name,
    ).toBe('CloudHsmClusterInUseException');

    const xks = xksInput();
    await h.kms.send(new CreateCustomKeyStoreCommand(xks));
    const sameUri = xksInput({
      XksProxyUriEndpoint: xks.XksProxyUriEndpoint,
      XksProxyUriPath: xks.XksProxyUriPath,
    });
    expect((await kmsError(h.kms.send(new CreateCustomKeyStoreCommand(sameUri)))).name).toBe(
      'XksProxyUriInUseException',
    );
    const otherPath = xksInput({
      XksProxyUriEndpoint: xks.XksProxyUriEndpoint,
      XksProxyUriPath: '/other/kms/xks/v1',
    });
    await h.kms.send(new CreateCustomKeyStoreCommand(otherPath));

    const vpcService = 'com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0';
    await h.kms.send(
      new CreateCustomKeyStoreCommand(
        xksInput({
          XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
          XksProxyVpcEndpointServiceName: vpcService,
        }),
      ),
    );
    const sameService = xksInput({
      XksProxyConnectivity: 'VPC_ENDPOINT_SERVICE',
      XksProxyVpcEndpointServiceName: vpcService,
    });
    expect((await kmsError(h.kms.send(new CreateCustomKeyStoreCommand(sameService)))).name).toBe(
      'XksProxyVpcEndpointServiceInUseException',
    );
  });
});

describe('DescribeCustomKeyStores', () => {
  it('lists all stores, or one by id or by name', async () => {
    const a = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'alpha',
    });
    const b = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      CustomKeyStoreName: 'beta',
    });
    const all = await h.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(all.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual([
      a.CustomKeyStoreId,
      b.CustomKeyStoreId,
    ]);
    expect(all.Truncated).toBe(false);
    expect(all.NextMarker).toBeUndefined();
    const byName = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'beta' }));
    expect(byName.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual([b.CustomKeyStoreId]);
    expect((await describeOne(a.CustomKeyStoreId))?.CustomKeyStoreName).toBe('alpha');
  });

  it('refuses both filters at once, and unknown ids or names', async () => {
    const a = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'alpha',
    });
    const both = await kmsError(
      h.kms.send(
        new DescribeCustomKeyStoresCommand({
          CustomKeyStoreId: a.CustomKeyStoreId,
          CustomKeyStoreName: 'alpha',
        }),
      ),
    );
    expect(both.name).toBe('ValidationException');
    expect(
      (
        await kmsError(
          h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: 'cks-00000000000000000' })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
    expect(
      (await kmsError(h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreName: 'nope' })))).name,
    ).toBe('CustomKeyStoreNotFoundException');
  });

  it('pages with Limit and Marker, and survives deletions between pages', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(
        (await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionState: 'DISCONNECTED' }))
          .CustomKeyStoreId,
      );
    }
    const first = await h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 3 }));
    expect(first.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual(ids.slice(0, 3));
    expect(first.Truncated).toBe(true);
    expect(first.NextMarker).toEqual(expect.any(String));
    // The store right after the marker disappears: paging goes on with the next one.
    await h.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: ids[3] }));
    const second = await h.kms.send(
      new DescribeCustomKeyStoresCommand({ Limit: 3, Marker: first.NextMarker }),
    );
    expect(second.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual(ids.slice(4, 7));
    expect(second.Truncated).toBe(false);
    expect(second.NextMarker).toBeUndefined();

    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 2, Marker: marker }));
      seen.push(...(page.CustomKeyStores ?? []).map((s) => s.CustomKeyStoreId ?? ''));
      marker = page.NextMarker;
    } while (marker);
    expect(seen).toEqual([...ids.slice(0, 3), ...ids.slice(4)]);
  });

  it('defaults Limit to 100 and validates it', async () => {
    for (let i = 0; i < 101; i++) {
      await h.control.createStore({
        CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
        ConnectionState: 'DISCONNECTED',
      });
    }
    const page = await h.kms.send(new DescribeCustomKeyStoresCommand({}));
    expect(page.CustomKeyStores).toHaveLength(100);
    expect(page.Truncated).toBe(true);
    expect((await kmsError(h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 1001 })))).name).toBe(
      'ValidationException',
    );
  });

  it('answers a marker it did not issue with InvalidMarkerException', async () => {
    const error = await kmsError(h.kms.send(new DescribeCustomKeyStoresCommand({ Marker: 'garbage' })));
    expect(error.name).toBe('InvalidMarkerException');
  });
});

describe('UpdateCustomKeyStore', () => {
  it('renames a CONNECTED store but changes nothing else while connected', async () => {
    const store = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'old',
    });
    await h.kms.send(
      new UpdateCustomKeyStoreCommand({
        CustomKeyStoreId: store.CustomKeyStoreId,
        NewCustomKeyStoreName: 'new',
      }),
    );
    expect((await describeOne(store.CustomKeyStoreId))?.CustomKeyStoreName).toBe('new');
    const password = await kmsError(
      h.kms.send(
        new UpdateCustomKeyStoreCommand({
          CustomKeyStoreId: store.CustomKeyStoreId,
          KeyStorePassword: 'new-password',
        }),
      ),
    );
    expect(password.name).toBe('CustomKeyStoreInvalidStateException');
  });

  it('changes CloudHSM and XKS settings of a DISCONNECTED store', async () => {
    const hsm = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    const newCluster = clusterId();
    await h.kms.send(
      new UpdateCustomKeyStoreCommand({
        CustomKeyStoreId: hsm.CustomKeyStoreId,
        KeyStorePassword: 'rotated-pass',
        CloudHsmClusterId: newCluster,
      }),
    );
    expect((await describeOne(hsm.CustomKeyStoreId))?.CloudHsmClusterId).toBe(newCluster);

    const xks = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTED',
    });
    const credential = {
      AccessKeyId: 'ZYXWVUTSRQPONMLKJIHG',
      RawSecretAccessKey: XKS_CREDENTIAL.RawSecretAccessKey,
    };
    await h.kms.send(
      new UpdateCustomKeyStoreCommand({
        CustomKeyStoreId: xks.CustomKeyStoreId,
        XksProxyAuthenticationCredential: credential,
        XksProxyUriPath: '/v2/kms/xks/v1',
      }),
    );
    expect((await describeOne(xks.CustomKeyStoreId))?.XksProxyConfiguration).toMatchObject({
      AccessKeyId: credential.AccessKeyId,
      UriPath: '/v2/kms/xks/v1',
    });
  });

  it('rejects settings of the other type, name clashes and unknown stores', async () => {
    const hsm = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    const other = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      CustomKeyStoreName: 'taken',
    });
    expect(
      (
        await kmsError(
          h.kms.send(
            new UpdateCustomKeyStoreCommand({
              CustomKeyStoreId: hsm.CustomKeyStoreId,
              XksProxyUriPath: '/kms/xks/v1',
            }),
          ),
        )
      ).name,
    ).toBe('ValidationException');
    expect(
      (
        await kmsError(
          h.kms.send(
            new UpdateCustomKeyStoreCommand({
              CustomKeyStoreId: hsm.CustomKeyStoreId,
              NewCustomKeyStoreName: 'taken',
            }),
          ),
        )
      ).name,
    ).toBe('CustomKeyStoreNameInUseException');
    expect(
      (
        await kmsError(
          h.kms.send(
            new UpdateCustomKeyStoreCommand({
              CustomKeyStoreId: hsm.CustomKeyStoreId,
              CloudHsmClusterId: other.CloudHsmClusterId,
            }),
          ),
        )
      ).name,
    ).toBe('CloudHsmClusterInUseException');
    expect(
      (
        await kmsError(
          h.kms.send(new UpdateCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-00000000000000000' })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
  });
});

describe('DeleteCustomKeyStore', () => {
  it('deletes a DISCONNECTED store without keys', async () => {
    const store = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    await h.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    expect(
      (
        await kmsError(
          h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: store.CustomKeyStoreId })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
    expect(
      (
        await kmsError(
          h.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId })),
        )
      ).name,
    ).toBe('CustomKeyStoreNotFoundException');
  });

  it('refuses to delete a store that still holds keys', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    await h.kms.send(
      new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: store.CustomKeyStoreId }),
    );
    await h.kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    const error = await kmsError(
      h.kms.send(new DeleteCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId })),
    );
    expect(error.name).toBe('CustomKeyStoreHasCMKsException');
  });
});

describe('ConnectCustomKeyStore and DisconnectCustomKeyStore', () => {
  it('answer an unknown store with CustomKeyStoreNotFoundException', async () => {
    for (const command of [
      new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-00000000000000000' }),
      new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: 'cks-00000000000000000' }),
    ]) {
      expect((await kmsError(h.kms.send(command))).name).toBe('CustomKeyStoreNotFoundException');
    }
  });
});
