/**
 * The simulator's STS endpoint, on the same port as KMS: `GetCallerIdentity` ("whose credentials
 * are these, in which account?", as `keystore-maint doctor` asks) and `AssumeRole` (temporary
 * credentials of a role, usually in another account; see assume-role.ts). STS speaks the AWS
 * Query protocol, not JSON 1.1:
 *
 *   - the request is `POST /` with a form-encoded body (`Content-Type:
 *     application/x-www-form-urlencoded`), `Action=<operation>&Version=2011-06-15&…` (parameters
 *     in the query string are read too, as STS accepts a GET);
 *   - the answer is XML in the STS namespace, the result inside `<<Operation>Result>`, the
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
 * `Credential=` (400 `IncompleteSignature`; signatures are not verified); the access key (iam.ts:
 * a temporary key without its session token is 403 `InvalidClientTokenId`, an expired one 403
 * `ExpiredToken`); `Action` present (400 `MissingAction`) and served, of version `2011-06-15` (400
 * `InvalidAction`); injected faults whose `operation` names the action (a `*` fault is for KMS
 * operations only); then the operation.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { assumeRole, parseAssumeRole } from './assume-role';
import type { Caller } from './iam';
import { underFaults } from './faults';
import { MAX_BODY_BYTES } from './protocol';
import { headerValue, queryOf, sessionTokenOf, signingScopeOf } from './sigv4';
import type { Simulator } from './simulator';
import { StsError } from './sts-error';

export { SIMULATED_USER_NAME, userIdFor } from './iam';
export { StsError, stsStatusFor } from './sts-error';

export const STS_VERSION = '2011-06-15';
export const STS_XML_NAMESPACE = `https://sts.amazonaws.com/doc/${STS_VERSION}/`;
export const STS_CONTENT_TYPE = 'text/xml';
/** The STS operations the simulator serves. */
export const STS_OPERATIONS = ['GetCallerIdentity', 'AssumeRole'] as const;
export type StsOperation = (typeof STS_OPERATIONS)[number];

/** The call log keeps the operation's own parameters, not the protocol's. */
const UNLOGGED_PARAMETERS = new Set(['Action', 'Version']);
/** An external id works like a shared secret and an MFA code is one: neither is logged. */
const REDACTED_PARAMETERS = new Set(['ExternalId', 'TokenCode']);

export function isStsOperation(name: string): name is StsOperation {
  return (STS_OPERATIONS as readonly string[]).includes(name);
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
  return signingScopeOf(headers, '').scope?.service === 'sts';
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
  for (const [name, value] of params) {
    if (!UNLOGGED_PARAMETERS.has(name)) recorded[name] = REDACTED_PARAMETERS.has(name) ? '<redacted>' : value;
  }
  let response: StsResponse;
  let caller: Caller | undefined;
  let region: string | undefined;
  try {
    if (request.bodyTooLarge) {
      throw new StsError(
        'RequestEntityTooLarge',
        `Request Entity Too Large: the request body exceeds the limit of ${MAX_BODY_BYTES} bytes (1 MiB).`,
      );
    }
    const { scope, authorization } = signingScopeOf(request.headers, request.url);
    if (!authorization) {
      throw new StsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    if (!scope) {
      throw new StsError(
        'IncompleteSignature',
        "Authorization header requires 'Credential' parameter naming an access key.",
      );
    }
    region = scope.region || undefined;
    const authenticated = authenticate(sim, scope.accessKeyId, sessionTokenOf(request.headers, request.url));
    caller = authenticated;
    if (!action) throw new StsError('MissingAction', 'Missing Action');
    const version = params.get('Version');
    if (!isStsOperation(action) || version !== STS_VERSION) {
      throw new StsError(
        'InvalidAction',
        `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`,
      );
    }
    const body = await underFaults(
      sim,
      action,
      (type, message) => new StsError(type, message),
      () =>
        action === 'AssumeRole'
          ? assumeRoleXml(sim, authenticated, params, requestId)
          : callerIdentityXml(authenticated, requestId),
    );
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
    account: caller?.account,
    region,
    principal: caller?.arn,
  });
  sim.log(
    `STS ${action || '(none)'} -> ${response.errorType ?? 'ok'} ${response.status} ` +
      `${sim.now() - startedAt}ms ${requestId}`,
  );
  return response;
}

/** STS's answers to bad temporary credentials. */
function authenticate(sim: Simulator, accessKeyId: string, sessionToken: string | undefined): Caller {
  const result = sim.iam.authenticate(accessKeyId, sessionToken, sim.now());
  if (result.ok) return result.caller;
  if (result.reason === 'expired-token') {
    throw new StsError('ExpiredToken', 'The security token included in the request is expired');
  }
  throw new StsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
}

function callerIdentityXml(caller: Caller, requestId: string): string {
  return queryResponse(
    'GetCallerIdentity',
    [
      `    <Arn>${xmlText(caller.arn)}</Arn>`,
      `    <UserId>${xmlText(caller.userId)}</UserId>`,
      `    <Account>${xmlText(caller.account)}</Account>`,
    ],
    requestId,
  );
}

function assumeRoleXml(sim: Simulator, caller: Caller, params: URLSearchParams, requestId: string): string {
  const { session } = assumeRole(sim, caller, parseAssumeRole(params));
  return queryResponse(
    'AssumeRole',
    [
      '    <Credentials>',
      `      <AccessKeyId>${xmlText(session.accessKeyId)}</AccessKeyId>`,
      `      <SecretAccessKey>${xmlText(session.secretAccessKey)}</SecretAccessKey>`,
      `      <SessionToken>${xmlText(session.sessionToken)}</SessionToken>`,
      // STS writes expirations to the second, in UTC.
      `      <Expiration>${new Date(session.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>`,
      '    </Credentials>',
      '    <AssumedRoleUser>',
      `      <AssumedRoleId>${xmlText(session.assumedRoleId)}</AssumedRoleId>`,
      `      <Arn>${xmlText(session.arn)}</Arn>`,
      '    </AssumedRoleUser>',
    ],
    requestId,
  );
}

function queryResponse(operation: string, resultLines: readonly string[], requestId: string): string {
  return [
    `<${operation}Response xmlns="${STS_XML_NAMESPACE}">`,
    `  <${operation}Result>`,
    ...resultLines,
    `  </${operation}Result>`,
    '  <ResponseMetadata>',
    `    <RequestId>${xmlText(requestId)}</RequestId>`,
    '  </ResponseMetadata>',
    `</${operation}Response>`,
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
