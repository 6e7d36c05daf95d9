/**
 * The `xksHealth` probe: the XKS Proxy API's GetHealthStatus, asked as KMS asks it during
 * ConnectCustomKeyStore — `POST <XksProxyUriEndpoint><XksProxyUriPath>/health`, signed with
 * SigV4 (service `kms-xks-proxy`, the store's Region, the store's proxy authentication
 * credential). Signing is the AWS SDK's signer; nothing here does cryptography by hand.
 *
 * The answer is judged as KMS would: ready when the proxy answered and at least `minActive` of
 * its external key managers are ACTIVE.
 */
import { randomUUID } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ProbeResult } from '../domain/probes';
import type { XksProxyCredential } from './xks-proxies';

export const XKS_PROXY_SIGNING_SERVICE = 'kms-xks-proxy';

/** What DescribeCustomKeyStores says about an external key store's proxy. */
export interface XksProxyOfStore {
  readonly customKeyStoreId: string;
  readonly region: string;
  readonly connectivity: string | undefined;
  readonly uriEndpoint: string | undefined;
  readonly uriPath: string | undefined;
  /** The proxy authentication credential's AccessKeyId the store holds (never its secret). */
  readonly accessKeyId: string | undefined;
  readonly vpcEndpointServiceName: string | undefined;
}

export interface XksHealthOptions {
  readonly minActive: number;
  readonly timeoutMs: number;
}

const HEALTH_STATUSES = new Set(['ACTIVE', 'DEGRADED', 'UNAVAILABLE']);

interface EkmDetail {
  readonly id: string;
  readonly model: string | undefined;
  readonly healthStatus: string;
}

