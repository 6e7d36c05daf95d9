/**
 * One KMS request, from headers and body to status and JSON body. The checks run in the order
 * every tool relies on:
 *
 *   0. the body is at most `MAX_BODY_BYTES`, else a 413 `RequestEntityTooLargeException` (the
 *      body was not kept, so nothing else can be judged);
 *   1. `Authorization` present, else `MissingAuthenticationTokenException`; its SigV4 scope names
 *      a served Region, else `InvalidSignatureException` (signatures themselves are not
 *      verified); and its access key is one the simulator accepts (iam.ts): temporary credentials
 *      need their session token (`UnrecognizedClientException`) and must not have expired
 *      (`ExpiredTokenException`). The key's account and the signed Region choose the partition
 *      the request acts on;
 *   2. the body parses as a JSON object, else `SerializationException`;
 *   3. `POST` with `X-Amz-Target: TrentService.<a served operation>`, else
 *      `UnknownOperationException`;
 *   4. the request quota of the partition (custom key store operations only), else
 *      `ThrottlingException`;
 *   5. injected faults (latency, then the chosen exception);
 *   6. the operation: parameter validation, then its state rules;
 *   7. injected `after` faults: the operation took effect, then latency and/or an exception
 *      replace the answer.
 *
 * Every request, refused or not, lands in the call log with its request id (a bounded copy of its
 * parameters: see call-log.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from './iam';
import { isCustomKeyStoreOperation, isKmsOperation } from './model';
import { OPERATIONS } from './operations';
import {
  BODY_TOO_LARGE_EXCEPTION,
  BODY_TOO_LARGE_MESSAGE,
  isJsonObject,
  KMS_TARGET_PREFIX,
  KmsError,
  type JsonObject,
} from './protocol';
import { headerValue, sessionTokenOf, signingScopeOf } from './sigv4';
import type { Simulator } from './simulator';

export interface KmsRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body exceeded `MAX_BODY_BYTES` and was not kept. */
  bodyTooLarge?: boolean;
}

export interface KmsResponse {
  status: number;
  body: JsonObject;
  errorType?: string | undefined;
}

export async function handleKmsRequest(
  sim: Simulator,
  request: KmsRequest,
  requestId: string,
): Promise<KmsResponse> {
  const startedAt = sim.now();
  const target = headerValue(request.headers, 'x-amz-target') ?? '';
  const operation = target.startsWith(KMS_TARGET_PREFIX) ? target.slice(KMS_TARGET_PREFIX.length) : target;
  let params: Record<string, unknown> = {};
  let response: KmsResponse;
  let region: string | undefined;
  let caller: Caller | undefined;
  try {
    if (request.bodyTooLarge) throw new KmsError(BODY_TOO_LARGE_EXCEPTION, BODY_TOO_LARGE_MESSAGE);
    const authorization = headerValue(request.headers, 'authorization');
    if (!authorization) {
      throw new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const { scope } = signingScopeOf(request.headers, '');
    // Each Region's endpoint refuses a request signed for a Region it is not, as KMS does: a
    // client configured for an unserved Region fails loudly instead of reading another's stores.
    const signedFor = scope?.region || undefined;
    region = signedFor ?? sim.arn.region;
    if (!sim.serves(region)) {
      throw new KmsError(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${region}'.`,
      );
    }
    caller = authenticate(sim, scope?.accessKeyId, sessionTokenOf(request.headers, ''));
    const partition = sim.partition({ account: caller.account, region });
    params = parseBody(request);
    if (request.method !== 'POST' || !target.startsWith(KMS_TARGET_PREFIX) || !isKmsOperation(operation)) {
      throw new KmsError(
        'UnknownOperationException',
        target ? `Unknown operation ${target}` : 'Missing X-Amz-Target header: no operation named',
      );
    }
    if (isCustomKeyStoreOperation(operation) && !sim.quota.admit(operation, sim.now(), partition.key)) {
      throw new KmsError(
        'ThrottlingException',
        `Rate exceeded: ${operation} is limited to ${sim.quota.rate} requests per second in this account and Region.`,
      );
    }
    const fault = sim.faults.decide(operation);
    await sim.sleep(fault.latencyMs);
    if (fault.error) throw fault.error;
    sim.advanceStores();
    const body = OPERATIONS[operation](sim.scope(partition, caller), params);
    await sim.sleep(fault.latencyAfterMs);
    if (fault.errorAfter) throw fault.errorAfter;
    response = { status: 200, body };
  } catch (err) {
    response = errorResponse(sim, err, operation);
  }
  sim.calls.record({
    at: new Date(startedAt).toISOString(),
    operation,
    params,
    outcome: response.errorType ?? 'ok',
    requestId,
    account: caller?.account,
    region,
    principal: caller?.arn,
  });
  sim.log(
    `KMS ${operation || '(none)'} -> ${response.errorType ?? 'ok'} ${response.status} ` +
      `${sim.now() - startedAt}ms ${requestId}`,
  );
  return response;
}

function errorResponse(sim: Simulator, err: unknown, operation: string): KmsResponse {
  if (err instanceof KmsError) return { status: err.status, body: err.toJson(), errorType: err.type };
  // A bug in the simulator must still look like KMS to the caller, never like a crash.
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  sim.log(`KMS ${operation} internal error: ${detail}`);
  const internal = new KmsError('KMSInternalException', 'The simulator failed to process the request.');
  return { status: internal.status, body: internal.toJson(), errorType: internal.type };
}

function parseBody(request: KmsRequest): Record<string, unknown> {
  if (request.body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(request.body);
  } catch {
    throw new KmsError('SerializationException', 'The request body is not valid JSON.');
  }
  if (!isJsonObject(parsed)) {
    throw new KmsError('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed;
}

/**
 * The caller of an access key, with the errors KMS gives for bad temporary credentials (the AWS
 * JSON protocol's common errors; not in the KMS model, so the SDK raises a `KMSServiceException`
 * by that name).
 */
function authenticate(
  sim: Simulator,
  accessKeyId: string | undefined,
  sessionToken: string | undefined,
): Caller {
  const result = sim.iam.authenticate(accessKeyId, sessionToken, sim.now());
  if (result.ok) return result.caller;
  if (result.reason === 'expired-token') {
    throw new KmsError('ExpiredTokenException', 'The security token included in the request is expired');
  }
  throw new KmsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
}
