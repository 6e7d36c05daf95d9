/**
 * The XKS proxy stand-in: GetHealthStatus over real HTTP, its SigV4 verification checked against
 * two signers that share no code with it — botocore's SigV4Auth (Python, from the venv of
 * scripts/ensure-python-venv.sh) and @smithy/signature-v4 (how the product signs) — its errors in
 * the XKS API's shape, and the health and failure modes set through the control API.
 */
import { CreateCustomKeyStoreCommand } from '@aws-sdk/client-kms';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorControl, startKmsSimulator } from '../../src/sim';
import { projectRoot } from '../../src/util/project-root';
import { isRecord, useSimulator, XKS_CREDENTIAL } from './helpers';

const HOST = 'xks-proxy-test.example.com';
const URI_PATH = '/tenant-a/kms/xks/v1';
const BODY = JSON.stringify({
  requestMetadata: {
    kmsRequestId: '4112f4d6-db54-4af4-ae30-c55a22a8dfae',
    kmsOperation: 'ConnectCustomKeyStore',
  },
});

const h = useSimulator({ consistencyLagMs: 0, regions: ['us-east-1', 'eu-west-1'] });
let python = '';
let storeId = '';

beforeAll(async () => {
  python = venvPython();
  const created = await h.kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: 'xks-proxy-test',
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: `https://${HOST}`,
      XksProxyUriPath: URI_PATH,
      XksProxyAuthenticationCredential: XKS_CREDENTIAL,
      XksProxyConnectivity: 'PUBLIC_ENDPOINT',
    }),
  );
  storeId = created.CustomKeyStoreId ?? '';
}, 300_000);

/** The venv's python, made by the same script CI runs; its absence fails the file loudly. */
function venvPython(): string {
  let out: string;
  try {
    out = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-python-venv.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    throw new Error(
      'The XKS SigV4 tests need botocore from the Python venv, but scripts/ensure-python-venv.sh failed ' +
        `(install python3 and python3-venv, and reach PyPI): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const path = out.trim().split('\n').pop() ?? '';
  if (!existsSync(path)) {
    throw new Error(`scripts/ensure-python-venv.sh printed "${path}", which is not a Python interpreter`);
  }
  return path;
}

function healthUrl(host = HOST, path = URI_PATH): string {
  return `${h.sim.url}/_xks/${host}${path}/health`;
}

interface BotocoreSpec {
  body?: string;
  region?: string;
  service?: string;
  secretAccessKey?: string;
  signedAt?: Date;
  url?: string;
}

interface SignedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function signWithBotocore(spec: BotocoreSpec = {}): SignedRequest {
  const input = JSON.stringify({
    url: spec.url ?? healthUrl(),
    body: spec.body ?? BODY,
    region: spec.region ?? 'us-east-1',
    service: spec.service ?? 'kms-xks-proxy',
    access_key_id: XKS_CREDENTIAL.AccessKeyId,
    secret_access_key: spec.secretAccessKey ?? XKS_CREDENTIAL.RawSecretAccessKey,
    signed_at: spec.signedAt?.toISOString(),
  });
  const out = execFileSync(python, [join(projectRoot(), 'test', 'sim', 'python', 'sign_xks_health.py')], {
    input,
    encoding: 'utf8',
  });
  const parsed: unknown = JSON.parse(out);
  if (!isRecord(parsed) || !isRecord(parsed['headers'])) throw new Error(`unexpected helper output: ${out}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed['headers'])) headers[name] = String(value);
  return {
    method: String(parsed['method']),
    url: String(parsed['url']),
    headers,
    body: String(parsed['body']),
  };
}

async function signWithSmithy(
  spec: { body?: string; region?: string; service?: string; secretAccessKey?: string } = {},
): Promise<SignedRequest> {
  const url = new URL(healthUrl());
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: XKS_CREDENTIAL.AccessKeyId,
      secretAccessKey: spec.secretAccessKey ?? XKS_CREDENTIAL.RawSecretAccessKey,
    },
    region: spec.region ?? 'us-east-1',
    service: spec.service ?? 'kms-xks-proxy',
    // As the product's probe signs (src/probes/xks-health.ts).
    sha256: Hash.bind(null, 'sha256'),
  });
  const body = spec.body ?? BODY;
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = value;
  return { method: 'POST', url: url.toString(), headers, body };
}

interface XksAnswer {
  status: number;
  text: string;
  json: Record<string, unknown>;
}

