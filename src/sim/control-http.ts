/**
 * The control API's request and answer plumbing, shared by its route files: JSON bodies parsed
 * against strict schemas, and every problem a `ControlError` that names the field.
 */
import type { z } from 'zod';
import { isJsonObject } from './protocol';
import { ControlError } from './simulator';

export interface ControlResponse {
  status: number;
  /** Any JSON-serialisable value. */
  body: unknown;
}

export function ok(body: unknown): ControlResponse {
  return { status: 200, body };
}

export function only(
  method: string,
  allowed: readonly string[],
  handler: () => ControlResponse,
): ControlResponse {
  if (!allowed.includes(method)) {
    throw new ControlError(405, 'MethodNotAllowed', `Use ${allowed.join(' or ')} here, not ${method}`);
  }
  return handler();
}

export function invalid(field: string, message: string): ControlError {
  return new ControlError(400, 'InvalidRequest', message, field);
}

export function parse<S extends z.ZodType>(schema: S, body: string): z.output<S> {
  let json: unknown = {};
  if (body.trim() !== '') {
    try {
      json = JSON.parse(body);
    } catch {
      throw new ControlError(400, 'InvalidJson', 'The request body is not valid JSON');
    }
  }
  if (!isJsonObject(json))
    throw new ControlError(400, 'InvalidJson', 'The request body must be a JSON object');
  return parseValue(schema, json);
}

export function parseValue<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw issueError(result.error.issues);
}

function issueError(issues: readonly z.core.$ZodIssue[]): ControlError {
  const issue = issues[0];
  if (!issue) return invalid('', 'invalid request');
  const field =
    issue.code === 'unrecognized_keys'
      ? [...issue.path.map(String), issue.keys[0] ?? ''].filter(Boolean).join('.')
      : issue.path.map(String).join('.');
  const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message;
  return invalid(field, `${field}: ${message}`);
}
