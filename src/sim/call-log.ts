/**
 * The log of every KMS (and STS) request the simulator received, refused ones too, in arrival
 * order, for tests and audits ("did the runner really call Disconnect once?"). Secrets are
 * redacted from the recorded parameters.
 *
 * Requests are recorded as they arrived, before validation, so a caller decides what lands here:
 * the log must stay small whatever it is sent. Each entry keeps a bounded copy of its parameters
 * (`CALL_PARAMS_LIMITS`): nesting deeper than `depth` levels is replaced by a marker, strings
 * longer than `stringChars` are cut to a prefix plus a marker giving their length, and once an
 * entry's copy reaches about `chars` characters of JSON the remaining members or elements are
 * replaced by a marker counting them. The copy is made by a walk no deeper than `depth`, so a
 * hostile body nested thousands of levels deep cannot overflow the stack, and what is stored can
 * always be serialised again by `GET /_sim/calls`. The members tests look for (ids, names, key ids)
 * are far inside these bounds; long blobs (`CiphertextBlob`, a `TrustAnchorCertificate`) keep a
 * prefix.
 *
 * The log itself keeps the newest `CALL_LOG_LIMIT` entries, and fewer when their JSON would exceed
 * `CALL_LOG_CHARS_LIMIT` characters; the oldest entries go first.
 */
import { isJsonObject } from './protocol';
import { SENSITIVE_MEMBERS } from './validation';

export interface SimCall {
  /** ISO-8601 time the request arrived. */
  at: string;
  /**
   * The operation from `X-Amz-Target` (without `TrentService.`), or '' when there was none; for an
   * STS request, its `Action`.
   */
  operation: string;
  params: Record<string, unknown>;
  /** 'ok', or the name of the exception returned. */
  outcome: string;
  /** Equal to the response's `x-amzn-RequestId`. */
  requestId: string;
  /** The caller's account, once its access key was read (absent for requests refused before). */
  account?: string | undefined;
  /** The Region the request was signed for (KMS: the default Region when the scope names none). */
  region?: string | undefined;
  /** The caller's principal ARN (IAM user or assumed-role session), once known. */
  principal?: string | undefined;
}

export interface CallFilter {
  operation?: string | undefined;
  customKeyStoreId?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
  principal?: string | undefined;
}

/** At most this many entries; the oldest go first. */
export const CALL_LOG_LIMIT = 50_000;
/** At most about this many characters of JSON in the whole log; the oldest entries go first. */
export const CALL_LOG_CHARS_LIMIT = 32 * 1024 * 1024;

/** Bounds of one entry's recorded parameters (and of its `operation`, a string too). */
export const CALL_PARAMS_LIMITS = {
  /** Objects and arrays nested deeper than this below the parameters become `TOO_DEEP`. */
  depth: 8,
  /** Longer strings (and member names) keep a prefix and note their length. */
  stringChars: 1024,
  /** Once an entry's parameters reach about this many characters of JSON, the rest is omitted. */
  chars: 4096,
} as const;

export const REDACTED = '<redacted>';
export const TOO_DEEP = '<nested too deep: not kept>';
/** The member that stands for the members of an object left out, e.g. `"12 more members"`. */
export const OMITTED_MEMBER = '<omitted>';
const TRUNCATED_PREFIX_CHARS = 100;

export class CallLog {
  private calls: SimCall[] = [];
  private sizes: number[] = [];
  private totalChars = 0;

  constructor(
    private readonly limit = CALL_LOG_LIMIT,
    private readonly charsLimit = CALL_LOG_CHARS_LIMIT,
  ) {}