async function send(request: SignedRequest, override: { body?: string } = {}): Promise<XksAnswer> {
  const response = await fetch(request.url, {
    method: request.method,
    headers: request.headers,
    body: override.body ?? request.body,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) json = parsed;
  } catch {
    // Not JSON: the invalidResponse failure mode, checked through `text`.
  }
  return { status: response.status, text, json };
}

function expectAuthenticationFailed(answer: XksAnswer, reason: RegExp): void {
  expect(answer.status).toBe(401);
  expect(answer.json['errorName']).toBe('AuthenticationFailedException');
  expect(String(answer.json['errorMessage'])).toMatch(reason);
}

describe('SigV4 verification, against botocore', () => {
  it('accepts a GetHealthStatus request botocore signed with the store credential and Region', async () => {
    const answer = await send(signWithBotocore());
    expect(answer.status).toBe(200);
    expect(answer.json['xksProxyFleetSize']).toBe(2);
    for (const field of ['xksProxyVendor', 'xksProxyModel', 'ekmVendor']) {
      expect(typeof answer.json[field]).toBe('string');
    }
    expect(answer.json['ekmFleetDetails']).toEqual([
      { id: 'ekm-1', model: 'Simulated EKM 1.0', healthStatus: 'ACTIVE' },
      { id: 'ekm-2', model: 'Simulated EKM 1.0', healthStatus: 'ACTIVE' },
    ]);
    const [call] = await h.control.calls({ operation: 'GetHealthStatus' });
    expect(call).toMatchObject({ outcome: 'ok', region: 'us-east-1', account: h.sim.account });
  });

  it('refuses a body other than the one signed', async () => {
    const tampered = BODY.replace('ConnectCustomKeyStore', 'CreateCustomKeyStore');
    expectAuthenticationFailed(
      await send(signWithBotocore(), { body: tampered }),
      /signature does not match/,
    );
  });

  it('refuses a signature scoped to another Region', async () => {
    expectAuthenticationFailed(await send(signWithBotocore({ region: 'eu-west-1' })), /Region eu-west-1/);
  });

  it('refuses a signature for another service', async () => {
    expectAuthenticationFailed(await send(signWithBotocore({ service: 'kms' })), /service kms,/);
  });

  it('refuses a signature made with another secret', async () => {
    const other = 'ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkjih9876';
    expectAuthenticationFailed(
      await send(signWithBotocore({ secretAccessKey: other })),
      /signature does not match/,
    );
  });

  it('refuses a request signed more than 5 minutes ago', async () => {
    const stale = new Date(Date.now() - 6 * 60_000);
    expectAuthenticationFailed(await send(signWithBotocore({ signedAt: stale })), /5 minutes/);
  });
});

