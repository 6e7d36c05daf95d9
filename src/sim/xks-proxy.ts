/**
 * The XKS proxy stand-in: the GetHealthStatus call of the XKS Proxy API v1, served on the
 * simulator's port for every external key store's proxy, so that a probe can ask a proxy what KMS
 * would ask it before a connect.
 *
 *   POST /_xks/<host><XksProxyUriPath>/health
 *   {"requestMetadata": {"kmsRequestId": "…", "kmsOperation": "…"}}
 *
 * `<host>` is the host of a store's `XksProxyUriEndpoint` (`https://<host>`): a client configured
 * with the endpoint `<simulator url>/_xks/<host>` in place of `https://<host>` reaches it with the
 * same path and signature scheme as the real proxy. A proxy is every external key store (in any
 * partition) with that host and path; the request must be signed (SigV4, service
 * `kms-xks-proxy`) with the proxy authentication credential of one of them, for its Region.
 *
 * Checks, in order: a known host and path (404 `InvalidUriPathException`; another XKS operation
 * under a known path: 501 `UnsupportedOperationException`); the proxy's failure mode `unreachable`
 * (the socket is destroyed, nothing is answered) and `timeout` (the answer waits); `POST` (405, as
 * the specification requires); the signature (401 `AuthenticationFailedException`); the body (400
 * `ValidationException`); the failure modes `accessDenied` (403 `AccessDeniedException`) and
 * `invalidResponse` (200 with a body that is not JSON); then the health. Errors are the
 * specification's `{"errorName": …, "errorMessage": …}`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { StoreRecord } from './model';
import type { Partition } from './partition';
import { isJsonObject } from './protocol';
import { headerValue } from './sigv4';
import type { Simulator } from './simulator';
import { EKM_VENDOR, proxyHost, XKS_PROXY_MODEL, XKS_PROXY_VENDOR, type XksProxyHealth } from './xks-proxies';
import { parseAuthorization, verifySigV4, type SigV4Authorization } from './xks-sigv4-verify';

export const XKS_PREFIX = '/_xks';
export const XKS_SERVICE = 'kms-xks-proxy';
export const XKS_CONTENT_TYPE = 'application/json';
/** What the `invalidResponse` failure mode answers with a 200: anything but JSON. */
export const XKS_INVALID_RESPONSE_BODY = '<html><body>502 Bad Gateway (simulated)</body></html>';

