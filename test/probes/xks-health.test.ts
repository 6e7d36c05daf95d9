/**
 * The `xksHealth` probe on its own, over real HTTP against the simulator's XKS proxy stand-in
 * (which verifies the SigV4 signature): how each answer is judged, and how each way of not
 * getting one is told apart. What the proxy received comes from the simulator's call log.
 */
import { DescribeCustomKeyStoresCommand, CreateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeXksHealth, type XksHealthOptions, type XksProxyOfStore } from '../../src/probes/xks-health';
import { xksProxies, type XksProxyCredential } from '../../src/probes/xks-proxies';
import { useSimulator, XKS_CREDENTIAL } from '../sim/helpers';
import { CLOSED_PORT_URL } from './support';

const h = useSimulator();
const dir = mkdtempSync(join(tmpdir(), 'xks-health-probe-'));
const secretFile = join(dir, 'secret');
const emptyFile = join(dir, 'empty');
const wrongSecretFile = join(dir, 'wrong');
let storeCounter = 0;

beforeAll(() => {
  writeFileSync(secretFile, XKS_CREDENTIAL.RawSecretAccessKey);
  writeFileSync(emptyFile, '');
  writeFileSync(wrongSecretFile, 'WRONGsecretWRONGsecretWRONGsecretWRONGsecret0');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh external key store on its own proxy host, as DescribeCustomKeyStores shows it. */
async function store(): Promise<{ proxy: XksProxyOfStore; host: string }> {
  const host = `probe-${++storeCounter}-${randomUUID().slice(0, 8)}.example.com`;
  const created = await h.kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: `xks-health-${host}`,
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: `https://${host}`,
      XksProxyUriPath: '/kms/xks/v1',
      XksProxyAuthenticationCredential: XKS_CREDENTIAL,
      XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    }),
  );
  const id = created.CustomKeyStoreId ?? '';
  const described = await h.kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: id }));
  const config = described.CustomKeyStores?.[0]?.XksProxyConfiguration;
  return {
    host,
    proxy: {
      customKeyStoreId: id,
      region: 'us-east-1',
      connectivity: config?.Connectivity,
      uriEndpoint: config?.UriEndpoint,
      uriPath: config?.UriPath,
      accessKeyId: config?.AccessKeyId,
      vpcEndpointServiceName: config?.VpcEndpointServiceName,
    },
  };
}

interface CredentialOptions {
  readonly secretFile?: string;
  readonly accessKeyId?: string;
  readonly accessKeyIdFile?: string;
}

function credential(endpoint: string, options: CredentialOptions = {}): XksProxyCredential {
  const config = xksProxies(
    {
      proxies: {
        proxy: {
          ...(options.accessKeyIdFile !== undefined
            ? { accessKeyIdFile: options.accessKeyIdFile }
            : { accessKeyId: options.accessKeyId ?? XKS_CREDENTIAL.AccessKeyId }),
          secretFile: options.secretFile ?? secretFile,
          endpoint,
        },
      },
    },
    { allowHttp: true },
  );
  const found = config.get('proxy');
  if (!found) throw new Error('the test credential was not configured');
  return found;
}

const standIn = (host: string) => `${h.sim.url}/_xks/${host}`;

const options = { minActive: 1, timeoutMs: 2_000 };

/** The probe of `proxy`'s store, asked at `endpoint` with the credential named "proxy". */
function ask(
  proxy: XksProxyOfStore,
  endpoint: string,
  credentialOptions: CredentialOptions = {},
  probeOptions: XksHealthOptions = options,
) {
  return probeXksHealth(proxy, credential(endpoint, credentialOptions), 'proxy', probeOptions);
}

async function healthCalls() {
  return (await h.control.calls()).filter((c) => c.operation === 'GetHealthStatus');
}