  record(call: SimCall): void {
    const entry: SimCall = {
      ...call,
      operation: boundedString(call.operation),
      outcome: boundedString(call.outcome),
      params: boundedParams(call.params),
      // The Region comes from the caller's signature, so it is bounded like the operation.
      region: call.region === undefined ? undefined : boundedString(call.region),
    };
    const size = JSON.stringify(entry).length;
    this.calls.push(entry);
    this.sizes.push(size);
    this.totalChars += size;
    while (this.calls.length > this.limit || (this.totalChars > this.charsLimit && this.calls.length > 1)) {
      this.calls.shift();
      this.totalChars -= this.sizes.shift() ?? 0;
    }
  }

  list(filter: CallFilter = {}): SimCall[] {
    return this.calls.filter(
      (call) =>
        (filter.operation === undefined || call.operation === filter.operation) &&
        (filter.customKeyStoreId === undefined ||
          call.params['CustomKeyStoreId'] === filter.customKeyStoreId) &&
        (filter.account === undefined || call.account === filter.account) &&
        (filter.region === undefined || call.region === filter.region) &&
        (filter.principal === undefined || call.principal === filter.principal),
    );
  }

  clear(): void {
    this.calls = [];
    this.sizes = [];
    this.totalChars = 0;
  }
}

/** What is left to spend on one entry's parameters, in characters of JSON (approximate). */
interface Budget {
  chars: number;
}

/**
 * A copy of `params` within `CALL_PARAMS_LIMITS`, with the sensitive members redacted at any depth.
 * Recursion is at most `depth` levels deep whatever the input.
 */
export function boundedParams(params: Record<string, unknown>): Record<string, unknown> {
  return boundedObject(params, 0, { chars: CALL_PARAMS_LIMITS.chars - 2 });
}

function boundedObject(
  value: Record<string, unknown>,
  depth: number,
  budget: Budget,
): Record<string, unknown> {
  const members = Object.entries(value);
  const kept: [string, unknown][] = [];
  for (const [index, [name, member]] of members.entries()) {
    if (budget.chars <= 0) {
      const rest = members.length - index;
      kept.push([OMITTED_MEMBER, `${rest} more member${rest === 1 ? '' : 's'}`]);
      break;
    }
    const key = boundedString(name);
    budget.chars -= JSON.stringify(key).length + 2;
    kept.push([
      key,
      SENSITIVE_MEMBERS.has(name) ? spend(REDACTED, budget) : boundedValue(member, depth, budget),
    ]);
  }
  // fromEntries defines members, so a member named `__proto__` stays a member, as JSON.parse made it.
  return Object.fromEntries(kept);
}

function boundedArray(value: readonly unknown[], depth: number, budget: Budget): unknown[] {
  const kept: unknown[] = [];
  for (const [index, element] of value.entries()) {
    if (budget.chars <= 0) {
      const rest = value.length - index;
      kept.push(`<omitted: ${rest} more element${rest === 1 ? '' : 's'}>`);
      break;
    }
    budget.chars -= 1;
    kept.push(boundedValue(element, depth, budget));
  }
  return kept;
}

/** A member or element of a container at `depth` (the parameters themselves are depth 0). */
function boundedValue(value: unknown, depth: number, budget: Budget): unknown {
  if (Array.isArray(value) || isJsonObject(value)) {
    if (depth + 1 > CALL_PARAMS_LIMITS.depth) return spend(TOO_DEEP, budget);
    budget.chars -= 2;
    return Array.isArray(value)
      ? boundedArray(value, depth + 1, budget)
      : boundedObject(value, depth + 1, budget);
  }
  if (typeof value === 'string') return spend(boundedString(value), budget);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    budget.chars -= String(value).length;
    return value;
  }
  // Parsed JSON holds nothing else; anything that is not JSON is not kept.
  return spend(`<${typeof value}>`, budget);
}

function boundedString(value: string): string {
  if (value.length <= CALL_PARAMS_LIMITS.stringChars) return value;
  return `${value.slice(0, TRUNCATED_PREFIX_CHARS)}...<truncated: ${value.length} characters>`;
}

function spend(value: string, budget: Budget): string {
  budget.chars -= JSON.stringify(value).length;
  return value;
}
