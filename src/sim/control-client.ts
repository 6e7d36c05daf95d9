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
  /** The partition the store lives in. */
  Account: string;
  Region: string;
}

/** Where something is created; the simulator's default account and Region when absent. */
export interface SimPartitionFields {
  /** 12 digits. */
  Account?: string;
  /** One of the Regions the simulator serves (option `regions`). */
  Region?: string;
}

export interface SimStoreInput extends SimPartitionFields {
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
  /** A KMS operation name, `*` for every KMS operation, or an STS operation (`GetCallerIdentity`, `AssumeRole`). */
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

/** `POST /_sim/keys`: a key by fiat, in KMS itself or in a store of its partition, in any state. */
export interface SimKeyInput extends SimPartitionFields {
  /** A lower-case UUID; generated when absent. */
  KeyId?: string;
  /** The store, by id or by name, in the same partition; neither: an AWS_KMS key. */
  CustomKeyStoreId?: string;
  CustomKeyStoreName?: string;
  Description?: string;
  Enabled?: boolean;
  XksKeyId?: string;
}

/** The key as DescribeKey's `KeyMetadata` shows it, plus its Region. */
export interface SimKey {
  KeyId: string;
  Arn: string;
  AWSAccountId: string;
  Region: string;
  KeyState: string;
  Enabled: boolean;
  Origin: string;
  CustomKeyStoreId?: string;
  Description: string;
}

export interface SimAliasInput extends SimPartitionFields {
  AliasName: string;
  TargetKeyId: string;
}

export interface SimAlias {
  AliasName: string;
  AliasArn: string;
  TargetKeyId: string;
  Account: string;
  Region: string;
}

/** A long-term access key of the IAM user `simulated` of an account. */
export interface SimAccessKey {
  AccessKeyId: string;
  Account: string;
  Arn: string;
}

export interface SimRoleInput {
  RoleName: string;
  /** Default: the simulator's default account. */
  Account?: string;
  /** `/` (default) or `/a/b/`. */
  Path?: string;
  /** Accounts whose principals may assume it; default: the simulator's default account. */
  TrustedAccounts?: string[];
  /** When set, AssumeRole must give exactly this ExternalId. */
  ExternalId?: string;
  /** 3600 (default) to 43200 seconds. */
  MaxSessionDuration?: number;
}

export interface SimRole {
  Arn: string;
  RoleId: string;
  RoleName: string;
  Path: string;
  Account: string;
  TrustedAccounts: string[];
  ExternalId?: string;
  MaxSessionDuration: number;
  CreateDate: string;
}

/** A session AssumeRole issued (never its secret or token). */
export interface SimSession {
  AccessKeyId: string;
  Account: string;
  Arn: string;
  AssumedRoleId: string;
  RoleSessionName: string;
  Expiration: string;
  Expired: boolean;
}

export interface SimCallFilter {
  operation?: string;
  customKeyStoreId?: string;
  account?: string;
  region?: string;
  /** The caller's principal ARN. */
  principal?: string;
}

export interface SimConfig {
  account: string;
  region: string;
  /** The Regions served, the default one first. */
  regions: string[];
  profile: 'fast' | 'realistic';
  quotaRps: number;
  /** Custom key stores per account and Region; 0 = unlimited. */
  storeLimit: number;
  overrides: Partial<SimTimings>;
}

export interface SimConfigPatch {
  quotaRps?: number;
  storeLimit?: number;
  profile?: 'fast' | 'realistic';
  connectDelayMs?: number | null;
  disconnectDelayMs?: number | null;
  consistencyLagMs?: number | null;
}

/** Where a cluster or proxy is looked up: every partition unless narrowed. */
export interface SimPartitionFilter {
  account?: string;
  region?: string;
}

export type SimClusterState =
  | 'ACTIVE'
  | 'CREATE_IN_PROGRESS'
  | 'UNINITIALIZED'
  | 'INITIALIZE_IN_PROGRESS'
  | 'INITIALIZED'
  | 'UPDATE_IN_PROGRESS'
  | 'DELETE_IN_PROGRESS'
  | 'DELETED'
  | 'DEGRADED';

export type SimHsmState = 'CREATE_IN_PROGRESS' | 'ACTIVE' | 'DEGRADED' | 'DELETE_IN_PROGRESS' | 'DELETED';

export interface SimHsmInput {
  /** An Availability Zone of the cluster's Region; default the next of `<region>a`, `b`, … */
  AvailabilityZone?: string;
  /** Default ACTIVE. */
  State?: SimHsmState;
  StateMessage?: string;
}

/** `POST /_sim/clusters`: creates a cluster, or replaces the one with that `ClusterId` in the partition. */
export interface SimClusterInput extends SimPartitionFields {
  ClusterId?: string;
  /** Default ACTIVE. */
  State?: SimClusterState;
  StateMessage?: string;
  /** Default hsm1.medium. */
  HsmType?: string;
  VpcId?: string;
  /** Default: two ACTIVE HSMs in two Availability Zones; `[]` for none. */
  Hsms?: SimHsmInput[];
}

/** An HSM as DescribeClusters shows it. */
export interface SimHsm {
  HsmId: string;
  ClusterId: string;
  AvailabilityZone: string;
  SubnetId: string;
  EniId: string;
  EniIp: string;
  State: SimHsmState;
  StateMessage?: string;
}

/** A cluster as DescribeClusters shows it (`CreateTimestamp` as ISO 8601), with its partition. */
export interface SimCluster {
  ClusterId: string;
  State: SimClusterState;
  StateMessage?: string;
  HsmType: string;
  VpcId: string;
  SecurityGroup: string;
  SubnetMapping: Record<string, string>;
  Hsms: SimHsm[];
  BackupPolicy: string;
  BackupRetentionPolicy: { Type: string; Value: string };
  CreateTimestamp: string;
  Account: string;
  Region: string;
}

export type SimEkmHealthStatus = 'ACTIVE' | 'DEGRADED' | 'UNAVAILABLE';

export interface SimEkm {
  id: string;
  model: string;
  healthStatus: SimEkmHealthStatus;
}

/** How the proxy misbehaves, whatever its external key managers' health. */
export type SimXksFailure =
  /** The connection is closed without an answer. */
  | { mode: 'unreachable' }
  /** The answer comes after `delayMs` (KMS waits 250 ms). */
  | { mode: 'timeout'; delayMs: number }
  /** 200 with a body that is not JSON. */
  | { mode: 'invalidResponse' }
  /** 403 AccessDeniedException. */
  | { mode: 'accessDenied' };

export interface SimXksProxyPatch {
  /** 1 to 10 entries; `id` defaults to `ekm-<n>`, `model` to `Simulated EKM 1.0`. */
  ekmFleetDetails?: { healthStatus: SimEkmHealthStatus; id?: string; model?: string }[];
  xksProxyFleetSize?: number;
  /** `null` clears the failure mode. */
  failure?: SimXksFailure | null;
}

/** The proxy behind an external key store and the health it reports. */
export interface SimXksProxy {
  CustomKeyStoreId: string;
  Account: string;
  Region: string;
  UriEndpoint: string;
  UriPath: string;
  /** Where the stand-in answers GetHealthStatus on the simulator: `/_xks/<host><UriPath>/health`. */
  Path: string;
  xksProxyFleetSize: number;
  ekmFleetDetails: SimEkm[];
  failure: SimXksFailure | null;
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

