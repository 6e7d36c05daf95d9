/**
 * What KMS finds when a custom key store's connect is decided, i.e. when its connect delay has
 * run out: the backing CloudHSM cluster or XKS proxy, read in-process (KMS-FACTS.md, "Readiness
 * before a connect"). The answer is the `ConnectionErrorCode` the connect fails with, or
 * undefined when it succeeds.
 *
 * - CloudHSM: no cluster by the store's id → `CLUSTER_NOT_FOUND`; no ACTIVE HSM →
 *   `INSUFFICIENT_CLOUDHSM_HSMS`. (A cluster that is not ACTIVE is refused earlier, by
 *   ConnectCustomKeyStore itself with `CloudHsmClusterNotActiveException`: see `clusterNotActive`.)
 * - External: the proxy unreachable → `XKS_PROXY_NOT_REACHABLE`; slower than KMS waits →
 *   `XKS_PROXY_TIMED_OUT`; an answer KMS cannot read → `XKS_PROXY_INVALID_RESPONSE`; access denied
 *   → `XKS_PROXY_ACCESS_DENIED`; no ACTIVE external key manager → `XKS_PROXY_NOT_REACHABLE`, the
 *   code the KMS API reference gives when "the proxy reports that all external key manager
 *   instances are unavailable".
 */
import { activeHsmCount, type ClusterRecord } from './cloudhsm-clusters';
import type { ConnectionErrorCode, StoreRecord, XksSettings } from './model';
import { KMS_XKS_TIMEOUT_MS, type XksProxyHealth } from './xks-proxies';

/** Decides a connect when it is due: a `ConnectionErrorCode` to fail with, or undefined. */
export type ConnectReadiness = (store: StoreRecord) => ConnectionErrorCode | undefined;

export interface BackingWorld {
  clusters: ReadonlyMap<string, ClusterRecord>;
  xksHealth(xks: XksSettings): XksProxyHealth;
}

export function connectFailure(world: BackingWorld, store: StoreRecord): ConnectionErrorCode | undefined {
  if (store.cloudHsm) {
    const cluster = world.clusters.get(store.cloudHsm.clusterId);
    if (!cluster) return 'CLUSTER_NOT_FOUND';
    return activeHsmCount(cluster) === 0 ? 'INSUFFICIENT_CLOUDHSM_HSMS' : undefined;
  }
  return store.xks ? xksFailure(world.xksHealth(store.xks)) : undefined;
}

export function xksFailure(health: XksProxyHealth): ConnectionErrorCode | undefined {
  const failure = health.failure;
  if (failure?.mode === 'unreachable') return 'XKS_PROXY_NOT_REACHABLE';
  if (failure?.mode === 'timeout' && failure.delayMs >= KMS_XKS_TIMEOUT_MS) return 'XKS_PROXY_TIMED_OUT';
  if (failure?.mode === 'invalidResponse') return 'XKS_PROXY_INVALID_RESPONSE';
  if (failure?.mode === 'accessDenied') return 'XKS_PROXY_ACCESS_DENIED';
  return health.ekmFleetDetails.some((ekm) => ekm.healthStatus === 'ACTIVE')
    ? undefined
    : 'XKS_PROXY_NOT_REACHABLE';
}

/** The cluster of a CloudHSM key store when it exists and is not ACTIVE (the connect is refused). */
export function clusterNotActive(
  clusters: ReadonlyMap<string, ClusterRecord>,
  store: StoreRecord,
): ClusterRecord | undefined {
  const cluster = store.cloudHsm ? clusters.get(store.cloudHsm.clusterId) : undefined;
  return cluster && cluster.state !== 'ACTIVE' ? cluster : undefined;
}
