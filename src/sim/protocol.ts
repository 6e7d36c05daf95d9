/**
 * The AWS JSON 1.1 wire protocol as KMS speaks it: `POST /` with
 * `X-Amz-Target: TrentService.<Operation>`, JSON bodies, timestamps as epoch seconds, blobs as
 * base64, and errors as `{"__type": "<ExceptionName>", "message": "..."}` with the HTTP status the
 * KMS service model gives the exception. The AWS SDK picks the exception class from `__type`, so
 * the name must be exact; the status decides whether the SDK treats it as a client or server fault
 * (and whether its retry strategy retries it).
 *
 * Request bodies, on the KMS endpoint and the control API alike, are limited to `MAX_BODY_BYTES`:
 * a larger one is answered 413 without being kept or parsed, as an HTTP front end refuses a
 * request entity that is too large (KMS's own requests are tens of KiB at most).
 */

export const KMS_TARGET_PREFIX = 'TrentService.';
export const KMS_CONTENT_TYPE = 'application/x-amz-json-1.1';

/** Request bodies above this are refused with a 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** The exception name of that 413 on the KMS endpoint (the control API says `RequestEntityTooLarge`). */
export const BODY_TOO_LARGE_EXCEPTION = 'RequestEntityTooLargeException';
export const BODY_TOO_LARGE_MESSAGE = `Request Entity Too Large: the request body exceeds the limit of ${MAX_BODY_BYTES} bytes (1 MiB).`;

/** JSON values as the simulator writes them (undefined members are dropped by JSON.stringify). */
export type Json = string | number | boolean | null | readonly Json[] | JsonObject;
export interface JsonObject {
  readonly [key: string]: Json | undefined;
}

/**
 * HTTP status per exception, from the `smithy.api#httpError` traits of the KMS service model
 * (see `@aws-sdk/client-kms`). Everything not listed, including the protocol-level
 * `ThrottlingException`, `ValidationException`, `SerializationException`,
 * `UnknownOperationException`, `AccessDeniedException` and `MissingAuthenticationTokenException`,
 * is a 400.
 */
const STATUS_BY_EXCEPTION: Readonly<Record<string, number>> = {
  AlreadyExistsException: 409,
  ConflictException: 409,
  DisabledException: 409,
  KMSInvalidStateException: 409,
  DryRunOperationException: 412,
  NotFoundException: 404,
  KMSInternalException: 500,
  KeyUnavailableException: 500,
  InternalFailure: 500,
  DependencyTimeoutException: 503,
  ServiceUnavailableException: 503,
  // Not in the model: the front end's answer to a body over MAX_BODY_BYTES.
  [BODY_TOO_LARGE_EXCEPTION]: 413,
};

export function statusForException(name: string): number {
  return STATUS_BY_EXCEPTION[name] ?? 400;
}

/** Exception names look like this on the wire; used to vet injected fault types. */
export const EXCEPTION_NAME_PATTERN = /^[A-Z][A-Za-z0-9]{2,127}$/;

/** A KMS error response. Thrown by operations, turned into a wire error by the server. */
export class KmsError extends Error {
  readonly status: number;
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
    this.status = statusForException(type);
  }

  toJson(): JsonObject {
    return { __type: this.type, message: this.message };
  }
}

/** KMS timestamps are epoch seconds (with a fraction) on the wire. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** Strict base64 (the SDK always sends padded standard base64); `Buffer.from` alone accepts junk. */
export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