  /** Every partition's stores (the default partition first), or those of one account and/or Region. */
  async listStores(filter: { account?: string; region?: string } = {}): Promise<SimStoreDetails[]> {
    const { stores } = await this.request<{ stores: SimStoreDetails[] }>(
      'GET',
      `/_sim/stores${queryOf(filter)}`,
    );
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

  async calls(filter: SimCallFilter = {}): Promise<SimCall[]> {
    const { calls } = await this.request<{ calls: SimCall[] }>('GET', `/_sim/calls${queryOf(filter)}`);
    return calls;
  }

  /** A key by fiat (any store state), in a partition. */
  createKey(input: SimKeyInput = {}): Promise<SimKey> {
    return this.request('POST', '/_sim/keys', input);
  }

  createAlias(input: SimAliasInput): Promise<SimAlias> {
    return this.request('POST', '/_sim/aliases', input);
  }

  /** Makes a long-term access key act in `Account` (unregistered keys act in the default account). */
  registerAccessKey(input: { AccessKeyId: string; Account: string }): Promise<SimAccessKey> {
    return this.request('POST', '/_sim/access-keys', input);
  }

  async accessKeys(): Promise<SimAccessKey[]> {
    const { accessKeys } = await this.request<{ accessKeys: SimAccessKey[] }>('GET', '/_sim/access-keys');
    return accessKeys;
  }

  /** A role that AssumeRole can assume. */
  createRole(input: SimRoleInput): Promise<SimRole> {
    return this.request('POST', '/_sim/roles', input);
  }

  async roles(): Promise<SimRole[]> {
    const { roles } = await this.request<{ roles: SimRole[] }>('GET', '/_sim/roles');
    return roles;
  }

  async sessions(): Promise<SimSession[]> {
    const { sessions } = await this.request<{ sessions: SimSession[] }>('GET', '/_sim/sessions');
    return sessions;
  }

  /** Moves a session's expiration (default: now, so that its credentials are expired at once). */
  expireSession(accessKeyId: string, expiration: Date = new Date()): Promise<SimSession> {
    return this.request('PATCH', `/_sim/sessions/${encodeURIComponent(accessKeyId)}`, {
      Expiration: expiration.toISOString(),
    });
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

  /** Creates a CloudHSM cluster, or replaces the one with its `ClusterId` in its partition. */
  putCluster(input: SimClusterInput = {}): Promise<SimCluster> {
    return this.request('POST', '/_sim/clusters', input);
  }

  async listClusters(filter: SimPartitionFilter = {}): Promise<SimCluster[]> {
    const { clusters } = await this.request<{ clusters: SimCluster[] }>(
      'GET',
      `/_sim/clusters${queryOf(filter)}`,
    );
    return clusters;
  }

  getCluster(clusterId: string, filter: SimPartitionFilter = {}): Promise<SimCluster> {
    return this.request('GET', `${clusterPath(clusterId)}${queryOf(filter)}`);
  }

  setClusterState(
    clusterId: string,
    state: SimClusterState,
    options: SimPartitionFilter & { StateMessage?: string | null } = {},
  ): Promise<SimCluster> {
    const { account, region, StateMessage } = options;
    return this.request('PATCH', `${clusterPath(clusterId)}${queryOf({ account, region })}`, {
      State: state,
      ...(StateMessage !== undefined ? { StateMessage } : {}),
    });
  }

  /** Removes a cluster: a CloudHSM key store naming it then fails to connect with CLUSTER_NOT_FOUND. */
  async deleteCluster(clusterId: string, filter: SimPartitionFilter = {}): Promise<void> {
    await this.request('DELETE', `${clusterPath(clusterId)}${queryOf(filter)}`);
  }

  addHsm(clusterId: string, input: SimHsmInput = {}, filter: SimPartitionFilter = {}): Promise<SimHsm> {
    return this.request('POST', `${clusterPath(clusterId)}/hsms${queryOf(filter)}`, input);
  }

  setHsmState(
    clusterId: string,
    hsmId: string,
    state: SimHsmState,
    options: SimPartitionFilter & { StateMessage?: string | null } = {},
  ): Promise<SimHsm> {
    const { account, region, StateMessage } = options;
    return this.request(
      'PATCH',
      `${clusterPath(clusterId)}/hsms/${encodeURIComponent(hsmId)}${queryOf({ account, region })}`,
      { State: state, ...(StateMessage !== undefined ? { StateMessage } : {}) },
    );
  }

  async removeHsm(clusterId: string, hsmId: string, filter: SimPartitionFilter = {}): Promise<void> {
    await this.request(
      'DELETE',
      `${clusterPath(clusterId)}/hsms/${encodeURIComponent(hsmId)}${queryOf(filter)}`,
    );
  }

  async listXksProxies(filter: SimPartitionFilter = {}): Promise<SimXksProxy[]> {
    const { proxies } = await this.request<{ proxies: SimXksProxy[] }>(
      'GET',
      `/_sim/xks-proxies${queryOf(filter)}`,
    );
    return proxies;
  }

  /** The proxy of an external key store; `filter`, when given, must name the store's partition. */
  getXksProxy(customKeyStoreId: string, filter: SimPartitionFilter = {}): Promise<SimXksProxy> {
    return this.request('GET', `${xksProxyPath(customKeyStoreId)}${queryOf(filter)}`);
  }

  setXksProxyHealth(
    customKeyStoreId: string,
    patch: SimXksProxyPatch,
    filter: SimPartitionFilter = {},
  ): Promise<SimXksProxy> {
    return this.request('PATCH', `${xksProxyPath(customKeyStoreId)}${queryOf(filter)}`, patch);
  }

  /** Back to healthy: two ACTIVE external key managers, no failure mode. */
  resetXksProxyHealth(customKeyStoreId: string, filter: SimPartitionFilter = {}): Promise<SimXksProxy> {
    return this.request('DELETE', `${xksProxyPath(customKeyStoreId)}${queryOf(filter)}`);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const send = () =>
      fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let response: Response;
    try {
      response = await send();
    } catch (err) {
      // A pooled connection the simulator closed as idle just as it was reused ("other side
      // closed"): a read is sent again on a new connection. A change is not, as it may have landed.
      if (method !== 'GET' || !closedUnderUs(err)) throw err;
      response = await send();
    }
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

function clusterPath(clusterId: string): string {
  return `/_sim/clusters/${encodeURIComponent(clusterId)}`;
}

function xksProxyPath(customKeyStoreId: string): string {
  return `/_sim/xks-proxies/${encodeURIComponent(customKeyStoreId)}`;
}

function queryOf(filter: object): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filter)) if (typeof value === 'string') query.set(name, value);
  const text = query.toString();
  return text ? `?${text}` : '';
}

function closedUnderUs(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'ECONNRESET';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
