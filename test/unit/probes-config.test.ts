import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateMaintenanceRequest } from '../../src/domain/request';
import { XksProxyConfigError, xksProxies, xksProxiesFromEnvironment } from '../../src/probes/xks-proxies';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const base = {
  customKeyStoreId: 'cks-0123456789abcdef0',
  window: { duration: '2h' },
  reason: 'patch the XKS proxy',
  requestedBy: 'alice@example.com',
};

function problems(input: unknown): string[] {
  const result = validateMaintenanceRequest(input, NOW);
  if (result.ok) throw new Error('expected the request to be refused');
  return [...result.problems];
}

describe('probes in the request', () => {
  it('resolves defaults for each probe', () => {
    const result = validateMaintenanceRequest(
      { ...base, probes: { xksHealth: { proxy: 'payments-xks' }, cloudHsmCluster: {} } },
      NOW,
    );
    expect(result.ok && result.request.probes).toEqual({
      xksHealth: { proxy: 'payments-xks', minActive: 1, ifUnreachable: 'block' },
      cloudHsmCluster: { minActiveHsms: 1, minAvailabilityZones: 1 },
      timeoutMs: 10_000,
      checkEveryMs: 30_000,
      allowUnhealthyAtStart: false,
    });
  });

  it('leaves probes out when the request has none', () => {
    const result = validateMaintenanceRequest(base, NOW);
    expect(result.ok && 'probes' in result.request).toBe(false);
  });

  it('names each bad field', () => {
    expect(problems({ ...base, probes: {} }).join('\n')).toMatch(/probes: name at least one probe/);
    expect(
      problems({ ...base, probes: { xksHealth: { proxy: 'https://evil.example/' } } }).join('\n'),
    ).toMatch(
      /probes\.xksHealth\.proxy: must be the name of an XKS proxy credential configured on the worker/,
    );
    expect(problems({ ...base, probes: { xksHealth: { proxy: 'p', minActive: 0 } } }).join('\n')).toMatch(
      /probes\.xksHealth\.minActive/,
    );
    expect(problems({ ...base, probes: { cloudHsmCluster: {}, checkEvery: '10ms' } }).join('\n')).toMatch(
      /probes\.checkEvery: "10ms" is shorter than the minimum 1s/,
    );
    // A secret never belongs in the request: there is no field for one.
    expect(
      problems({ ...base, probes: { xksHealth: { proxy: 'p', secretAccessKey: 'x'.repeat(43) } } }).join(
        '\n',
      ),
    ).toMatch(/probes\.xksHealth.*secretAccessKey/);
  });
});

describe("the worker's XKS proxy credentials", () => {
  const dir = mkdtempSync(join(tmpdir(), 'xks-proxies-'));
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj\n');

  it('reads a credential with its secret from a file, and an endpoint override', () => {
    const proxies = xksProxies({
      proxies: {
        'payments-xks': {
          accessKeyId: 'ABCDEFGHIJKLMNOPQRST',
          secretFile,
          endpoint: 'https://xks.internal/',
        },
      },
    });
    const proxy = proxies.get('payments-xks');
    expect(proxy?.accessKeyId()).toBe('ABCDEFGHIJKLMNOPQRST');
    expect(proxy?.accessKeyIdSource).toBe('the configuration');
    expect(proxy?.secret()).toBe('c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj');
    expect(proxy?.endpoint).toBe('https://xks.internal');
    expect(proxy?.secretSource).toContain(secretFile);
    expect(proxies.names).toEqual(['payments-xks']);
  });

  it('refuses plain http unless allowed, and names the field', () => {
    const config = {
      proxies: { p: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretFile, endpoint: 'http://127.0.0.1:1' } },
    };
    expect(() => xksProxies(config)).toThrow(
      /proxies\.p\.endpoint: http:\/\/ is not allowed.*KEYSTORE_MAINT_XKS_ALLOW_HTTP=1/,
    );
    expect(xksProxies(config, { allowHttp: true }).get('p')?.endpoint).toBe('http://127.0.0.1:1');
  });

  it('refuses a bad access key id, both or neither secret source, and unknown fields', () => {
    expect(() => xksProxies({ proxies: { p: { accessKeyId: 'short', secretFile } } })).toThrow(
      /proxies\.p\.accessKeyId: must be 20 to 30 characters/,
    );
    expect(() => xksProxies({ proxies: { p: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST' } } })).toThrow(
      /exactly one of "secretFile" or "secretEnv"/,
    );
    expect(() => xksProxies({ proxies: { p: { secretFile } } })).toThrow(
      /proxies\.p: give exactly one of "accessKeyId" or "accessKeyIdFile"/,
    );
    expect(() =>
      xksProxies({
        proxies: { p: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', accessKeyIdFile: secretFile, secretFile } },
      }),
    ).toThrow(/give exactly one of "accessKeyId" or "accessKeyIdFile"/);
    expect(() =>
      xksProxies({ proxies: { p: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretFile, secret: 'inline' } } }),
    ).toThrow(XksProxyConfigError);
  });

  it('reads an access key id from a file when used, so a rotation needs no restart; a malformed one is no key', () => {
    const keyFile = join(dir, 'access-key-id');
    writeFileSync(keyFile, 'ABCDEFGHIJKLMNOPQRST\n');
    const proxy = xksProxies({ proxies: { p: { accessKeyIdFile: keyFile, secretFile } } }).get('p');
    expect(proxy?.accessKeyId()).toBe('ABCDEFGHIJKLMNOPQRST');
    expect(proxy?.accessKeyIdSource).toBe(`file ${keyFile}`);
    writeFileSync(keyFile, 'ZYXWVUTSRQPONMLKJIHG234');
    expect(proxy?.accessKeyId()).toBe('ZYXWVUTSRQPONMLKJIHG234');
    writeFileSync(keyFile, 'not-an-access-key');
    expect(proxy?.accessKeyId()).toBeUndefined();
    rmSync(keyFile);
    expect(proxy?.accessKeyId()).toBeUndefined();
  });

  it('reads the environment: file or inline, not both; none configured is empty', () => {
    const file = join(dir, 'proxies.json');
    writeFileSync(
      file,
      JSON.stringify({
        proxies: { p: { accessKeyId: 'ABCDEFGHIJKLMNOPQRST', secretEnv: 'KEYSTORE_MAINT_XKS_SECRET_P' } },
      }),
    );
    const proxies = xksProxiesFromEnvironment({
      KEYSTORE_MAINT_XKS_PROXIES_FILE: file,
      KEYSTORE_MAINT_XKS_SECRET_P: 's3cret',
    });
    expect(proxies.get('p')?.secret()).toBe('s3cret');
    expect(() =>
      xksProxiesFromEnvironment({ KEYSTORE_MAINT_XKS_PROXIES_FILE: file, KEYSTORE_MAINT_XKS_PROXIES: '{}' }),
    ).toThrow(/either KEYSTORE_MAINT_XKS_PROXIES_FILE or KEYSTORE_MAINT_XKS_PROXIES/);
    expect(() => xksProxiesFromEnvironment({ KEYSTORE_MAINT_XKS_PROXIES: '{nope' })).toThrow(
      /not valid JSON/,
    );
    expect(xksProxiesFromEnvironment({}).names).toEqual([]);
  });
});
