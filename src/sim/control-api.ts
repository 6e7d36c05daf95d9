/**
 * The control API under `/_sim/` on the simulator's port: JSON in and out, no authentication,
 * meant for tests, demos and benchmarks to seed stores, steer timings and outcomes, inject faults
 * and read the call log. Documented, with curl examples, in docs/simulator.md.
 *
 * Stores, keys and aliases are created in a partition (`Account`, `Region`; the default one when
 * absent); a store is found by id alone, whatever its partition (ids are global). IAM — access
 * keys, roles and the sessions AssumeRole issued — is under `access-keys`, `roles`, `sessions`
 * (iam-control.ts); CloudHSM clusters under `clusters` (cluster-control.ts); the health of XKS
 * proxies under `xks-proxies` (xks-control.ts).
 *
 * Errors: a malformed request is a 400 `{ "error": "InvalidRequest", "field": "...", "message": "..." }`
 * naming the field; an unknown store, fault or session id is a 404; an unknown route a 404; a
 * wrong method a 405; a uniqueness clash or the store limit a 409; a body over `MAX_BODY_BYTES` a
 * 413 `RequestEntityTooLarge`, whatever the route (never read as an empty body, which would make
 * e.g. a PATCH a silent no-op).
 */
import type { z } from 'zod';
import {
  callsQuerySchema,
  configPatchSchema,
  connectionFieldProblems,
  errorCodeProblems,
  faultInputSchema,
  seedAliasSchema,
  seedKeySchema,
  simStoreInputSchema,
  storePatchSchema,
  storesQuerySchema,
} from './control-schemas';
import { invalid, ok, only, parse, parseValue, type ControlResponse } from './control-http';
import { handleClusterRoute } from './cluster-control';
import { handleIamRoute, IAM_RESOURCES } from './iam-control';
import { aliasArn, keyMetadata } from './keys';
import { isKmsOperation, type ConnectionSnapshot, type StoreRecord } from './model';
import type { Partition } from './partition';
import { MAX_BODY_BYTES, type JsonObject } from './protocol';
import { createSimAlias, createSimKey, createSimStore } from './seeding';
import { ControlError, type Simulator } from './simulator';
import { forceState, visibleConnection } from './store-state';
import { storeEntry } from './stores';
import { isStsOperation } from './sts-api';
import { handleXksProxyRoute } from './xks-control';
import { isCloudWatchOperation } from './cloudwatch-protocol';
import { isCloudHsmOperation } from './cloudhsm-api';

export type { ControlResponse } from './control-http';

export const CONTROL_PREFIX = '/_sim';

