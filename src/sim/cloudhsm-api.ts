/**
 * The simulator's CloudHSM v2 endpoint, on the same port as KMS: `DescribeClusters`, in AWS JSON
 * 1.1 (`POST /`, `X-Amz-Target: BaldrApiService.DescribeClusters`, `application/x-amz-json-1.1`),
 * so that the unmodified `@aws-sdk/client-cloudhsm-v2` reads the clusters KMS connects CloudHSM
 * key stores to. Shapes and exception names follow the CloudHSM v2 service model.
 *
 * A request acts in the partition its caller's access key and its signature's Region choose,
 * exactly as a KMS request does (iam.ts). Checks, in order: `Authorization` present
 * (`MissingAuthenticationTokenException`), a served Region (`InvalidSignatureException`), a valid
 * access key (`UnrecognizedClientException`, `ExpiredTokenException`); a JSON object body
 * (`SerializationException`); a served operation (`UnknownOperationException`); the model's
 * constraints and the filters (`CloudHsmInvalidRequestException`); injected faults naming the
 * operation (a `*` fault is for KMS, not here); then the answer. Every error
 * is `{"__type": <name>, "Message": …}` (the model's member is `Message`), a 400, and a 500 for
 * `CloudHsmInternalFailureException`, the model's one server fault. Requests land in the call log.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { CLUSTER_ID_PATTERN, CLUSTER_STATES, clusterView, type ClusterRecord } from './cloudhsm-clusters';
import type { Caller } from './iam';
import { isJsonObject, KmsError, type JsonObject } from './protocol';
import { headerValue, sessionTokenOf, signingScopeOf } from './sigv4';
import type { Simulator } from './simulator';
import { underFaults } from './faults';
import { parseRequest } from './validation';

export const CLOUDHSM_TARGET_PREFIX = 'BaldrApiService.';
export const CLOUDHSM_OPERATIONS = ['DescribeClusters'] as const;

export function isCloudHsmOperation(name: string): boolean {
  return (CLOUDHSM_OPERATIONS as readonly string[]).includes(name);
}

export interface CloudHsmRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  bodyTooLarge?: boolean;
}

export interface CloudHsmResponse {
  status: number;
  body: JsonObject;
  errorType: string | undefined;
}

/** A request on the shared port is CloudHSM's when its target names the CloudHSM v2 service. */
export function isCloudHsmRequest(headers: IncomingHttpHeaders): boolean {
  return headerValue(headers, 'x-amz-target')?.startsWith(CLOUDHSM_TARGET_PREFIX) ?? false;
}

class CloudHsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }

  get status(): number {
    return this.type === 'CloudHsmInternalFailureException' ? 500 : 400;
  }
}

const FILTER_NAMES = ['clusterIds', 'states', 'vpcIds'] as const;

const describeClustersSchema = z.object({
  Filters: z
    .record(z.string().regex(/^[a-zA-Z0-9_-]+$/), z.array(z.string()))
    .refine((filters) => Object.keys(filters).length <= 30, {
      params: { constraint: 'Member must have length less than or equal to 30' },
    })
    .optional(),
  NextToken: z.string().max(256).optional(),
  MaxResults: z.int().min(1).max(25).optional(),
});

export async function handleCloudHsmRequest(
  sim: Simulator,
  request: CloudHsmRequest,
  requestId: string,
): Promise<CloudHsmResponse> {
  const startedAt = sim.now();
  const target = headerValue(request.headers, 'x-amz-target') ?? '';
  const operation = target.slice(CLOUDHSM_TARGET_PREFIX.length);
  let params: Record<string, unknown> = {};
  let region: string | undefined;
  let caller: Caller | undefined;
  let response: CloudHsmResponse;
  try {
    if (request.bodyTooLarge)
      throw new CloudHsmError('SerializationException', 'The request body exceeds 1 MiB.');
    if (!headerValue(request.headers, 'authorization')) {
      throw new CloudHsmError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    }
    const { scope } = signingScopeOf(request.headers, '');
    region = scope?.region || sim.arn.region;
    if (!sim.serves(region)) {
      throw new CloudHsmError(
        'InvalidSignatureException',
        `Credential should be scoped to a valid region, not '${region}'.`,
      );
    }
    caller = authenticate(sim, scope?.accessKeyId, sessionTokenOf(request.headers, ''));
    const partition = sim.partition({ account: caller.account, region });
    params = parseBody(request.body);
    if (request.method !== 'POST' || !isCloudHsmOperation(operation)) {
      throw new CloudHsmError('UnknownOperationException', `Unknown operation ${target}`);
    }
    const body = await underFaults(
      sim,
      operation,
      (type, message) => new CloudHsmError(type, message),
      () => describeClusters(partition.state.clusters, params),
    );
    response = { status: 200, body, errorType: undefined };
  } catch (err) {
    response = errorResponse(sim, err);
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
    `CloudHSM ${operation || '(none)'} -> ${response.errorType ?? 'ok'} ${response.status} ${requestId}`,
  );
  return response;
}