export async function probeXksHealth(
  store: XksProxyOfStore,
  credential: XksProxyCredential | undefined,
  proxyName: string,
  options: XksHealthOptions,
): Promise<ProbeResult> {
  const result = (status: ProbeResult['status'], summary: string, evidence: Record<string, unknown>) =>
    ({ probe: 'xksHealth', status, summary, evidence }) satisfies ProbeResult;
  const vpc = store.connectivity === 'VPC_ENDPOINT_SERVICE';
  const where = {
    connectivity: store.connectivity,
    ...(store.vpcEndpointServiceName ? { vpcEndpointServiceName: store.vpcEndpointServiceName } : {}),
    proxyCredentialName: proxyName,
  };
  if (!credential) {
    return result(
      'error',
      `no XKS proxy credential named "${proxyName}" is configured on the worker; add it to the worker's XKS proxy configuration (docs/probes.md)`,
      where,
    );
  }
  // Read when used (a file may be rotated during the window), once per probe, and compared with
  // the store's before the secret is even read: a mismatch sends nothing.
  const accessKeyId = credential.accessKeyId();
  if (accessKeyId === undefined) {
    return result(
      'error',
      `the access key id of XKS proxy credential "${proxyName}" is empty, missing or not 20 to 30 characters of A-Z and 2-7 (${credential.accessKeyIdSource})`,
      where,
    );
  }
  if (store.accessKeyId !== undefined && store.accessKeyId !== accessKeyId) {
    return result(
      'error',
      `the store's proxy credential is ${store.accessKeyId} but the worker's "${proxyName}" is ${accessKeyId}: the request names another proxy's credential, or the credential was rotated on one side only. After a rotation, call UpdateCustomKeyStore with the new credential before connecting (a connect with the old one fails with INVALID_CREDENTIALS) and give the worker the new pair (${credential.accessKeyIdSource}, ${credential.secretSource})`,
      { ...where, storeAccessKeyId: store.accessKeyId, workerAccessKeyId: accessKeyId },
    );
  }
  const secret = credential.secret();
  if (!secret) {
    return result(
      'error',
      `the secret of XKS proxy credential "${proxyName}" is empty or missing (${credential.secretSource})`,
      where,
    );
  }
  const base = credential.endpoint ?? store.uriEndpoint;
  if (!base || !store.uriPath) {
    return result('error', `the store has no XksProxyUriEndpoint/XksProxyUriPath to probe`, where);
  }
  const url = new URL(`${base.replace(/\/$/, '')}${store.uriPath}/health`);
  const kmsRequestId = randomUUID();
  const body = JSON.stringify({ requestMetadata: { kmsRequestId, kmsOperation: 'ConnectCustomKeyStore' } });
  const signer = new SignatureV4({
    service: XKS_PROXY_SIGNING_SERVICE,
    region: store.region,
    credentials: { accessKeyId, secretAccessKey: secret },
    sha256: Hash.bind(null, 'sha256'),
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: {},
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  const evidence = { ...where, url: url.toString(), kmsRequestId };
  const started = Date.now();
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host')),
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    const cause = timedOut ? `no answer within ${options.timeoutMs} ms` : networkCause(err);
    return result(
      'unreachable',
      `the proxy at ${url.host} is unreachable from the worker (${timedOut ? 'timed out' : cause})${
        vpc
          ? `; the store uses VPC_ENDPOINT_SERVICE connectivity, so the proxy may be reachable only inside that VPC and this says nothing about what KMS sees — give the worker an endpoint it can reach, or set "ifUnreachable": "connect"`
          : ''
      }`,
      { ...evidence, cause, elapsedMs: Date.now() - started },
    );
  }
  const text = await response.text().catch(() => '');
  const elapsedMs = Date.now() - started;
  const answer = parseJson(text);
  if (!response.ok) {
    const errorName = typeof answer?.errorName === 'string' ? answer.errorName : `HTTP ${response.status}`;
    const errorMessage =
      typeof answer?.errorMessage === 'string' ? answer.errorMessage.slice(0, 512) : undefined;
    const credentialProblem = response.status === 401 || response.status === 403;
    return result(
      credentialProblem ? 'error' : 'unhealthy',
      credentialProblem
        ? `the proxy refused the worker's credential "${proxyName}" (${errorName}): check the credential and the proxy's authorization rules; KMS may be refused too (XKS_PROXY_ACCESS_DENIED or INVALID_CREDENTIALS)`
        : `the proxy answered ${errorName}: not ready`,
      {
        ...evidence,
        httpStatus: response.status,
        errorName,
        ...(errorMessage ? { errorMessage } : {}),
        elapsedMs,
      },
    );
  }
  const details = ekmDetails(answer);
  if (!answer || !details) {
    return result(
      'unhealthy',
      'the proxy answered with a body that is not a GetHealthStatus answer (KMS would see XKS_PROXY_INVALID_RESPONSE)',
      { ...evidence, httpStatus: response.status, elapsedMs },
    );
  }
  const active = details.filter((d) => d.healthStatus === 'ACTIVE').length;
  const others = details
    .filter((d) => d.healthStatus !== 'ACTIVE')
    .map((d) => `${d.id} ${d.healthStatus}`)
    .join(', ');
  const healthy = active >= options.minActive;
  return result(
    healthy ? 'healthy' : 'unhealthy',
    `proxy answered: ${active} of ${details.length} external key managers ACTIVE${others ? ` (${others})` : ''}; need ${options.minActive}`,
    {
      ...evidence,
      httpStatus: response.status,
      xksProxyFleetSize: answer.xksProxyFleetSize,
      xksProxyVendor: answer.xksProxyVendor,
      xksProxyModel: answer.xksProxyModel,
      ekmVendor: answer.ekmVendor,
      ekmFleetDetails: details,
      activeEkms: active,
      elapsedMs,
    },
  );
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function ekmDetails(answer: Record<string, unknown> | undefined): EkmDetail[] | undefined {
  const list = answer?.ekmFleetDetails;
  if (!Array.isArray(list)) return undefined;
  const details: EkmDetail[] = [];
  for (const item of list.slice(0, 64)) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { id, model, healthStatus } = item as Record<string, unknown>;
    if (typeof id !== 'string' || typeof healthStatus !== 'string' || !HEALTH_STATUSES.has(healthStatus)) {
      return undefined;
    }
    details.push({
      id: id.slice(0, 128),
      model: typeof model === 'string' ? model.slice(0, 128) : undefined,
      healthStatus,
    });
  }
  return details;
}

function networkCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const message = cause instanceof Error ? cause.message : String(cause);
  return typeof code === 'string' ? `${code}: ${message}`.slice(0, 256) : message.slice(0, 256);
}
