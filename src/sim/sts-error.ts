/**
 * STS's error answers (AWS Query protocol): a code, a message and the HTTP status STS uses for the
 * code. The authentication errors are 403s, as STS answers them; everything not listed is a 400
 * (a `Sender` fault).
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  AccessDenied: 403,
  ExpiredToken: 403,
  InvalidClientTokenId: 403,
  MissingAuthenticationToken: 403,
  OptInRequired: 403,
  SignatureDoesNotMatch: 403,
  RegionDisabledException: 403,
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