function describeClusters(
  clusters: ReadonlyMap<string, ClusterRecord>,
  params: Record<string, unknown>,
): JsonObject {
  const input = asCloudHsmValidation(() => parseRequest(describeClustersSchema, params));
  const filters = input.Filters ?? {};
  for (const [name, values] of Object.entries(filters)) {
    if (!(FILTER_NAMES as readonly string[]).includes(name)) {
      throw new CloudHsmError(
        'CloudHsmInvalidRequestException',
        `Invalid filter: ${name}. DescribeClusters filters are ${FILTER_NAMES.join(', ')}.`,
      );
    }
    const bad =
      name === 'states' ? values.find((v) => !(CLUSTER_STATES as readonly string[]).includes(v)) : undefined;
    if (bad !== undefined) {
      throw new CloudHsmError(
        'CloudHsmInvalidRequestException',
        `Invalid value ${bad} for filter states: must be one of ${CLUSTER_STATES.join(', ')}.`,
      );
    }
    const badId = name === 'clusterIds' ? values.find((v) => !CLUSTER_ID_PATTERN.test(v)) : undefined;
    if (badId !== undefined) {
      throw new CloudHsmError(
        'CloudHsmInvalidRequestException',
        `Invalid cluster id ${badId} in filter clusterIds.`,
      );
    }
  }
  const matching = [...clusters.values()]
    .filter(
      (cluster) =>
        (filters['clusterIds']?.includes(cluster.clusterId) ?? true) &&
        (filters['states']?.includes(cluster.state) ?? true) &&
        (filters['vpcIds']?.includes(cluster.vpcId) ?? true),
    )
    .sort((a, b) => (a.clusterId < b.clusterId ? -1 : a.clusterId > b.clusterId ? 1 : 0));
  const start = input.NextToken === undefined ? 0 : tokenStart(matching, input.NextToken);
  const size = input.MaxResults ?? 25;
  const page = matching.slice(start, start + size);
  const last = page[page.length - 1];
  return {
    Clusters: page.map(clusterView),
    NextToken:
      start + size < matching.length && last
        ? Buffer.from(last.clusterId, 'utf8').toString('base64url')
        : undefined,
  };
}

/** A token names the last cluster of the previous page, so paging survives clusters coming and going. */
function tokenStart(sorted: readonly ClusterRecord[], token: string): number {
  const after = Buffer.from(token, 'base64url').toString('utf8');
  if (!CLUSTER_ID_PATTERN.test(after)) {
    throw new CloudHsmError('CloudHsmInvalidRequestException', 'The NextToken is not valid.');
  }
  const index = sorted.findIndex((cluster) => cluster.clusterId > after);
  return index === -1 ? sorted.length : index;
}

/** The model's constraint violations are CloudHSM's `CloudHsmInvalidRequestException`. */
function asCloudHsmValidation<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof KmsError && err.type === 'ValidationException') {
      throw new CloudHsmError('CloudHsmInvalidRequestException', err.message);
    }
    if (err instanceof KmsError) throw new CloudHsmError(err.type, err.message);
    throw err;
  }
}

function parseBody(body: string): Record<string, unknown> {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new CloudHsmError('SerializationException', 'The request body is not valid JSON.');
  }
  if (!isJsonObject(parsed))
    throw new CloudHsmError('SerializationException', 'The request body must be a JSON object.');
  return parsed;
}

function authenticate(
  sim: Simulator,
  accessKeyId: string | undefined,
  sessionToken: string | undefined,
): Caller {
  const result = sim.iam.authenticate(accessKeyId, sessionToken, sim.now());
  if (result.ok) return result.caller;
  if (result.reason === 'expired-token') {
    throw new CloudHsmError('ExpiredTokenException', 'The security token included in the request is expired');
  }
  throw new CloudHsmError(
    'UnrecognizedClientException',
    'The security token included in the request is invalid.',
  );
}

function errorResponse(sim: Simulator, err: unknown): CloudHsmResponse {
  const error =
    err instanceof CloudHsmError
      ? err
      : new CloudHsmError('CloudHsmInternalFailureException', 'The simulator failed to process the request.');
  if (!(err instanceof CloudHsmError)) {
    sim.log(`CloudHSM internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  return {
    status: error.status,
    body: { __type: error.type, Message: error.message },
    errorType: error.type,
  };
}
