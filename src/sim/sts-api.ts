/**
 * The simulator's STS endpoint: `GetCallerIdentity` only, on the same port as KMS, so that a tool
 * can ask "whose credentials are these, in which account?" of the simulated account, as
 * `keystore-maint doctor` does. STS speaks the AWS Query protocol, not JSON 1.1:
 *
 *   - the request is `POST /` with a form-encoded body (`Content-Type:
 *     application/x-www-form-urlencoded`), `Action=GetCallerIdentity&Version=2011-06-15`
 *     (parameters in the query string are read too, as STS accepts a GET);
 *   - the answer is XML in the STS namespace, the result inside `<GetCallerIdentityResult>`, the
 *     request id in `<ResponseMetadata><RequestId>` and in the `x-amzn-RequestId` header;
 *   - an error is `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>…</Code><Message>…
 *     </Message></Error><RequestId>…</RequestId></ErrorResponse>`, and the SDK raises an exception
 *     named by `Code`.
 *
 * Real STS lives on its own host (`sts.<region>.amazonaws.com`); here one port serves both, and a
 * request is STS's when it carries no `X-Amz-Target` and either is form-encoded, names an `Action`
 * in its query string, or is signed for the service `sts` (`Credential=<key>/<date>/<region>/sts/
 * aws4_request`) — see `isStsRequest`. The SDK's `AWS_ENDPOINT_URL_STS` points it here.
 *
 * Checks, in order: a body of at most `MAX_BODY_BYTES` (413 `RequestEntityTooLarge`); an
 * `Authorization` header (403 `MissingAuthenticationToken`) naming an access key in its
 * `Credential=` (400 `IncompleteSignature`; signatures are not verified); `Action` present (400
 * `MissingAction`) and `GetCallerIdentity` of version `2011-06-15` (400 `InvalidAction`); injected
 * faults whose `operation` is `GetCallerIdentity` (a `*` fault is for KMS operations only); then
 * the answer. The caller is the IAM user `simulated` of the simulator's account; its `UserId` is
 * derived from the access key, so the same key always gets the same id.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_BODY_BYTES } from './protocol';
import type { Simulator } from './simulator';

export const STS_VERSION = '2011-06-15';
export const STS_XML_NAMESPACE = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;
export const STS_CONTENT_TYPE = 'text/xml';
/** The STS operations the simulator serves. */
export const STS_OPERATIONS = ['GetCallerIdentity'] as const;
export type StsOperation = (typeof STS_OPERATIONS)[number];
/** The IAM user every access key is, in the simulator's account. */
export const SIMULATED_USER_NAME = 'simulated';

export function isStsOperation(name: string): name is StsOperation {
  return (STS_OPERATIONS as readonly string[]).includes(name);
}

/**
 * HTTP status per STS error code. The authentication errors are 403s, as STS answers them;
 * everything not listed is a 400 (a `Sender` fault).
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  ExpiredToken: 403,
  InvalidClientTokenId: 403,
  MissingAuthenticationToken: 403,
  OptInRequired: 403,
  SignatureDoesNotMatch: 403,
  RequestEntityTooLarge: 413,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

export function stsStatusFor(code: string): number {
  return STATUS_BY_CODE[code] ?? 400;
}

/** An STS error answer. */
export class StsError extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
    this.status = stsStatusFor(code);
  }
}

export interface StsRequest {
  method: string;
  /** The request target, e.g. `/` or `/?Action=GetCallerIdentity&Version=2011-06-15`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  bodyTooLarge?: boolean;
}

export interface StsResponse {
  status: number;
  /** XML text. */
  body: string;
  errorType?: string | undefined;
}

/**
 * Whether a request on the shared port is for STS rather than KMS: no `X-Amz-Target` (KMS always
 * sends one), and a form-encoded body, an `Action` in the query string, or a signature scoped to
 * the service `sts`. Decided from the request line and headers alone, so that a body too large to
 * keep is still answered in the right protocol.
 */
export function isStsRequest(headers: IncomingHttpHeaders, url: string): boolean {
  if (headerValue(headers, 'x-amz-target') !== undefined) return false;
  const contentType = headerValue(headers, 'content-type')?.toLowerCase() ?? '';
  if (contentType.startsWith('application/x-www-form-urlencoded')) return true;
  if (queryOf(url).has('Action')) return true;
  return credentialOf(headerValue(headers, 'authorization'))?.service === 'sts';
}

