/**
 * The simulator's CloudWatch endpoint, on the same port as KMS and STS: metric alarms
 * (cloudwatch-alarms.ts) over AWS JSON 1.0 (cloudwatch-protocol.ts). A request is CloudWatch's when
 * its `X-Amz-Target` starts with `GraniteServiceVersion20100801.` — decided from the headers alone,
 * so a body too large to keep is still answered in CloudWatch's protocol. The SDK's
 * `AWS_ENDPOINT_URL_CLOUDWATCH` (or `endpoint`) points it here.
 *
 * Checks, in the KMS endpoint's order (kms-api.ts): a body of at most `MAX_BODY_BYTES` (413);
 * `Authorization` present (`MissingAuthenticationTokenException`) and scoped to a served Region
 * (`InvalidSignatureException`); the access key (iam.ts), whose account and the signed Region pick
 * the partition exactly as for KMS; the body a JSON object (`SerializationException`); a served
 * operation (`UnknownOperationException`); injected faults naming the operation (a `*` fault is for
 * KMS operations only); then the operation. No request quota is modelled. Every request lands in
 * the call log.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  deleteAlarms,
  describeAlarms,
  putMetricAlarm,
  setAlarmState,
  alarmsOf,
  type AlarmScope,
} from './cloudwatch-alarms';
import {
  CLOUDWATCH_TARGET_PREFIX,
  CloudWatchError,
  isCloudWatchOperation,
  type CloudWatchOperation,
} from './cloudwatch-protocol';
import {
  deleteAlarmsSchema,
  describeAlarmsSchema,
  parseCloudWatchRequest,
  putMetricAlarmSchema,
  setAlarmStateSchema,
} from './cloudwatch-validation';
import type { Caller } from './iam';
import { underFaults } from './faults';
import { BODY_TOO_LARGE_EXCEPTION, BODY_TOO_LARGE_MESSAGE, isJsonObject, type JsonObject } from './protocol';
import { headerValue, sessionTokenOf, signingScopeOf } from './sigv4';
import type { Simulator } from './simulator';

export { CLOUDWATCH_CONTENT_TYPE, CLOUDWATCH_OPERATIONS, isCloudWatchOperation } from './cloudwatch-protocol';

export interface CloudWatchRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  bodyTooLarge?: boolean;
}

export interface CloudWatchResponse {
  status: number;
  body: JsonObject;
  errorType?: string | undefined;
  /** The `x-amzn-query-error` header's value, for errors of the model. */
  queryError?: string | undefined;
}

/** Whether a request on the shared port is for CloudWatch (its `X-Amz-Target`). */
export function isCloudWatchRequest(headers: IncomingHttpHeaders): boolean {
  return headerValue(headers, 'x-amz-target')?.startsWith(CLOUDWATCH_TARGET_PREFIX) ?? false;
}

const OPERATIONS: Readonly<
  Record<CloudWatchOperation, (scope: AlarmScope, params: Record<string, unknown>) => JsonObject>
> = {
  PutMetricAlarm: (scope, params) =>
    putMetricAlarm(scope, parseCloudWatchRequest(putMetricAlarmSchema, params)),
  DescribeAlarms: (scope, params) =>
    describeAlarms(scope, parseCloudWatchRequest(describeAlarmsSchema, params)),
  SetAlarmState: (scope, params) => setAlarmState(scope, parseCloudWatchRequest(setAlarmStateSchema, params)),
  DeleteAlarms: (scope, params) => deleteAlarms(scope, parseCloudWatchRequest(deleteAlarmsSchema, params)),
};

export async function handleCloudWatchRequest(
  sim: Simulator,
  request: CloudWatchRequest,
  requestId: string,
): Promise<CloudWatchResponse> {
  const startedAt = sim.now();
  const target = headerValue(request.headers, 'x-amz-target') ?? '';
  const operation = target.slice(CLOUDWATCH_TARGET_PREFIX.length);
  let params: Record<string, unknown> = {};
  let response: CloudWatchResponse;
  let region: string | undefined;
  let caller: Caller | undefined;
  try {
    if (request.bodyTooLarge) throw new CloudWatchError(BODY_TOO_LARGE_EXCEPTION, BODY_TOO_LARGE_MESSAGE);
    if (!headerValue(request.headers, 'authorization')) {
      throw new CloudWatchError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const { scope } = signingScopeOf(request.headers, '');
    region = scope?.region || sim.arn.region;
    if (!sim.serves(region)) {
      throw new CloudWatchError(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${region}'.`,
      );
    }
    caller = authenticate(sim, scope?.accessKeyId, sessionTokenOf(request.headers, ''));
    const partition = sim.partition({ account: caller.account, region });
    params = parseBody(request.body);
    if (request.method !== 'POST' || !isCloudWatchOperation(operation)) {
      throw new CloudWatchError('UnknownOperationException', `Unknown operation ${target}`);
    }
    const body = await underFaults(
      sim,
      operation,
      (type, message) => new CloudWatchError(type, message),
      () =>
        OPERATIONS[operation](
          {
            alarms: alarmsOf(partition.state),
            arn: partition.arn,
            now: () => sim.now(),
            persist: () => sim.persist(),
          },
          params,
        ),
    );
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
    `CloudWatch ${operation || '(none)'} -> ${response.errorType ?? 'ok'} ${response.status} ` +
      `${sim.now() - startedAt}ms ${requestId}`,
  );
  return response;
}

function errorResponse(sim: Simulator, err: unknown, operation: string): CloudWatchResponse {
  let error: CloudWatchError;
  if (err instanceof CloudWatchError) error = err;
  else {
    // A bug in the simulator must still look like CloudWatch to the caller, never like a crash.
    sim.log(
      `CloudWatch ${operation} internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    error = new CloudWatchError('InternalServiceFault', 'The simulator failed to process the request.');
  }
  return { status: error.status, body: error.toJson(), errorType: error.type, queryError: error.queryError };
}

function parseBody(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new CloudWatchError('SerializationException', 'The request body is not valid JSON.');
  }
  if (!isJsonObject(parsed)) {
    throw new CloudWatchError('SerializationException', 'The request body must be a JSON object.');
  }
  return parsed;
}

/** The same answers to bad temporary credentials as the KMS endpoint's (AWS JSON common errors). */
function authenticate(
  sim: Simulator,
  accessKeyId: string | undefined,
  sessionToken: string | undefined,
): Caller {
  const result = sim.iam.authenticate(accessKeyId, sessionToken, sim.now());
  if (result.ok) return result.caller;
  if (result.reason === 'expired-token') {
    throw new CloudWatchError(
      'ExpiredTokenException',
      'The security token included in the request is expired',
    );
  }
  throw new CloudWatchError(
    'UnrecognizedClientException',
    'The security token included in the request is invalid.',
  );
}
