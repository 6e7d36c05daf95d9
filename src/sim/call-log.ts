/**
 * The log of every KMS request the simulator received, refused ones too, in arrival order, for
 * tests and audits ("did the runner really call Disconnect once?"). Secrets are redacted from the
 * recorded parameters. The log is bounded so that a long benchmark cannot exhaust memory; the
 * oldest entries go first.
 */
import { isJsonObject } from './protocol';
import { SENSITIVE_MEMBERS } from './validation';

export interface SimCall {
  /** ISO-8601 time the request arrived. */
  at: string;
  /** The operation from `X-Amz-Target` (without `TrentService.`), or '' when there was none. */
  operation: string;
  params: Record<string, unknown>;
  /** 'ok', or the name of the exception returned. */
  outcome: string;
  /** Equal to the response's `x-amzn-RequestId`. */
  requestId: string;
}

export interface CallFilter {
  operation?: string | undefined;
  customKeyStoreId?: string | undefined;
}

export const CALL_LOG_LIMIT = 50_000;
const REDACTED = '<redacted>';

export class CallLog {
  private calls: SimCall[] = [];

  constructor(private readonly limit = CALL_LOG_LIMIT) {}

  record(call: SimCall): void {
    this.calls.push({ ...call, params: redact(call.params) });
    if (this.calls.length > this.limit) this.calls.splice(0, this.calls.length - this.limit);
  }

  list(filter: CallFilter = {}): SimCall[] {
    return this.calls.filter(
      (call) =>
        (filter.operation === undefined || call.operation === filter.operation) &&
        (filter.customKeyStoreId === undefined ||
          call.params['CustomKeyStoreId'] === filter.customKeyStoreId),
    );
  }

  clear(): void {
    this.calls = [];
  }
}

export function redact(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (SENSITIVE_MEMBERS.has(key)) out[key] = REDACTED;
    else if (isJsonObject(value)) out[key] = redact(value);
    else out[key] = value;
  }
  return out;
}
