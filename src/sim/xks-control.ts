/**
 * The control API's XKS proxy routes: what the proxy behind an external key store reports to
 * GetHealthStatus (the stand-in in xks-proxy.ts) and what KMS meets when the store connects.
 *
 *   GET    /_sim/xks-proxies[?account=&region=]                     {"proxies": [<proxy>]}
 *   GET    /_sim/xks-proxies/:customKeyStoreId[?account=&region=]   <proxy>
 *   PATCH  /_sim/xks-proxies/:customKeyStoreId[?…]                  {ekmFleetDetails?, xksProxyFleetSize?, failure?} → <proxy>
 *   DELETE /_sim/xks-proxies/:customKeyStoreId[?…]                  back to healthy → <proxy>
 *
 * A proxy is selected through a store (ids are global); `account` and `region`, when given, must
 * be the store's (else 404), so that a test cannot steer another partition's proxy by mistake.
 * Stores sharing the proxy's host and path share its health. `<proxy>` is
 * `{CustomKeyStoreId, Account, Region, UriEndpoint, UriPath, Path, xksProxyFleetSize,
 * ekmFleetDetails, failure}`, `Path` being where the stand-in answers.
 */
import { storesQuerySchema } from './control-schemas';
import { invalid, ok, only, parse, parseValue, type ControlResponse } from './control-http';
import type { StoreRecord, XksSettings } from './model';
import type { Partition } from './partition';
import type { JsonObject } from './protocol';
import { xksProxyPatchSchema } from './readiness-schemas';
import { ControlError, type Simulator } from './simulator';
import { defaultXksHealth, EKM_MODEL, proxyHost, type XksProxyHealth } from './xks-proxies';
import { XKS_PREFIX } from './xks-proxy';

export interface XksProxyRouteRequest {
  method: string;
  /** The path segments after `/_sim/xks-proxies`. */
  path: readonly string[];
  query: URLSearchParams;
  body: string;
}

export function handleXksProxyRoute(sim: Simulator, request: XksProxyRouteRequest): ControlResponse {
  const { method, path, body } = request;
  const [storeId, extra] = path;
  const filter = parseValue(storesQuerySchema, Object.fromEntries(request.query));
  if (storeId === undefined) {
    return only(method, ['GET'], () => {
      const proxies = sim
        .allPartitions()
        .filter(
          (p) => (filter.account ?? p.account) === p.account && (filter.region ?? p.region) === p.region,
        )
        .flatMap((p) =>
          p.state.storesInOrder().flatMap((store) => (store.xks ? [view(sim, p, store, store.xks)] : [])),
        );
      return ok({ proxies });
    });
  }
  if (extra !== undefined) {
    throw new ControlError(404, 'NotFound', `No control API route /_sim/xks-proxies/${path.join('/')}`);
  }
  const found = sim.findStore(storeId);
  if (
    !found ||
    (filter.account ?? found.partition.account) !== found.partition.account ||
    (filter.region ?? found.partition.region) !== found.partition.region
  ) {
    throw new ControlError(404, 'StoreNotFound', `No custom key store ${storeId}${where(filter)}`, 'id');
  }
  const { partition, store } = found;
  const xks = store.xks;
  if (!xks) throw invalid('id', `Custom key store ${storeId} is an AWS_CLOUDHSM store; it has no XKS proxy`);
  return only(method, ['GET', 'PATCH', 'DELETE'], () => {
    if (method === 'DELETE') {
      sim.xksProxies.set(xks, defaultXksHealth());
      sim.persist();
    } else if (method === 'PATCH') {
      const patch = parse(xksProxyPatchSchema, body);
      const health = sim.xksProxies.healthOf(xks);
      if (patch.ekmFleetDetails) {
        health.ekmFleetDetails = patch.ekmFleetDetails.map((ekm, i) => ({
          id: ekm.id ?? `ekm-${i + 1}`,
          model: ekm.model ?? EKM_MODEL,
          healthStatus: ekm.healthStatus,
        }));
      }
      if (patch.xksProxyFleetSize !== undefined) health.xksProxyFleetSize = patch.xksProxyFleetSize;
      if (patch.failure !== undefined) health.failure = patch.failure ?? undefined;
      sim.xksProxies.set(xks, health);
      sim.persist();
    }
    return ok(view(sim, partition, store, xks));
  });
}

function view(sim: Simulator, partition: Partition, store: StoreRecord, xks: XksSettings): JsonObject {
  const health: XksProxyHealth = sim.xksProxies.healthOf(xks);
  return {
    CustomKeyStoreId: store.id,
    Account: partition.account,
    Region: partition.region,
    UriEndpoint: xks.uriEndpoint,
    UriPath: xks.uriPath,
    Path: `${XKS_PREFIX}/${proxyHost(xks.uriEndpoint)}${xks.uriPath}/health`,
    xksProxyFleetSize: health.xksProxyFleetSize,
    ekmFleetDetails: health.ekmFleetDetails.map((ekm) => ({ ...ekm })),
    failure: health.failure ? { ...health.failure } : null,
  };
}

function where(filter: { account?: string | undefined; region?: string | undefined }): string {
  const parts = [
    filter.account !== undefined ? `account ${filter.account}` : '',
    filter.region !== undefined ? `Region ${filter.region}` : '',
  ].filter(Boolean);
  return parts.length > 0 ? ` in ${parts.join(', ')}` : '';
}
