/**
 * The control API under `/_sim/` on the simulator's port: JSON in and out, no authentication,
 * meant for tests, demos and benchmarks to seed stores, steer timings and outcomes, inject faults
 * and read the call log. Documented, with curl examples, in docs/simulator.md.
 *
 * Errors: a malformed request is a 400 `{ "error": "InvalidRequest", "field": "...", "message": "..." }`
 * naming the field; an unknown store or fault id is a 404; an unknown route a 404; a wrong method
 * a 405; a uniqueness clash a 409; a body over `MAX_BODY_BYTES` a 413 `RequestEntityTooLarge`,
 * whatever the route (never read as an empty body, which would make e.g. a PATCH a silent no-op).
 */
import type { z } from 'zod';
import {
  callsQuerySchema,
  configPatchSchema,
  connectionFieldProblems,
  errorCodeProblems,
  faultInputSchema,
  simStoreInputSchema,
  storePatchSchema,
} from './control-schemas';
import { isKmsOperation, type ConnectionSnapshot, type StoreRecord } from './model';
import { isStsOperation } from './sts-api';
import { isJsonObject, MAX_BODY_BYTES, type JsonObject } from './protocol';
import { ControlError, type Simulator } from './simulator';
import { forceState, visibleConnection } from './store-state';
import { storeEntry } from './stores';

export const CONTROL_PREFIX = '/_sim';

export interface ControlRequest {
  method: string;
  /** Path and query, as in `IncomingMessage.url`. */
  url: string;
  body: string;
  /** The body exceeded `MAX_BODY_BYTES` and was not kept. */
  bodyTooLarge?: boolean;
}

export interface ControlResponse {
  status: number;
  /** Any JSON-serialisable value. */
  body: unknown;
}

export function handleControlRequest(sim: Simulator, request: ControlRequest): ControlResponse {
  try {
    if (request.bodyTooLarge) {
      throw new ControlError(
        413,
        'RequestEntityTooLarge',
        `The request body exceeds the limit of ${MAX_BODY_BYTES} bytes (1 MiB)`,
      );
    }
    sim.advanceStores();
    return route(sim, request);
  } catch (err) {
    if (err instanceof ControlError) {
      return { status: err.status, body: { error: err.code, field: err.field, message: err.message } };
    }
    throw err;
  }
}

function route(sim: Simulator, request: ControlRequest): ControlResponse {
  const url = new URL(request.url, 'http://simulator');
  const parts = url.pathname.slice(CONTROL_PREFIX.length).split('/').filter(Boolean);
  const [resource, id, extra] = parts;
  const method = request.method;
  const singleton =
    resource === 'health' || resource === 'reset' || resource === 'config' || resource === 'calls';
  if (extra !== undefined || (singleton && id !== undefined)) throw notFound(url.pathname);
  switch (resource) {
    case 'health':
      return only(method, ['GET'], () => ok({ ok: true }));
    case 'reset':
      return only(method, ['POST'], () => {
        sim.reset();
        return ok({ ok: true });
      });
    case 'config':
      return only(method, ['GET', 'PATCH'], () => {
        if (method === 'PATCH') patchConfig(sim, parse(configPatchSchema, request.body));
        return ok(configView(sim));
      });
    case 'stores':
      if (id === undefined) {
        return only(method, ['GET', 'POST'], () => {
          if (method === 'GET')
            return ok({ stores: sim.state.storesInOrder().map((s) => storeDetails(sim, s)) });
          const store = sim.createSimStore(parse(simStoreInputSchema, request.body));
          return { status: 201, body: storeEntry(store, trueConnection(sim, store), 'iso') };
        });
      }
      return only(method, ['GET', 'PATCH', 'DELETE'], () => {
        const store = sim.state.stores.get(id);
        if (!store) throw new ControlError(404, 'StoreNotFound', `No custom key store ${id}`, 'id');
        if (method === 'DELETE') {
          deleteStore(sim, store);
          return ok({ ok: true });
        }
        if (method === 'PATCH') patchStore(sim, store, request.body);
        return ok(storeDetails(sim, store));
      });
    case 'faults':
      if (id !== undefined) {
        return only(method, ['DELETE'], () => {
          if (!sim.faults.remove(id)) throw new ControlError(404, 'FaultNotFound', `No fault ${id}`, 'id');
          return ok({ ok: true });
        });
      }
      return only(method, ['GET', 'POST', 'DELETE'], () => {
        if (method === 'GET') return ok({ faults: sim.faults.list() });
        if (method === 'DELETE') {
          sim.faults.clear();
          return ok({ ok: true });
        }
        const input = parse(faultInputSchema, request.body);
        if (input.operation !== '*' && !isKmsOperation(input.operation) && !isStsOperation(input.operation)) {
          throw invalid(
            'operation',
            `operation: ${input.operation} is not a KMS or STS operation the simulator serves`,
          );
        }
        return { status: 201, body: sim.faults.add(input) };
      });
    case 'calls':
      return only(method, ['GET', 'DELETE'], () => {
        if (method === 'DELETE') {
          sim.calls.clear();
          return ok({ ok: true });
        }
        const filter = parseValue(callsQuerySchema, Object.fromEntries(url.searchParams));
        return ok({ calls: sim.calls.list(filter) });
      });
    default:
      throw notFound(url.pathname);
  }
}

