/**
 * The shape of an operation handler: a zod schema for its request (the service model's
 * constraints) and a function from the parsed request to the response body. Handlers throw
 * `KmsError` for every refusal; the dispatcher turns it into a wire error.
 */
import type { z } from 'zod';
import type { JsonObject } from '../protocol';
import type { KmsScope } from '../scope';
import { parseRequest } from '../validation';

export type OperationHandler = (sim: KmsScope, params: Record<string, unknown>) => JsonObject;

/** `sim` is the caller's partition (scope.ts): an operation cannot see another account or Region. */
export function defineOperation<S extends z.ZodType>(
  schema: S,
  handle: (sim: KmsScope, input: z.output<S>) => JsonObject,
): OperationHandler {
  return (sim, params) => handle(sim, parseRequest(schema, params));
}
