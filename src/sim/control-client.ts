/**
 * A typed client for the simulator's control API (`/_sim/...`), over the global `fetch`, for
 * tests, the demo and benchmarks. A non-2xx answer throws `SimulatorControlError` carrying the
 * status, the error code and the field the simulator named.
 */
import type { SimCall } from './call-log';

export type { SimCall } from './call-log';

export type SimStoreType = 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';

/** A store as DescribeCustomKeyStores lists it (`CreationDate` as an ISO-8601 string). */
export interface SimStore {
  CustomKeyStoreId: string;
  CustomKeyStoreName: string;
  CustomKeyStoreType: SimStoreType;
  ConnectionState: string;
  ConnectionErrorCode?: string;
  CreationDate: string;
  CloudHsmClusterId?: string;
  TrustAnchorCertificate?: string;
  XksProxyConfiguration?: {
    Connectivity?: string;
    AccessKeyId?: string;
    UriEndpoint?: string;
    UriPath?: string;
    VpcEndpointServiceName?: string;
    VpcEndpointServiceOwner?: string;
  };
}

export interface SimTimings {
  connectDelayMs: number;
  disconnectDelayMs: number;
  consistencyLagMs: number;
}

/** `GET /_sim/stores/:id`: the true state plus what Describe shows now, timings and pending outcomes. */
export interface SimStoreDetails extends SimStore {
  /** What DescribeCustomKeyStores shows right now (eventual consistency). */
  visibleConnectionState: string;
  visibleConnectionErrorCode?: string;
  /** Effective timings (store override, else global, else profile). */
  timings: SimTimings;
  /** This store's own overrides. */
  timingOverrides: Partial<SimTimings>;
  pendingTransition: { to: string; ConnectionErrorCode?: string; at: string; inMs: number } | null;
  connectOutcome: { failWith: string; times: number } | null;
  keyCount: number;
}

export interface SimStoreInput {
  CustomKeyStoreType: SimStoreType;
  CustomKeyStoreName?: string;
  /** Default CONNECTED. */
  ConnectionState?: string;
  /** Required with, and only with, ConnectionState FAILED. */
  ConnectionErrorCode?: string;
  CustomKeyStoreId?: string;
  CloudHsmClusterId?: string;
  XksProxyConnectivity?: 'PUBLIC_ENDPOINT' | 'VPC_ENDPOINT_SERVICE';
  XksProxyUriEndpoint?: string;
  XksProxyUriPath?: string;
  XksProxyVpcEndpointServiceName?: string;
  connectDelayMs?: number;
  disconnectDelayMs?: number;
  consistencyLagMs?: number;
  connectOutcome?: { failWith: string; times?: number };
}

export interface SimStorePatch {
  /** `null` removes the store's override. */
  connectDelayMs?: number | null;
  disconnectDelayMs?: number | null;
  consistencyLagMs?: number | null;
  /** Fail the next `times` (default 1) connects with this code; `null` clears. */
  connectOutcome?: { failWith: string; times?: number } | null;
  /** Force a state (a transient one moves on after its delay). */
  ConnectionState?: string;
  ConnectionErrorCode?: string;
}

export interface SimFaultInput {
  /** A KMS operation name, `*` for every KMS operation, or the STS operation `GetCallerIdentity`. */
  operation: string;
  /** Exception to answer with; omit for a latency-only fault. */
  errorType?: string;
  message?: string;
  /** Fire on the next `count` matching requests (with `probability`: at most `count` times). */
  count?: number;
  /** Fire with this probability (0..1); without `count`, until cleared. */
  probability?: number;
  latencyMs?: number;
  /** `after`: the operation takes effect first; the caller then hears the latency and the error. */
  when?: 'before' | 'after';
}

export interface SimFault extends SimFaultInput {
  id: string;
  fired: number;
  remaining?: number;
}

export interface SimConfig {
  account: string;
  region: string;
  profile: 'fast' | 'realistic';
  quotaRps: number;
  overrides: Partial<SimTimings>;
}

export interface SimConfigPatch {
  quotaRps?: number;
  profile?: 'fast' | 'realistic';
  connectDelayMs?: number | null;
  disconnectDelayMs?: number | null;
  consistencyLagMs?: number | null;
}

export class SimulatorControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'SimulatorControlError';
  }
}

export class SimulatorControl {
  private readonly base: string;

  constructor(baseUrl: string) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  health(): Promise<{ ok: true }> {
    return this.request('GET', '/_sim/health');
  }

  async reset(): Promise<void> {
    await this.request('POST', '/_sim/reset');
  }

  createStore(input: SimStoreInput): Promise<SimStore> {
    return this.request('POST', '/_sim/stores', input);
  }

  async listStores(): Promise<SimStoreDetails[]> {
    const { stores } = await this.request<{ stores: SimStoreDetails[] }>('GET', '/_sim/stores');
    return stores;
  }

  getStore(id: string): Promise<SimStoreDetails> {
    return this.request('GET', `/_sim/stores/${encodeURIComponent(id)}`);
  }

  patchStore(id: string, patch: SimStorePatch): Promise<SimStoreDetails> {
    return this.request('PATCH', `/_sim/stores/${encodeURIComponent(id)}`, patch);
  }

  /** Removes a store with its keys and their aliases, whatever its state. */
  async deleteStore(id: string): Promise<void> {
    await this.request('DELETE', `/_sim/stores/${encodeURIComponent(id)}`);
  }

  async addFault(fault: SimFaultInput): Promise<void> {
    await this.createFault(fault);
  }

  /** Like `addFault`, returning the fault (with the id `removeFault` takes). */
  createFault(fault: SimFaultInput): Promise<SimFault> {
    return this.request('POST', '/_sim/faults', fault);
  }

  async faults(): Promise<SimFault[]> {
    const { faults } = await this.request<{ faults: SimFault[] }>('GET', '/_sim/faults');
    return faults;
  }

  async removeFault(id: string): Promise<void> {
    await this.request('DELETE', `/_sim/faults/${encodeURIComponent(id)}`);
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/_sim/faults');
  }

  async calls(filter: { operation?: string; customKeyStoreId?: string } = {}): Promise<SimCall[]> {
    const query = new URLSearchParams();
    if (filter.operation !== undefined) query.set('operation', filter.operation);
    if (filter.customKeyStoreId !== undefined) query.set('customKeyStoreId', filter.customKeyStoreId);
    const suffix = query.toString() ? `?${query.toString()}` : '';
    const { calls } = await this.request<{ calls: SimCall[] }>('GET', `/_sim/calls${suffix}`);
    return calls;
  }

  async clearCalls(): Promise<void> {
    await this.request('DELETE', '/_sim/calls');
  }

  config(): Promise<SimConfig> {
    return this.request('GET', '/_sim/config');
  }

  patchConfig(patch: SimConfigPatch): Promise<SimConfig> {
    return this.request('PATCH', '/_sim/config', patch);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : {};
    if (!response.ok) {
      const error = isRecord(json) ? json : {};
      const code = typeof error['error'] === 'string' ? error['error'] : undefined;
      const field = typeof error['field'] === 'string' ? error['field'] : undefined;
      const message = typeof error['message'] === 'string' ? error['message'] : text;
      throw new SimulatorControlError(
        response.status,
        code,
        field,
        `${method} ${path} failed with ${response.status}: ${message}`,
      );
    }
    // The simulator is the other end of this contract; its shapes are documented and tested.
    return json as T;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