export interface ControlRequest {
  method: string;
  /** Path and query, as in `IncomingMessage.url`. */
  url: string;
  body: string;
  /** The body exceeded `MAX_BODY_BYTES` and was not kept. */
  bodyTooLarge?: boolean;
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
  // Clusters and XKS proxies have deeper paths (cluster-control.ts, xks-control.ts).
  const readiness = { method, path: parts.slice(1), query: url.searchParams, body: request.body };
  if (resource === 'clusters') return handleClusterRoute(sim, readiness);
  if (resource === 'xks-proxies') return handleXksProxyRoute(sim, readiness);
  const singleton =
    resource === 'health' ||
    resource === 'reset' ||
    resource === 'config' ||
    resource === 'calls' ||
    resource === 'keys' ||
    resource === 'aliases';
  if (extra !== undefined || (singleton && id !== undefined)) throw notFound(url.pathname);
  if (resource !== undefined && (IAM_RESOURCES as readonly string[]).includes(resource)) {
    return (
      handleIamRoute(sim, { method, resource, id, body: request.body }) ?? notFoundResponse(url.pathname)
    );
  }
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
          if (method === 'GET') {
            const filter = parseValue(storesQuerySchema, Object.fromEntries(url.searchParams));
            const stores = sim
              .allPartitions()
              .filter(
                (p) =>
                  (filter.account ?? p.account) === p.account && (filter.region ?? p.region) === p.region,
              )
              .flatMap((p) => p.state.storesInOrder().map((store) => storeDetails(sim, p, store)));
            return ok({ stores });
          }
          const { store } = createSimStore(sim, parse(simStoreInputSchema, request.body));
          // As Describe lists it, so unchanged by partitions; GET shows Account and Region.
          return { status: 201, body: storeEntry(store, trueConnection(sim, store), 'iso') };
        });
      }
      return only(method, ['GET', 'PATCH', 'DELETE'], () => {
        const found = sim.findStore(id);
        if (!found) throw new ControlError(404, 'StoreNotFound', `No custom key store ${id}`, 'id');
        const { partition, store } = found;
        if (method === 'DELETE') {
          deleteStore(sim, partition, store);
          return ok({ ok: true });
        }
        if (method === 'PATCH') patchStore(sim, partition, store, request.body);
        return ok(storeDetails(sim, partition, store));
      });
    case 'keys':
      return only(method, ['POST'], () => {
        const { partition, key } = createSimKey(sim, parse(seedKeySchema, request.body));
        const store =
          key.customKeyStoreId !== undefined ? partition.state.stores.get(key.customKeyStoreId) : undefined;
        return { status: 201, body: { ...keyMetadata(partition.arn, key, store), Region: partition.region } };
      });
    case 'aliases':
      return only(method, ['POST'], () => {
        const input = parse(seedAliasSchema, request.body);
        const { partition } = createSimAlias(sim, input);
        return {
          status: 201,
          body: {
            AliasName: input.AliasName,
            AliasArn: aliasArn(partition.arn, input.AliasName),
            TargetKeyId: input.TargetKeyId,
            Account: partition.account,
            Region: partition.region,
          },
        };
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
        if (
          input.operation !== '*' &&
          !isKmsOperation(input.operation) &&
          !isStsOperation(input.operation) &&
          !isCloudWatchOperation(input.operation) &&
          !isCloudHsmOperation(input.operation)
        ) {
          throw invalid(
            'operation',
            `operation: ${input.operation} is not a KMS, STS, CloudWatch or CloudHSM v2 operation the simulator serves`,
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
  // A lower limit removes nothing: stores over it stay, and creation is refused until below it.
  if (patch.storeLimit !== undefined) sim.config.storeLimit = patch.storeLimit;
}

function patchStore(sim: Simulator, partition: Partition, store: StoreRecord, body: string): void {
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
    forceState(
      store,
      sim.now(),
      patch.ConnectionState,
      patch.ConnectionErrorCode,
      sim.timingsOf(store),
      sim.readiness(partition),
    );
  }
  sim.storeChanged(store);
}

function deleteStore(sim: Simulator, partition: Partition, store: StoreRecord): void {
  const state = partition.state;
  const keyIds = new Set(state.keysInStore(store.id).map((key) => key.id));
  for (const keyId of keyIds) state.keys.delete(keyId);
  for (const alias of [...state.aliases.values()]) {
    if (keyIds.has(alias.targetKeyId)) state.aliases.delete(alias.name);
  }
  state.stores.delete(store.id);
  sim.storeRemoved(store.id);
}

/**
 * What `GET /_sim/stores/:id` shows: the store's partition, the true state, what Describe shows
 * now, timings, pending.
 */
export function storeDetails(sim: Simulator, partition: Partition, store: StoreRecord): JsonObject {
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
    keyCount: partition.state.keysInStore(store.id).length,
    Account: partition.account,
    Region: partition.region,
  };
}

function trueConnection(sim: Simulator, store: StoreRecord): ConnectionSnapshot {
  return { at: sim.now(), state: store.state, errorCode: store.errorCode };
}

function configView(sim: Simulator): JsonObject {
  return {
    account: sim.arn.account,
    region: sim.arn.region,
    regions: [...sim.regions],
    profile: sim.config.profile,
    quotaRps: sim.config.quotaRps,
    storeLimit: sim.config.storeLimit,
    overrides: { ...sim.config.overrides },
  };
}

function notFound(path: string): ControlError {
  return new ControlError(404, 'NotFound', `No control API route ${path}`);
}

function notFoundResponse(path: string): ControlResponse {
  throw notFound(path);
}