function patchConfig(sim: Simulator, patch: z.infer<typeof configPatchSchema>): void {
  if (patch.profile !== undefined) sim.config.profile = patch.profile;
  for (const name of ['connectDelayMs', 'disconnectDelayMs', 'consistencyLagMs'] as const) {
    const value = patch[name];
    if (value !== undefined) sim.config.overrides[name] = value ?? undefined;
  }
  if (patch.quotaRps !== undefined) {
    sim.config.quotaRps = patch.quotaRps;
    sim.quota.setRate(patch.quotaRps);
  }
}

function patchStore(sim: Simulator, store: StoreRecord, body: string): void {
  const patch = parse(storePatchSchema, body);
  const problems = [
    ...connectionFieldProblems({ ...patch, CustomKeyStoreType: store.type }),
    ...(patch.connectOutcome
      ? errorCodeProblems(store.type, patch.connectOutcome.failWith, ['connectOutcome', 'failWith'])
      : []),
  ];
  const problem = problems[0];
  if (problem) {
    const field = problem.path.map(String).join('.');
    throw invalid(field, `${field}: ${problem.message}`);
  }
  for (const name of ['connectDelayMs', 'disconnectDelayMs', 'consistencyLagMs'] as const) {
    const value = patch[name];
    if (value !== undefined) store.timings[name] = value ?? undefined;
  }
  if (patch.connectOutcome !== undefined) {
    store.connectOutcome = patch.connectOutcome
      ? { failWith: patch.connectOutcome.failWith, times: patch.connectOutcome.times ?? 1 }
      : undefined;
  }
  if (patch.ConnectionState !== undefined) {
    forceState(store, sim.now(), patch.ConnectionState, patch.ConnectionErrorCode, sim.timingsOf(store));
  }
  sim.storeChanged(store);
}

function deleteStore(sim: Simulator, store: StoreRecord): void {
  const keyIds = new Set(sim.state.keysInStore(store.id).map((key) => key.id));
  for (const keyId of keyIds) sim.state.keys.delete(keyId);
  for (const alias of [...sim.state.aliases.values()]) {
    if (keyIds.has(alias.targetKeyId)) sim.state.aliases.delete(alias.name);
  }
  sim.state.stores.delete(store.id);
  sim.storeRemoved(store.id);
}

/** What `GET /_sim/stores/:id` shows: the true state, what Describe shows now, timings, pending. */
export function storeDetails(sim: Simulator, store: StoreRecord): JsonObject {
  const now = sim.now();
  const timings = sim.timingsOf(store);
  const visible = visibleConnection(store, now, timings.consistencyLagMs);
  return {
    ...storeEntry(store, trueConnection(sim, store), 'iso'),
    visibleConnectionState: visible.state,
    visibleConnectionErrorCode: visible.errorCode,
    timings: { ...timings },
    timingOverrides: { ...store.timings },
    pendingTransition: store.pending
      ? {
          to: store.pending.to,
          ConnectionErrorCode: store.pending.errorCode,
          at: new Date(store.pending.at).toISOString(),
          inMs: Math.max(0, store.pending.at - now),
        }
      : null,
    connectOutcome: store.connectOutcome ? { ...store.connectOutcome } : null,
    keyCount: sim.state.keysInStore(store.id).length,
  };
}

function trueConnection(sim: Simulator, store: StoreRecord): ConnectionSnapshot {
  return { at: sim.now(), state: store.state, errorCode: store.errorCode };
}

function configView(sim: Simulator): JsonObject {
  return {
    account: sim.arn.account,
    region: sim.arn.region,
    profile: sim.config.profile,
    quotaRps: sim.config.quotaRps,
    overrides: { ...sim.config.overrides },
  };
}

function ok(body: unknown): ControlResponse {
  return { status: 200, body };
}

function only(method: string, allowed: readonly string[], handler: () => ControlResponse): ControlResponse {
  if (!allowed.includes(method)) {
    throw new ControlError(405, 'MethodNotAllowed', `Use ${allowed.join(' or ')} here, not ${method}`);
  }
  return handler();
}

function notFound(path: string): ControlError {
  return new ControlError(404, 'NotFound', `No control API route ${path}`);
}

function invalid(field: string, message: string): ControlError {
  return new ControlError(400, 'InvalidRequest', message, field);
}

function parse<S extends z.ZodType>(schema: S, body: string): z.output<S> {
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

function parseValue<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
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
