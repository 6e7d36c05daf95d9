/**
 * The worker's gate configuration (KEYSTORE_MAINT_GATES_FILE / KEYSTORE_MAINT_GATES): what it
 * accepts, and errors that name the field and the fix for what it refuses — https only unless
 * allowed, no credentials in URLs, one credential kind per source, names a request can spell.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GATES_ALLOW_HTTP_ENV,
  GATES_ENV,
  GATES_FILE_ENV,
  gatesConfig,
  gatesConfigFromEnvironment,
  GatesConfigError,
} from '../../src/gates/config';

const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-gates-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(build: () => unknown): GatesConfigError {
  try {
    build();
  } catch (err) {
    if (err instanceof GatesConfigError) return err;
    throw err;
  }
  throw new Error('expected a GatesConfigError');
}

describe('gatesConfig', () => {
  it('reads sources with their defaults and credentials (read when used)', () => {
    const tokenFile = join(dir, 'token');
    const config = gatesConfig({
      prometheus: {
        main: { url: 'https://prometheus.internal:9090/', bearerTokenFile: tokenFile },
        edge: { url: 'https://edge.internal/prom', basicAuthFile: join(dir, 'basic'), timeout: '3s' },
      },
      http: { 'change-freeze': { url: 'https://freeze.internal/gate?env=prod' } },
    });
    expect(config.prometheusNames).toEqual(['edge', 'main']);
    expect(config.prometheus('main')).toMatchObject({
      name: 'main',
      url: 'https://prometheus.internal:9090',
      timeoutMs: 10_000,
      auth: { scheme: 'Bearer', source: `file ${tokenFile}` },
    });
    expect(config.prometheus('edge')).toMatchObject({ url: 'https://edge.internal/prom', timeoutMs: 3_000 });
    expect(config.prometheus('main')?.auth?.read()).toBeUndefined();
    writeFileSync(tokenFile, 'rotated-token\n');
    expect(config.prometheus('main')?.auth?.read()).toBe('rotated-token');
    expect(config.http('change-freeze')).toMatchObject({
      url: 'https://freeze.internal/gate?env=prod',
      secret: undefined,
    });
    expect(config.http('nope')).toBeUndefined();
  });

  it.each([
    [
      'plain http',
      { prometheus: { main: { url: 'http://prometheus:9090' } } },
      `prometheus.main.url: http:// is not allowed; use https:// (plain http only for development, with ${GATES_ALLOW_HTTP_ENV}=1)`,
    ],
    [
      'a URL with credentials',
      { http: { freeze: { url: 'https://user:pw@freeze.internal' } } },
      'http.freeze.url: a URL must not carry credentials; use "bearerTokenFile", "basicAuthFile" or "secretFile"',
    ],
    [
      'a Prometheus URL with a query',
      { prometheus: { main: { url: 'https://prometheus/?x=1' } } },
      "prometheus.main.url: a Prometheus URL must not have a query (?…); give the server's base URL",
    ],
    [
      'a URL that is not absolute',
      { prometheus: { main: { url: '//prometheus:9090' } } },
      'prometheus.main.url: "//prometheus:9090" is not an absolute URL',
    ],
    [
      'two credential kinds',
      { prometheus: { main: { url: 'https://p', bearerTokenFile: '/a', basicAuthFile: '/b' } } },
      'prometheus.main: give at most one of "bearerTokenFile" or "basicAuthFile"',
    ],
    [
      'an unknown field',
      { prometheus: { main: { url: 'https://p', token: 'x' } } },
      'prometheus.main: Unrecognized key: "token"',
    ],
    [
      'a name a request cannot spell',
      { http: { Freeze: { url: 'https://f' } } },
      'http.Freeze: names are lower-case letters',
    ],
    [
      'a timeout out of range',
      { http: { f: { url: 'https://f', timeout: '5m' } } },
      'http.f.timeout: "5m" is longer than the maximum 1m',
    ],
  ])('refuses %s, naming the field', (_what, config, message) => {
    const error = refusal(() => gatesConfig(config, { where: 'gates.json' }));
    expect(error.name).toBe('GatesConfigError');
    expect(error.message).toContain(`gates.json: ${message}`);
  });

  it('allows plain http only when told', () => {
    expect(
      gatesConfig({ prometheus: { main: { url: 'http://p:9090' } } }, { allowHttp: true }).prometheus('main')
        ?.url,
    ).toBe('http://p:9090');
  });
});

describe('gatesConfigFromEnvironment', () => {
  it('is empty without configuration, and keeps the http switch', () => {
    const config = gatesConfigFromEnvironment({ [GATES_ALLOW_HTTP_ENV]: '1' });
    expect(config).toMatchObject({ prometheusNames: [], httpNames: [], allowHttp: true });
  });

  it('reads the file or the inline JSON, not both', () => {
    const file = join(dir, 'gates.json');
    writeFileSync(file, JSON.stringify({ http: { freeze: { url: 'https://freeze.internal' } } }));
    expect(gatesConfigFromEnvironment({ [GATES_FILE_ENV]: file }).httpNames).toEqual(['freeze']);
    expect(
      gatesConfigFromEnvironment({ [GATES_ENV]: '{"prometheus": {"main": {"url": "https://p"}}}' })
        .prometheusNames,
    ).toEqual(['main']);
    expect(
      refusal(() => gatesConfigFromEnvironment({ [GATES_FILE_ENV]: file, [GATES_ENV]: '{}' })).message,
    ).toBe(`set either ${GATES_FILE_ENV} or ${GATES_ENV}, not both`);
  });

  it('says which variable is unreadable or not JSON', () => {
    const missing = join(dir, 'missing.json');
    expect(refusal(() => gatesConfigFromEnvironment({ [GATES_FILE_ENV]: missing })).message).toMatch(
      new RegExp(
        `^${GATES_FILE_ENV} \\(${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): cannot read it`,
      ),
    );
    expect(refusal(() => gatesConfigFromEnvironment({ [GATES_ENV]: '{not json' })).message).toMatch(
      new RegExp(`^${GATES_ENV}: not valid JSON \\(expected \\{"prometheus"`),
    );
    expect(
      refusal(() =>
        gatesConfigFromEnvironment({ [GATES_ENV]: '{"prometheus": {"main": {"url": "http://p"}}}' }),
      ).message,
    ).toContain(`${GATES_ENV}: prometheus.main.url: http:// is not allowed`);
  });
});
