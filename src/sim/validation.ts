/**
 * Request validation the way KMS's front end does it, driven by the service model's constraints
 * (required members, lengths, patterns, enums): a member of the wrong JSON type is a
 * `SerializationException` (the request could not be deserialized at all); a missing required
 * member or a violated constraint is a `ValidationException` whose message lists every violation in
 * AWS's own format, e.g.
 * `1 validation error detected: Value null at 'customKeyStoreName' failed to satisfy constraint:
 * Member must not be null`. `null` members count as absent, as they do for AWS.
 */
import { z } from 'zod';
import { isBase64, isJsonObject, KmsError } from './protocol';

/** Members whose values never appear in error messages or the call log. */
export const SENSITIVE_MEMBERS: ReadonlySet<string> = new Set([
  'Plaintext',
  'KeyStorePassword',
  'RawSecretAccessKey',
]);

/** Members AWS never echoes in validation messages (secrets, and blobs that would be noise). */
const UNECHOED_MEMBERS: ReadonlySet<string> = new Set([
  ...SENSITIVE_MEMBERS,
  'AccessKeyId',
  'CiphertextBlob',
  'TrustAnchorCertificate',
  'Policy',
]);

/** A string member with the model's length (and optional pattern) constraints. */
export function modelString(min: number, max: number, pattern?: RegExp): z.ZodString {
  const base = z.string().min(min).max(max);
  return pattern ? base.regex(pattern) : base;
}

/**
 * A blob member: base64 on the wire (anything else cannot be deserialized), with the model's
 * length limits applied to the decoded bytes.
 */
export function modelBlob(min: number, max: number) {
  return z
    .string()
    .superRefine((value, ctx) => {
      if (!isBase64(value)) {
        ctx.addIssue({ code: 'custom', message: 'not base64', params: { serialization: true } });
        return;
      }
      const length = Buffer.from(value, 'base64').length;
      if (length < min) {
        ctx.addIssue({
          code: 'custom',
          message: 'too short',
          params: { constraint: `Member must have length greater than or equal to ${min}` },
        });
      } else if (length > max) {
        ctx.addIssue({
          code: 'custom',
          message: 'too long',
          params: { constraint: `Member must have length less than or equal to ${max}` },
        });
      }
    })
    .transform((value) => Buffer.from(value, 'base64'));
}

export const limitSchema = z.int().min(1).max(1000);
export const markerSchema = modelString(1, 1024, /^[\u0020-\u00FF]*$/);
export const keyIdSchema = modelString(1, 2048);
export const grantTokensSchema = z.array(modelString(1, 8192)).max(10);
export const encryptionContextSchema = z.record(z.string(), z.string());

/** Parses a request's members against its schema or throws the KMS error a real endpoint gives. */
export function parseRequest<S extends z.ZodType>(schema: S, raw: Record<string, unknown>): z.output<S> {
  const input = withoutNulls(raw);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const violations: string[] = [];
  for (const issue of result.error.issues) {
    const value = valueAt(input, issue.path);
    const path = memberPath(issue.path);
    if (issue.code === 'invalid_type' && value !== undefined) {
      throw new KmsError('SerializationException', `Unexpected JSON type for member '${path}'`);
    }
    if (issue.code === 'custom' && issue.params?.['serialization'] === true) {
      throw new KmsError('SerializationException', `Member '${path}' is not valid base64`);
    }
    const shown = describeValue(issue.path, value);
    violations.push(`Value ${shown}at '${path}' failed to satisfy constraint: ${constraintText(issue)}`);
  }
  const count = violations.length;
  throw new KmsError(
    'ValidationException',
    `${count} validation error${count === 1 ? '' : 's'} detected: ${violations.join('; ')}`,
  );
}

function constraintText(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return 'Member must not be null';
    case 'too_small':
      return issue.origin === 'number' || issue.origin === 'int'
        ? `Member must have value greater than or equal to ${String(issue.minimum)}`
        : `Member must have length greater than or equal to ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'number' || issue.origin === 'int'
        ? `Member must have value less than or equal to ${String(issue.maximum)}`
        : `Member must have length less than or equal to ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue && typeof issue.pattern === 'string'
        ? `Member must satisfy regular expression pattern: ${issue.pattern.replace(/^\/|\/[a-z]*$/g, '')}`
        : 'Member must be a valid string';
    case 'invalid_value':
      return `Member must satisfy enum value set: [${issue.values.map(String).join(', ')}]`;
    case 'custom': {
      const constraint: unknown = issue.params?.['constraint'];
      return typeof constraint === 'string' ? constraint : issue.message;
    }
    default:
      return issue.message;
  }
}

/** AWS names members in lowerCamelCase in validation messages (`xksProxyUriPath`). */
function memberPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => (typeof segment === 'number' ? `${segment + 1}.member` : lowerFirst(String(segment))))
    .join('.');
}

function describeValue(path: readonly PropertyKey[], value: unknown): string {
  if (value === undefined) return 'null ';
  if (path.some((segment) => typeof segment === 'string' && UNECHOED_MEMBERS.has(segment))) return '';
  if (typeof value === 'string') return `'${value.length > 100 ? `${value.slice(0, 100)}...` : value}' `;
  if (typeof value === 'number' || typeof value === 'boolean') return `'${String(value)}' `;
  return '';
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isJsonObject(current) && typeof segment === 'string') current = current[segment];
    else return undefined;
  }
  return current;
}

/**
 * How deep `withoutNulls` looks. KMS's request shapes nest structures two levels at most, so
 * nothing deeper can be a modelled member; stopping here keeps a hostile body nested thousands of
 * levels deep from overflowing the stack. Deeper values are passed on as they are: inside an
 * unknown member they are ignored, in place of a modelled one they are the wrong type.
 */
const MAX_MEMBER_DEPTH = 8;

/** AWS treats a `null` member as absent. */
function withoutNulls(value: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: [string, unknown][] = [];
  for (const [key, member] of Object.entries(value)) {
    if (member === null) continue;
    out.push([
      key,
      isJsonObject(member) && depth < MAX_MEMBER_DEPTH ? withoutNulls(member, depth + 1) : member,
    ]);
  }
  return Object.fromEntries(out);
}
