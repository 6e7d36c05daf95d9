/**
 * Reading an update's argument as any caller may send it. The typed client always sends one
 * object, but the `temporal` CLI without `--input`, a Python `execute_update("endWindowNow")`
 * or a Go client with a nil pointer send nothing or `null`. A validator must check the shape
 * before it reads a field, so every caller gets the project's own `UpdateRejected` failure —
 * naming the field and showing an example — rather than a raw `TypeError`.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE_TYPES } from '../src/domain/errors';
import { freeTextProblem } from '../src/domain/free-text';
import { TEXT_LIMITS } from '../src/domain/request';

/** Refuses an update; validators call it, so the caller gets the message and nothing changes. */
export function rejectUpdate(message: string): never {
  throw ApplicationFailure.nonRetryable(message, FAILURE_TYPES.updateRejected);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'no argument';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/** The update's one argument as an object, or a refusal that shows what to send. */
export function argumentObject(update: string, arg: unknown, example: string): Record<string, unknown> {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) {
    rejectUpdate(`${update}: expected one argument, an object such as ${example}; got ${describeValue(arg)}`);
  }
  return arg as Record<string, unknown>;
}

/** A free-text field of an update's argument, checked like the request's free text. */
export function textField(
  update: string,
  arg: Record<string, unknown>,
  field: string,
  what: string,
  max: number,
): string {
  const value = arg[field];
  if (typeof value !== 'string' || !value.trim()) {
    rejectUpdate(`${update}: "${field}" is required (${what})`);
  }
  const text = value.trim();
  if (text.length > max) rejectUpdate(`${update}: "${field}" must be at most ${max} characters`);
  const problem = freeTextProblem(text);
  if (problem) rejectUpdate(`${update}: "${field}" ${problem}`);
  return text;
}

/** `by`: who is sending the update. */
export function actorField(update: string, arg: Record<string, unknown>): string {
  return textField(
    update,
    arg,
    'by',
    'who is sending this, e.g. {"by": "alice@example.com"}',
    TEXT_LIMITS.actor,
  );
}

/** `reason`: why (abort). */
export function reasonField(update: string, arg: Record<string, unknown>): string {
  return textField(update, arg, 'reason', 'why the run is being stopped', TEXT_LIMITS.reason);
}