describe('xksHealth probe', () => {
  it("is healthy when enough external key managers are ACTIVE, and records what the proxy said and the probe's request id", async () => {
    const { proxy, host } = await store();
    const before = (await healthCalls()).length;
    const result = await ask(proxy, standIn(host));
    expect(result.status).toBe('healthy');
    expect(result.summary).toBe('proxy answered: 2 of 2 external key managers ACTIVE; need 1');
    expect(result.evidence).toMatchObject({
      connectivity: 'PUBLIC_ENDPOINT',
      proxyCredentialName: 'proxy',
      httpStatus: 200,
      activeEkms: 2,
      xksProxyFleetSize: expect.any(Number) as unknown,
      xksProxyVendor: expect.any(String) as unknown,
      ekmVendor: expect.any(String) as unknown,
    });
    // The proxy got one signed request, with the metadata KMS sends and the id the probe recorded.
    const calls = (await healthCalls()).slice(before);
    expect(calls.map((c) => c.outcome)).toEqual(['ok']);
    expect(calls[0]?.params).toEqual({
      requestMetadata: { kmsRequestId: result.evidence.kmsRequestId, kmsOperation: 'ConnectCustomKeyStore' },
    });
    expect(JSON.stringify(result)).not.toContain(XKS_CREDENTIAL.RawSecretAccessKey);
  });

  it('counts only ACTIVE external key managers against minActive; DEGRADED ones are named', async () => {
    const { proxy, host } = await store();
    await h.control.setXksProxyHealth(proxy.customKeyStoreId, {
      ekmFleetDetails: [{ healthStatus: 'ACTIVE' }, { healthStatus: 'DEGRADED', id: 'ekm-b' }],
    });
    const two = await ask(proxy, standIn(host), {}, { ...options, minActive: 2 });
    expect(two.status).toBe('unhealthy');
    expect(two.summary).toBe('proxy answered: 1 of 2 external key managers ACTIVE (ekm-b DEGRADED); need 2');
    const one = await ask(proxy, standIn(host));
    expect(one.status).toBe('healthy');
  });

  it('is unhealthy when the answer is not a GetHealthStatus answer, as KMS would judge it', async () => {
    const { proxy, host } = await store();
    await h.control.setXksProxyHealth(proxy.customKeyStoreId, { failure: { mode: 'invalidResponse' } });
    const result = await ask(proxy, standIn(host));
    expect(result.status).toBe('unhealthy');
    expect(result.summary).toMatch(
      /not a GetHealthStatus answer \(KMS would see XKS_PROXY_INVALID_RESPONSE\)/,
    );
  });

  it('answers error, not unhealthy, when the proxy refuses the credential: a wrong secret, or access denied', async () => {
    const { proxy, host } = await store();
    const wrong = await ask(proxy, standIn(host), { secretFile: wrongSecretFile });
    expect(wrong.status).toBe('error');
    expect(wrong.evidence).toMatchObject({ httpStatus: 401, errorName: 'AuthenticationFailedException' });
    expect(wrong.summary).toMatch(
      /refused the worker's credential "proxy" \(AuthenticationFailedException\)/,
    );

    await h.control.setXksProxyHealth(proxy.customKeyStoreId, { failure: { mode: 'accessDenied' } });
    const denied = await ask(proxy, standIn(host));
    expect(denied.status).toBe('error');
    expect(denied.evidence).toMatchObject({ httpStatus: 403, errorName: 'AccessDeniedException' });
  });

  it('answers unreachable when no answer comes: a closed connection, a refused one, or one slower than its timeout', async () => {
    const { proxy, host } = await store();
    await h.control.setXksProxyHealth(proxy.customKeyStoreId, { failure: { mode: 'unreachable' } });
    const dropped = await ask(proxy, standIn(host));
    expect(dropped.status).toBe('unreachable');
    expect(dropped.summary).toMatch(/is unreachable from the worker \(/);
    // A public endpoint is reachable by anyone: no VPC advice.
    expect(dropped.summary).not.toContain('VPC_ENDPOINT_SERVICE');

    const refused = await ask(proxy, CLOSED_PORT_URL);
    expect(refused.status).toBe('unreachable');
    expect(refused.summary).toMatch(/unreachable from the worker \(ECONNREFUSED/);

    await h.control.setXksProxyHealth(proxy.customKeyStoreId, {
      failure: { mode: 'timeout', delayMs: 10_000 },
    });
    const started = Date.now();
    const slow = await ask(
      proxy,
      standIn(host),
      {},
      {
        ...options,
        timeoutMs: 300,
      },
    );
    expect(slow.status).toBe('unreachable');
    expect(slow.summary).toMatch(/unreachable from the worker \(timed out\)/);
    expect(slow.evidence.cause).toBe('no answer within 300 ms');
    // It gave up at its own timeout, long before the proxy would have answered.
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('answers error before sending anything when the credential cannot be the store’s', async () => {
    const { proxy, host } = await store();
    const before = (await healthCalls()).length;
    const mismatch = await ask(proxy, standIn(host), { accessKeyId: 'ZYXWVUTSRQPONMLKJIHG' });
    expect(mismatch.status).toBe('error');
    expect(mismatch.summary).toMatch(/UpdateCustomKeyStore/);
    expect(mismatch.evidence).toMatchObject({
      storeAccessKeyId: XKS_CREDENTIAL.AccessKeyId,
      workerAccessKeyId: 'ZYXWVUTSRQPONMLKJIHG',
    });

    const missing = await probeXksHealth(proxy, undefined, 'nobody', options);
    expect(missing.status).toBe('error');
    expect(missing.summary).toMatch(/no XKS proxy credential named "nobody" is configured on the worker/);

    const empty = await ask(proxy, standIn(host), { secretFile: emptyFile });
    expect(empty.status).toBe('error');
    expect(empty.summary).toMatch(/is empty or missing/);

    const noKey = await ask(proxy, standIn(host), { accessKeyIdFile: emptyFile });
    expect(noKey.status).toBe('error');
    expect(noKey.summary).toBe(
      `the access key id of XKS proxy credential "proxy" is empty, missing or not 20 to 30 characters of A-Z and 2-7 (file ${emptyFile})`,
    );
    expect((await healthCalls()).length).toBe(before);
  });
});