describe('SigV4 verification, against @smithy/signature-v4 (the product signer)', () => {
  it('accepts its signature, X-Amz-Content-SHA256 included', async () => {
    const request = await signWithSmithy();
    expect(request.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect((await send(request)).status).toBe(200);
  });

  it('refuses a body that does not match X-Amz-Content-SHA256', async () => {
    const answer = await send(await signWithSmithy(), { body: BODY.replace('4112', '9999') });
    expectAuthenticationFailed(answer, /X-Amz-Content-SHA256/);
  });

  it('refuses an unsigned request and an unknown access key', async () => {
    expectAuthenticationFailed(
      await send({ method: 'POST', url: healthUrl(), headers: {}, body: BODY }),
      /no Authorization/,
    );
    const request = await signWithSmithy();
    const auth = (request.headers['authorization'] ?? '').replace(
      XKS_CREDENTIAL.AccessKeyId,
      'QQQQQQQQQQQQQQQQQQQQ',
    );
    expectAuthenticationFailed(
      await send({ ...request, headers: { ...request.headers, authorization: auth } }),
      /not a credential of this proxy/,
    );
  });
});

describe('the XKS API surface', () => {
  it('answers an unknown host or path with 404 InvalidUriPathException', async () => {
    const unknownHost = await send({ ...(await signWithSmithy()), url: healthUrl('nobody.example.com') });
    expect(unknownHost.status).toBe(404);
    expect(unknownHost.json['errorName']).toBe('InvalidUriPathException');
    const wrongPath = await send({ ...(await signWithSmithy()), url: healthUrl(HOST, '/kms/xks/v1') });
    expect(wrongPath.json['errorName']).toBe('InvalidUriPathException');
  });

  it('answers a GET with 405 and a malformed (signed) body with 400 ValidationException', async () => {
    const get = await fetch(healthUrl());
    expect(get.status).toBe(405);
    for (const body of ['not json', '{}', JSON.stringify({ requestMetadata: { kmsRequestId: 'x' } })]) {
      const answer = await send(await signWithSmithy({ body }));
      expect(answer.status).toBe(400);
      expect(answer.json['errorName']).toBe('ValidationException');
    }
  });
});

describe('health and failure modes from the control API', () => {
  it('reports the EKM fleet it is given, and goes back to healthy', async () => {
    const proxy = await h.control.setXksProxyHealth(storeId, {
      ekmFleetDetails: [
        { healthStatus: 'DEGRADED' },
        { healthStatus: 'UNAVAILABLE', id: 'hsm-b', model: 'Luna 7' },
      ],
    });
    expect(proxy).toMatchObject({
      CustomKeyStoreId: storeId,
      Region: 'us-east-1',
      Path: `/_xks/${HOST}${URI_PATH}/health`,
      failure: null,
    });
    const answer = await send(await signWithSmithy());
    expect(answer.json['ekmFleetDetails']).toEqual([
      { id: 'ekm-1', model: 'Simulated EKM 1.0', healthStatus: 'DEGRADED' },
      { id: 'hsm-b', model: 'Luna 7', healthStatus: 'UNAVAILABLE' },
    ]);
    await h.control.resetXksProxyHealth(storeId);
    expect((await h.control.getXksProxy(storeId)).ekmFleetDetails.map((e) => e.healthStatus)).toEqual([
      'ACTIVE',
      'ACTIVE',
    ]);
  });

  it('unreachable: the connection closes without an answer', async () => {
    await h.control.setXksProxyHealth(storeId, { failure: { mode: 'unreachable' } });
    try {
      await expect(send(await signWithSmithy())).rejects.toThrow(/fetch failed/);
    } finally {
      await h.control.resetXksProxyHealth(storeId);
    }
  });

  it('timeout: no answer within the delay', async () => {
    await h.control.setXksProxyHealth(storeId, { failure: { mode: 'timeout', delayMs: 1_000 } });
    try {
      const request = await signWithSmithy();
      const started = Date.now();
      await expect(
        fetch(request.url, {
          method: 'POST',
          headers: request.headers,
          body: request.body,
          signal: AbortSignal.timeout(250),
        }),
      ).rejects.toThrow(/aborted/i);
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    } finally {
      await h.control.resetXksProxyHealth(storeId);
    }
  });

  it('invalidResponse: a 200 whose body is not JSON; accessDenied: 403 AccessDeniedException', async () => {
    await h.control.setXksProxyHealth(storeId, { failure: { mode: 'invalidResponse' } });
    const invalid = await send(await signWithSmithy());
    expect(invalid.status).toBe(200);
    expect(() => JSON.parse(invalid.text) as unknown).toThrow();
    await h.control.setXksProxyHealth(storeId, { failure: { mode: 'accessDenied' } });
    const denied = await send(await signWithSmithy());
    expect(denied.status).toBe(403);
    expect(denied.json['errorName']).toBe('AccessDeniedException');
    await h.control.resetXksProxyHealth(storeId);
  });

  it('selects a proxy by store id, checking account and Region when given', async () => {
    await expect(h.control.getXksProxy(storeId, { region: 'eu-west-1' })).rejects.toMatchObject({
      status: 404,
    });
    await expect(h.control.setXksProxyHealth(storeId, { ekmFleetDetails: [] })).rejects.toMatchObject({
      status: 400,
      field: 'ekmFleetDetails',
    });
    expect(
      (await h.control.listXksProxies({ region: 'us-east-1' })).map((p) => p.CustomKeyStoreId),
    ).toContain(storeId);
  });
});

describe('persistence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-xks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a proxy health across a restart', async () => {
    const stateFile = join(dir, 'state.json');
    let sim = await startKmsSimulator({ port: 0, stateFile });
    try {
      const control = new SimulatorControl(sim.url);
      const store = await control.createStore({ CustomKeyStoreType: 'EXTERNAL_KEY_STORE' });
      await control.setXksProxyHealth(store.CustomKeyStoreId, {
        ekmFleetDetails: [{ healthStatus: 'UNAVAILABLE' }],
        failure: { mode: 'timeout', delayMs: 5_000 },
      });
      await sim.stop();
      sim = await startKmsSimulator({ port: 0, stateFile });
      const again = await new SimulatorControl(sim.url).getXksProxy(store.CustomKeyStoreId);
      expect(again).toMatchObject({
        ekmFleetDetails: [{ healthStatus: 'UNAVAILABLE' }],
        failure: { mode: 'timeout', delayMs: 5_000 },
      });
    } finally {
      await sim.stop();
    }
  });
});