export async function handleStsRequest(
  sim: Simulator,
  request: StsRequest,
  requestId: string,
): Promise<StsResponse> {
  const startedAt = sim.now();
  const params = request.bodyTooLarge ? new URLSearchParams() : paramsOf(request);
  const action = params.get('Action') ?? '';
  const recorded: Record<string, string> = {};
  for (const [name, value] of params) if (name !== 'Action' && name !== 'Version') recorded[name] = value;
  let response: StsResponse;
  try {
    if (request.bodyTooLarge) {
      throw new StsError(
        'RequestEntityTooLarge',
        `Request Entity Too Large: the request body exceeds the limit of ${MAX_BODY_BYTES} bytes (1 MiB).`,
      );
    }
    const authorization = headerValue(request.headers, 'authorization');
    const presigned = queryOf(request.url).get('X-Amz-Credential') ?? undefined;
    if (!authorization && !presigned) {
      throw new StsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    const credential = authorization ? credentialOf(authorization) : credentialOf(`Credential=${presigned}`);
    if (!credential) {
      throw new StsError(
        'IncompleteSignature',
        "Authorization header requires 'Credential' parameter naming an access key.",
      );
    }
    if (!action) throw new StsError('MissingAction', 'Missing Action');
    const version = params.get('Version');
    if (!isStsOperation(action) || version !== STS_VERSION) {
      throw new StsError(
        'InvalidAction',
        `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`,
      );
    }
    // Only faults that name the STS operation: a `*` fault is about KMS operations.
    const fault = sim.faults.decide(action, Math.random, { wildcard: false });
    await sim.sleep(fault.latencyMs);
    if (fault.error) throw new StsError(fault.error.type, fault.error.message);
    const body = getCallerIdentity(sim, credential.accessKeyId, requestId);
    await sim.sleep(fault.latencyAfterMs);
    if (fault.errorAfter) throw new StsError(fault.errorAfter.type, fault.errorAfter.message);
    response = { status: 200, body };
  } catch (err) {
    response = errorResponse(sim, err, requestId);
  }
  sim.calls.record({
    at: new Date(startedAt).toISOString(),
    operation: action,
    params: recorded,
    outcome: response.errorType ?? 'ok',
    requestId,
  });
  sim.log(
    `STS ${action || '(none)'} -> ${response.errorType ?? 'ok'} ${response.status} ` +
      `${sim.now() - startedAt}ms ${requestId}`,
  );
  return response;
}

/** The caller of every access key: the IAM user `simulated` in the simulator's account. */
export function callerIdentity(
  sim: Simulator,
  accessKeyId: string,
): { Account: string; Arn: string; UserId: string } {
  return {
    Account: sim.arn.account,
    Arn: `arn:${sim.arn.partition}:iam::${sim.arn.account}:user/${SIMULATED_USER_NAME}`,
    UserId: userIdFor(accessKeyId),
  };
}

/**
 * An IAM user's unique id as IAM writes them (`AIDA` and 17 characters of A–Z, 2–7), derived from
 * the access key so that it is stable for a key and differs between keys.
 */
export function userIdFor(accessKeyId: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const digest = createHash('sha256').update(`keystore-maint sim user id\n${accessKeyId}`).digest();
  let id = 'AIDA';
  for (let i = 0; i < 17; i++) id += alphabet[(digest[i] ?? 0) % 32];
  return id;
}

function getCallerIdentity(sim: Simulator, accessKeyId: string, requestId: string): string {
  const identity = callerIdentity(sim, accessKeyId);
  return [
    `<GetCallerIdentityResponse xmlns="${STS_XML_NAMESPACE}">`,
    '  <GetCallerIdentityResult>',
    `    <Arn>${xmlText(identity.Arn)}</Arn>`,
    `    <UserId>${xmlText(identity.UserId)}</UserId>`,
    `    <Account>${xmlText(identity.Account)}</Account>`,
    '  </GetCallerIdentityResult>',
    '  <ResponseMetadata>',
    `    <RequestId>${xmlText(requestId)}</RequestId>`,
    '  </ResponseMetadata>',
    '</GetCallerIdentityResponse>',
    '',
  ].join('\n');
}

function errorResponse(sim: Simulator, err: unknown, requestId: string): StsResponse {
  const error =
    err instanceof StsError
      ? err
      : new StsError('InternalFailure', 'The simulator failed to process the request.');
  if (!(err instanceof StsError)) {
    sim.log(`STS internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  const body = [
    `<ErrorResponse xmlns="${STS_XML_NAMESPACE}">`,
    '  <Error>',
    `    <Type>${error.status >= 500 ? 'Receiver' : 'Sender'}</Type>`,
    `    <Code>${xmlText(error.code)}</Code>`,
    `    <Message>${xmlText(error.message)}</Message>`,
    '  </Error>',
    `  <RequestId>${xmlText(requestId)}</RequestId>`,
    '</ErrorResponse>',
    '',
  ].join('\n');
  return { status: error.status, body, errorType: error.code };
}

/** Query-string parameters, then (for a form-encoded body) the body's, which win. */
function paramsOf(request: StsRequest): URLSearchParams {
  const params = queryOf(request.url);
  const contentType = headerValue(request.headers, 'content-type')?.toLowerCase() ?? '';
  if (
    request.body !== '' &&
    (contentType === '' || contentType.startsWith('application/x-www-form-urlencoded'))
  ) {
    for (const [name, value] of new URLSearchParams(request.body)) params.set(name, value);
  }
  return params;
}

function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
}

/** The access key and service of a SigV4 `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
function credentialOf(
  authorization: string | undefined,
): { accessKeyId: string; service: string } | undefined {
  const match = /Credential=([^/,\s]+)\/[^/,\s]*\/[^/,\s]*\/([^/,\s]*)/.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  return { accessKeyId: match[1], service: match[2] ?? '' };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.trim() !== '' ? first : undefined;
}

/** Text content of an XML element: the five predefined entities, and no control characters. */
function xmlText(value: string): string {
  return (
    value
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // eslint-disable-next-line no-control-regex -- XML 1.0 cannot carry these at all
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
  );
}
