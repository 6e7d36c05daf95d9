/**
 * SigV4 verification for the XKS proxy stand-in, written from the AWS Signature Version 4 rules
 * and Appendix A of the XKS Proxy API specification with `node:crypto` alone. It deliberately
 * shares no code with any AWS SDK signer: the product signs its GetHealthStatus probes with the
 * SDK's signer, and a verifier built on the same code would accept whatever mistake that signer
 * made. Tests check it against botocore's and @smithy's signers.
 *
 * What is checked, and refused with a reason otherwise:
 *   - `Authorization: AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request,
 *     SignedHeaders=<h1;h2;…>, Signature=<64 hex>`;
 *   - the scope's Region and service are the expected ones;
 *   - `host` and `x-amz-date` are signed (the specification: KMS always signs both), the signed
 *     header names are lower-case, sorted, unique and present;
 *   - `x-amz-date` is `yyyymmddThhmmssZ`, on the scope's date, within 5 minutes of now either way
 *     (the specification's replay window);
 *   - `x-amz-content-sha256`, when present, equals the SHA-256 of the body actually received (a
 *     signer may sign a claimed hash; the body must still be the one it claimed);
 *   - the signature over the canonical request (method; URI path as received, each segment
 *     URI-encoded again as SigV4 does for every service but S3; canonical query; canonical
 *     headers; signed headers; payload hash), compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** The XKS Proxy API specification's replay window, either way. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface SigV4Request {
  method: string;
  /** Path and query exactly as received (`IncomingMessage.url`). */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SigV4Authorization {
  accessKeyId: string;
  /** `yyyymmdd`. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export type SigV4Result = { ok: true } | { ok: false; reason: string };

/** The parts of an `Authorization` header, or a reason it is not a SigV4 one. */
export function parseAuthorization(header: string | undefined): SigV4Authorization | string {
  if (header === undefined) return 'The request has no Authorization header.';
  const prefix = `${SIGV4_ALGORITHM} `;
  if (!header.startsWith(prefix)) return `The Authorization header must use ${SIGV4_ALGORITHM}.`;
  const fields = new Map<string, string>();
  for (const part of header.slice(prefix.length).split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    return 'The Authorization header needs Credential, SignedHeaders and Signature.';
  }
  const scope = credential.split('/');
  const [accessKeyId, date, region, service, terminator] = scope;
  if (scope.length !== 5 || !accessKeyId || !date || !region || !service || terminator !== 'aws4_request') {
    return 'The credential must be <access key>/<date>/<region>/<service>/aws4_request.';
  }
  if (!/^\d{8}$/.test(date)) return 'The credential date must be yyyymmdd.';
  if (!/^[0-9a-f]{64}$/.test(signature)) return 'The signature must be 64 lower-case hex digits.';
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/**
 * Verifies a request signed with `secretAccessKey` for `region` and `service`. `auth` is the
 * request's parsed `Authorization`; the caller has matched its access key to the secret.
 */
export function verifySigV4(
  request: SigV4Request,
  auth: SigV4Authorization,
  expected: { secretAccessKey: string; region: string; service: string },
  now: number,
): SigV4Result {
  if (auth.service !== expected.service) {
    return refuse(`The credential scope names service ${auth.service}, not ${expected.service}.`);
  }
  if (auth.region !== expected.region) {
    return refuse(`The credential scope names Region ${auth.region}, not ${expected.region}.`);
  }
  const headersProblem = signedHeadersProblem(auth.signedHeaders, request.headers);
  if (headersProblem) return refuse(headersProblem);
  const amzDate = single(request.headers['x-amz-date']) ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return refuse('X-Amz-Date must be yyyymmddThhmmssZ.');
  if (amzDate.slice(0, 8) !== auth.date) return refuse('X-Amz-Date is not on the credential scope date.');
  if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    return refuse('X-Amz-Date is more than 5 minutes away from the current time.');
  }
  const bodyHash = sha256Hex(request.body);
  const claimedHash = single(request.headers['x-amz-content-sha256']);
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    return refuse('X-Amz-Content-SHA256 does not match the SHA-256 of the request body.');
  }
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const canonical = canonicalRequest(request, auth.signedHeaders, bodyHash);
  const stringToSign = [SIGV4_ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
  const expectedSignature = hmac(signingKey(expected.secretAccessKey, auth), stringToSign).toString('hex');
  const matches = timingSafeEqual(
    Buffer.from(expectedSignature, 'utf8'),
    Buffer.from(auth.signature, 'utf8'),
  );
  return matches ? { ok: true } : refuse('The request signature does not match the one calculated.');
}

export function canonicalRequest(
  request: SigV4Request,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const at = request.url.indexOf('?');
  const path = at === -1 ? request.url : request.url.slice(0, at);
  const query = at === -1 ? '' : request.url.slice(at + 1);
  const headers = signedHeaders
    .map((name) => `${name}:${canonicalHeaderValue(request.headers[name])}\n`)
    .join('');
  return [
    request.method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery(query),
    headers,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

function signedHeadersProblem(names: readonly string[], headers: IncomingHttpHeaders): string | undefined {
  if (!names.includes('host') || !names.includes('x-amz-date')) {
    return 'SignedHeaders must include host and x-amz-date.';
  }
  for (let i = 0; i < names.length; i++) {
    const name = names[i] ?? '';
    if (name !== name.toLowerCase() || (i > 0 && (names[i - 1] ?? '') >= name)) {
      return 'SignedHeaders must be lower-case, sorted and unique.';
    }
    if (headers[name] === undefined) return `The signed header ${name} is missing from the request.`;
  }
  return undefined;
}

/** Each segment of the path as received, URI-encoded once more (SigV4 for services other than S3). */
function canonicalUri(path: string): string {
  return path === '' ? '/' : path.split('/').map(uriEncode).join('/');
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const name = at === -1 ? pair : pair.slice(0, at);
      const value = at === -1 ? '' : pair.slice(at + 1);
      return [uriEncode(safeDecode(name)), uriEncode(safeDecode(value))] as const;
    });
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function canonicalHeaderValue(value: string | string[] | undefined): string {
  const values = Array.isArray(value) ? value : [value ?? ''];
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** RFC 3986 unreserved characters stay; every other UTF-8 byte becomes `%XX`. */
function uriEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function parseAmzDate(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const time = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
  return Number.isNaN(time) ? undefined : time;
}

function signingKey(secret: string, auth: SigV4Authorization): Buffer {
  const kDate = hmac(`AWS4${secret}`, auth.date);
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, auth.service);
  return hmac(kService, 'aws4_request');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function refuse(reason: string): SigV4Result {
  return { ok: false, reason };
}