export interface XksRequest {
  method: string;
  /** Path and query as received, starting with `/_xks/`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  bodyTooLarge?: boolean;
}

/** An answer to send, or `destroy`: end the connection without one, as an unreachable proxy does. */
export type XksOutcome =
  { kind: 'reply'; status: number; body: string; contentType: string } | { kind: 'destroy' };

interface ProxyStore {
  partition: Partition;
  store: StoreRecord & { xks: NonNullable<StoreRecord['xks']> };
}

export function isXksPath(url: string): boolean {
  return url === XKS_PREFIX || url.startsWith(`${XKS_PREFIX}/`);
}

export async function handleXksRequest(
  sim: Simulator,
  request: XksRequest,
  requestId: string,
): Promise<XksOutcome> {
  const startedAt = sim.now();
  const seen: Seen = { params: {} };
  const outcome = await decide(sim, request, seen);
  // A proxy that cannot be reached never sees the request.
  if (outcome.kind === 'reply') {
    sim.calls.record({
      at: new Date(startedAt).toISOString(),
      operation: 'GetHealthStatus',
      params: seen.params,
      outcome: outcomeName(outcome),
      requestId,
      account: seen.account,
      region: seen.region,
    });
  }
  sim.log(
    `XKS ${request.method} ${request.url} -> ${outcomeName(outcome)} ${sim.now() - startedAt}ms ${requestId}`,
  );
  return outcome;
}

/** What the call log keeps of a request, filled in as far as the request got. */
interface Seen {
  params: Record<string, unknown>;
  account?: string;
  region?: string;
}

async function decide(sim: Simulator, request: XksRequest, seen: Seen): Promise<XksOutcome> {
  const { host, rest } = splitPath(request.url);
  const stores = proxyStores(sim, host);
  const proxy = stores.filter(({ store }) => rest === `${store.xks.uriPath}/health`);
  const first = proxy[0];
  if (!first) {
    const underKnownPath = stores.some(({ store }) => rest.startsWith(`${store.xks.uriPath}/`));
    return underKnownPath
      ? error(501, 'UnsupportedOperationException', 'The simulated XKS proxy serves GetHealthStatus only.')
      : error(404, 'InvalidUriPathException', `No XKS proxy of any external key store at ${host}${rest}.`);
  }
  const health = sim.xksProxies.healthOf(first.store.xks);
  if (health.failure?.mode === 'unreachable') return { kind: 'destroy' };
  if (health.failure?.mode === 'timeout') await sim.sleep(health.failure.delayMs);
  if (request.method !== 'POST') return error(405, 'MethodNotAllowed', 'GetHealthStatus takes POST.');
  if (request.bodyTooLarge) return error(400, 'ValidationException', 'The request body exceeds 1 MiB.');
  const auth = parseAuthorization(headerValue(request.headers, 'authorization'));
  if (typeof auth === 'string') return authenticationFailed(auth);
  seen.region = auth.region;
  const caller = authenticate(sim, request, auth, proxy);
  if (typeof caller === 'string') return authenticationFailed(caller);
  seen.account = caller.partition.account;
  const parsed = parseHealthRequest(request.body);
  if (typeof parsed === 'string') return error(400, 'ValidationException', parsed);
  seen.params = parsed;
  if (health.failure?.mode === 'accessDenied') {
    return error(403, 'AccessDeniedException', 'The simulated XKS proxy denies this request.');
  }
  if (health.failure?.mode === 'invalidResponse') {
    return { kind: 'reply', status: 200, body: XKS_INVALID_RESPONSE_BODY, contentType: 'text/html' };
  }
  return {
    kind: 'reply',
    status: 200,
    body: JSON.stringify(healthBody(health)),
    contentType: XKS_CONTENT_TYPE,
  };
}

function splitPath(url: string): { host: string; rest: string } {
  const at = url.indexOf('?');
  const path = (at === -1 ? url : url.slice(0, at)).slice(XKS_PREFIX.length + 1);
  const slash = path.indexOf('/');
  return slash === -1 ? { host: path, rest: '' } : { host: path.slice(0, slash), rest: path.slice(slash) };
}

/** Every external key store whose proxy lives on `host`, in any partition. */
function proxyStores(sim: Simulator, host: string): ProxyStore[] {
  const wanted = host.toLowerCase();
  const found: ProxyStore[] = [];
  for (const partition of sim.allPartitions()) {
    for (const store of partition.state.storesInOrder()) {
      const xks = store.xks;
      if (xks && proxyHost(xks.uriEndpoint) === wanted) found.push({ partition, store: { ...store, xks } });
    }
  }
  return found;
}

/**
 * The store whose credential signed the request: its access key, its secret, its Region. Several
 * stores may share a proxy (as several credentials may be configured in a real one); any of them
 * may sign.
 */
function authenticate(
  sim: Simulator,
  request: XksRequest,
  auth: SigV4Authorization,
  proxy: readonly ProxyStore[],
): ProxyStore | string {
  const holders = proxy.filter(({ store }) => store.xks.accessKeyId === auth.accessKeyId);
  if (holders.length === 0) return `The access key ${auth.accessKeyId} is not a credential of this proxy.`;
  let reason = '';
  for (const holder of holders) {
    const result = verifySigV4(
      request,
      auth,
      {
        secretAccessKey: holder.store.xks.rawSecretAccessKey,
        region: holder.partition.region,
        service: XKS_SERVICE,
      },
      sim.now(),
    );
    if (result.ok) return holder;
    reason ||= result.reason;
  }
  return reason;
}

/** The GetHealthStatus request: `requestMetadata` with string `kmsRequestId` and `kmsOperation`. */
function parseHealthRequest(body: string): Record<string, unknown> | string {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return 'The request body is not valid JSON.';
  }
  if (!isJsonObject(json)) return 'The request body must be a JSON object.';
  const metadata = json['requestMetadata'];
  if (!isJsonObject(metadata)) return 'requestMetadata is required and must be an object.';
  for (const field of ['kmsRequestId', 'kmsOperation']) {
    const value = metadata[field];
    if (typeof value !== 'string' || value === '') {
      return `requestMetadata.${field} is required and must be a non-empty string.`;
    }
  }
  return json;
}

function healthBody(health: XksProxyHealth): Record<string, unknown> {
  return {
    xksProxyFleetSize: health.xksProxyFleetSize,
    xksProxyVendor: XKS_PROXY_VENDOR,
    xksProxyModel: XKS_PROXY_MODEL,
    ekmVendor: EKM_VENDOR,
    ekmFleetDetails: health.ekmFleetDetails.map((ekm) => ({ ...ekm })),
  };
}

function authenticationFailed(reason: string): XksOutcome {
  return error(401, 'AuthenticationFailedException', reason);
}

/** The specification allows an `errorMessage` of printable ASCII, shorter than 512 characters. */
function error(status: number, errorName: string, message: string): XksOutcome {
  const errorMessage = message.replace(/[^\x20-\x7e]/g, '?').slice(0, 511);
  return {
    kind: 'reply',
    status,
    body: JSON.stringify({ errorName, errorMessage }),
    contentType: XKS_CONTENT_TYPE,
  };
}

function outcomeName(outcome: XksOutcome): string {
  if (outcome.kind === 'destroy') return 'unreachable';
  if (outcome.status === 200) return outcome.contentType === XKS_CONTENT_TYPE ? 'ok' : 'invalidResponse';
  const parsed: unknown = JSON.parse(outcome.body);
  return isJsonObject(parsed) && typeof parsed['errorName'] === 'string'
    ? parsed['errorName']
    : String(outcome.status);
}
