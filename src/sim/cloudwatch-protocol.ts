/**
 * CloudWatch's wire protocol as `@aws-sdk/client-cloudwatch` (3.x, the model's `awsQueryCompatible`
 * JSON variant) speaks it: AWS JSON 1.0, `POST /` with
 * `X-Amz-Target: GraniteServiceVersion20100801.<Operation>` and
 * `Content-Type: application/x-amz-json-1.0`; timestamps as epoch seconds.
 *
 * Errors are `{"__type": "com.amazonaws.cloudwatch#<Shape>", "message": "..."}` with the HTTP
 * status of the shape's `smithy.api#httpError` trait, plus, because the service was a Query
 * service before it spoke JSON, the header `x-amzn-query-error: <Query code>;Sender|Receiver` with
 * the shape's `aws.protocols#awsQueryError` code. The SDK reads that header first: with it,
 * `InvalidParameterValueException` still carries `Error.Code: "InvalidParameterValue"`, which is
 * what code written for the Query protocol compares against. Errors the model does not define
 * (`ThrottlingException`, `MissingAuthenticationTokenException`, ...) have no Query code and are
 * sent with `__type` alone; the SDK raises them as a `CloudWatchServiceException` by that name.
 */
import type { JsonObject } from './protocol';

export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';
export const CLOUDWATCH_CONTENT_TYPE = 'application/x-amz-json-1.0';
export const CLOUDWATCH_NAMESPACE = 'com.amazonaws.cloudwatch';
/** The header carrying the Query protocol's error code and fault. */
export const QUERY_ERROR_HEADER = 'x-amzn-query-error';

/** The CloudWatch operations the simulator serves. */
export const CLOUDWATCH_OPERATIONS = [
  'PutMetricAlarm',
  'DescribeAlarms',
  'SetAlarmState',
  'DeleteAlarms',
] as const;
export type CloudWatchOperation = (typeof CLOUDWATCH_OPERATIONS)[number];

export function isCloudWatchOperation(name: string): name is CloudWatchOperation {
  return (CLOUDWATCH_OPERATIONS as readonly string[]).includes(name);
}

interface ModelError {
  readonly status: number;
  /** `aws.protocols#awsQueryError`; absent for shapes without one. */
  readonly queryCode?: string;
  /** The member holding the message: most shapes say `message`, a few `Message`. */
  readonly messageMember: 'message' | 'Message';
}

/** Every error shape of the CloudWatch model (`@aws-sdk/client-cloudwatch`'s schemas). */
const MODEL_ERRORS: Readonly<Record<string, ModelError>> = {
  ConcurrentModificationException: {
    status: 429,
    queryCode: 'ConcurrentModificationException',
    messageMember: 'Message',
  },
  ConflictException: { status: 409, messageMember: 'Message' },
  DashboardInvalidInputError: { status: 400, queryCode: 'InvalidParameterInput', messageMember: 'message' },
  DashboardNotFoundError: { status: 404, queryCode: 'ResourceNotFound', messageMember: 'message' },
  InternalServiceFault: { status: 500, queryCode: 'InternalServiceError', messageMember: 'Message' },
  InvalidFormatFault: { status: 400, queryCode: 'InvalidFormat', messageMember: 'message' },
  InvalidNextToken: { status: 400, queryCode: 'InvalidNextToken', messageMember: 'message' },
  InvalidParameterCombinationException: {
    status: 400,
    queryCode: 'InvalidParameterCombination',
    messageMember: 'message',
  },
  InvalidParameterValueException: {
    status: 400,
    queryCode: 'InvalidParameterValue',
    messageMember: 'message',
  },
  LimitExceededException: { status: 400, queryCode: 'LimitExceededException', messageMember: 'Message' },
  LimitExceededFault: { status: 400, queryCode: 'LimitExceeded', messageMember: 'message' },
  MissingRequiredParameterException: { status: 400, queryCode: 'MissingParameter', messageMember: 'message' },
  ResourceConflict: { status: 409, queryCode: 'ResourceConflict', messageMember: 'message' },
  ResourceNotFound: { status: 404, queryCode: 'ResourceNotFound', messageMember: 'message' },
  ResourceNotFoundException: {
    status: 404,
    queryCode: 'ResourceNotFoundException',
    messageMember: 'Message',
  },
  ValidationException: { status: 400, queryCode: 'ValidationError', messageMember: 'message' },
};

/** Errors outside the model that are not client faults (everything else is a 400). */
const COMMON_STATUS: Readonly<Record<string, number>> = {
  InternalFailure: 500,
  ServiceUnavailable: 503,
  RequestEntityTooLargeException: 413,
};

/** A CloudWatch error answer. Thrown by operations, turned into a wire error by the endpoint. */
export class CloudWatchError extends Error {
  readonly status: number;
  /** `<Query code>;Sender|Receiver`, or undefined for errors outside the model. */
  readonly queryError: string | undefined;

  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
    const model = MODEL_ERRORS[type];
    this.status = model?.status ?? COMMON_STATUS[type] ?? 400;
    this.queryError = model?.queryCode
      ? `${model.queryCode};${this.status >= 500 ? 'Receiver' : 'Sender'}`
      : undefined;
  }

  toJson(): JsonObject {
    const model = MODEL_ERRORS[this.type];
    if (!model) return { __type: this.type, message: this.message };
    return { __type: `${CLOUDWATCH_NAMESPACE}#${this.type}`, [model.messageMember]: this.message };
  }
}

/** CloudWatch timestamps are epoch seconds (with a fraction) on the wire. */
export function cloudWatchTime(ms: number): number {
  return ms / 1000;
}
