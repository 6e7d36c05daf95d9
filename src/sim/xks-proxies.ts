/**
 * The health of the simulated XKS proxies, which the HTTP stand-in (xks-proxy.ts) reports through
 * GetHealthStatus and which KMS consults in-process when an external key store connects.
 *
 * A proxy is what a store's `XksProxyUriEndpoint` host and `XksProxyUriPath` point at, so stores
 * of different partitions that name the same host and path share one proxy, as they would share
 * one server. Only proxies whose health was set are remembered; every other one is healthy: two
 * ACTIVE external key managers, no failure.
 */
import type { XksSettings } from './model';

export const EKM_HEALTH_STATUSES = ['ACTIVE', 'DEGRADED', 'UNAVAILABLE'] as const;
export type EkmHealthStatus = (typeof EKM_HEALTH_STATUSES)[number];

export const XKS_FAILURE_MODES = ['unreachable', 'timeout', 'invalidResponse', 'accessDenied'] as const;
export type XksFailureMode = (typeof XKS_FAILURE_MODES)[number];

/**
 * KMS gives up on an XKS proxy call after 250 ms (XKS Proxy API specification, "KMS
 * Considerations"): a slower answer is a timeout to KMS, a quicker one is merely slow.
 */
export const KMS_XKS_TIMEOUT_MS = 250;

export const XKS_PROXY_VENDOR = 'keystore-maint';
export const XKS_PROXY_MODEL = 'keystore-maint simulated XKS proxy 1.0';
export const EKM_VENDOR = 'keystore-maint';
export const EKM_MODEL = 'Simulated EKM 1.0';

export interface EkmDetails {
  id: string;
  model: string;
  healthStatus: EkmHealthStatus;
}

export type XksFailure =
  | { mode: 'unreachable' }
  | { mode: 'timeout'; delayMs: number }
  | { mode: 'invalidResponse' }
  | { mode: 'accessDenied' };

export interface XksProxyHealth {
  xksProxyFleetSize: number;
  ekmFleetDetails: EkmDetails[];
  failure?: XksFailure | undefined;
}

export interface SavedXksProxy {
  host: string;
  uriPath: string;
  health: XksProxyHealth;
}

export function defaultXksHealth(): XksProxyHealth {
  return {
    xksProxyFleetSize: 2,
    ekmFleetDetails: [
      { id: 'ekm-1', model: EKM_MODEL, healthStatus: 'ACTIVE' },
      { id: 'ekm-2', model: EKM_MODEL, healthStatus: 'ACTIVE' },
    ],
  };
}

/** The host of an `XksProxyUriEndpoint` (`https://<host>`, no port or path, by the KMS model). */
export function proxyHost(uriEndpoint: string): string {
  return uriEndpoint.replace(/^https:\/\//i, '').toLowerCase();
}

function keyOf(host: string, uriPath: string): string {
  // Host names are case-insensitive; URI paths are not.
  return `${host.toLowerCase()}${uriPath}`;
}

export class XksProxies {
  private readonly health = new Map<string, SavedXksProxy>();

  healthOf(xks: Pick<XksSettings, 'uriEndpoint' | 'uriPath'>): XksProxyHealth {
    const saved = this.health.get(keyOf(proxyHost(xks.uriEndpoint), xks.uriPath));
    return copyHealth(saved?.health ?? defaultXksHealth());
  }

  set(xks: Pick<XksSettings, 'uriEndpoint' | 'uriPath'>, health: XksProxyHealth): void {
    const host = proxyHost(xks.uriEndpoint);
    this.health.set(keyOf(host, xks.uriPath), { host, uriPath: xks.uriPath, health: copyHealth(health) });
  }

  saved(): SavedXksProxy[] {
    return [...this.health.values()].map((entry) => ({ ...entry, health: copyHealth(entry.health) }));
  }

  restore(entries: readonly SavedXksProxy[]): void {
    for (const entry of entries) {
      this.health.set(keyOf(entry.host, entry.uriPath), { ...entry, health: copyHealth(entry.health) });
    }
  }

  clear(): void {
    this.health.clear();
  }
}

function copyHealth(health: XksProxyHealth): XksProxyHealth {
  return {
    xksProxyFleetSize: health.xksProxyFleetSize,
    ekmFleetDetails: health.ekmFleetDetails.map((ekm) => ({ ...ekm })),
    failure: health.failure ? { ...health.failure } : undefined,
  };
}
