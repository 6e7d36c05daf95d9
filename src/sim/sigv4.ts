/**
 * What the simulator reads from a request's SigV4 authentication, without verifying the signature:
 * the access key, the Region and service of the credential scope
 * (`Credential=<key>/<date>/<region>/<service>/aws4_request`, in the `Authorization` header or a
 * pre-signed URL's `X-Amz-Credential`), and the session token that must accompany temporary
 * credentials (`X-Amz-Security-Token`, header or query). KMS and STS share it so that both
 * identify a caller the same way.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SigningScope {
  accessKeyId: string;
  /** Empty when the scope names none. */
  region: string;
  service: string;
}

/** The scope of an `Authorization` header, or of a pre-signed URL's credential. */
export function signingScopeOf(
  headers: IncomingHttpHeaders,
  url: string,
): { scope: SigningScope | undefined; authorization: string | undefined } {
  const authorization = headerValue(headers, 'authorization');
  const presigned = queryOf(url).get('X-Amz-Credential') ?? undefined;
  const text = authorization ?? (presigned !== undefined ? `Credential=${presigned}` : undefined);
  return { scope: parseScope(text), authorization: authorization ?? (presigned ? text : undefined) };
}

function parseScope(text: string | undefined): SigningScope | undefined {
  const match = /Credential=([^/,\s]+)\/[^/,\s]*\/([^/,\s]*)\/([^/,\s]*)/.exec(text ?? '');
  if (!match?.[1]) return undefined;
  return { accessKeyId: match[1], region: match[2] ?? '', service: match[3] ?? '' };
}

/** The session token of temporary credentials, as the SDK sends it. */
export function sessionTokenOf(headers: IncomingHttpHeaders, url: string): string | undefined {
  return (
    headerValue(headers, 'x-amz-security-token') ?? queryOf(url).get('X-Amz-Security-Token') ?? undefined
  );
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first && first.trim() !== '' ? first : undefined;
}

export function queryOf(url: string): URLSearchParams {
  const at = url.indexOf('?');
  return new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
}
