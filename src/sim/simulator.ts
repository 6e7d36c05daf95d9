/**
 * The simulator's core, independent of HTTP: the partitions (one account in one Region each, with
 * its stores, keys, aliases and CloudHSM clusters), the XKS proxies' health, IAM (access keys,
 * roles, sessions), the runtime configuration, the quota, the injected faults, the call log, the
 * transition timers and the state file. The KMS endpoint (`kms-api.ts`), the STS endpoint
 * (`sts-api.ts`), the CloudHSM endpoint (`cloudhsm-api.ts`), the XKS proxy stand-in
 * (`xks-proxy.ts`) and the control API (`control-api.ts`) act on it.
 *
 * Time is read in one place (`now()`); every read first brings stores up to date
 * (`advanceStores`), so answers never depend on whether a timer has fired yet.
 */
import { randomUUID } from 'node:crypto';
import { ensureCluster } from './cloudhsm-clusters';
import {
  effectiveTimings,
  partitionOf,
  type EffectiveTimings,
  type ResolvedOptions,
  type RuntimeConfig,
} from './config';
import { newKeySecret } from './crypto';
import { FaultInjector } from './faults';
import { CallLog } from './call-log';
import { connectFailure, type ConnectReadiness } from './connect-readiness';
import { Iam, type Caller } from './iam';
import type { ArnContext } from './keys';
import type { KeyOrigin, KeyRecord, StoreRecord } from './model';
import { Partition, partitionKey, type PartitionId } from './partition';
import { loadStateFile, saveStateFile } from './persistence';
import { RequestQuota } from './quota';
import type { KeyInput, KmsScope } from './scope';
import { applySeedFile } from './seeding';
import type { SimState } from './state';
import { advanceStore, TransitionTimers } from './store-state';
import { newStoreId } from './stores';
import { XksProxies } from './xks-proxies';

/** A control-API or seed problem the caller must fix; becomes a 4xx naming the field. */
export class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

export class Simulator {
  /** The AWS partition (`aws`, `aws-cn`, `aws-us-gov`) of every served Region. */
  readonly awsPartition: string;
  readonly regions: readonly string[];
  readonly config: RuntimeConfig;
  readonly quota: RequestQuota;
  readonly faults = new FaultInjector();
  readonly calls = new CallLog();
  readonly iam: Iam;
  /** The health each XKS proxy reports (GetHealthStatus) and KMS finds when a store connects. */
  readonly xksProxies = new XksProxies();
  /** By `partitionKey`; the default partition first, the others in the order they were first used. */
  private partitions = new Map<string, Partition>();
  private readonly timers: TransitionTimers;
  private readonly pendingSleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private stopped = false;

  constructor(private readonly options: ResolvedOptions) {
    this.awsPartition = partitionOf(options.region);
    this.regions = options.regions;
    this.config = {
      profile: options.profile,
      overrides: { ...options.overrides },
      quotaRps: options.quotaRps,
      storeLimit: options.storeLimit,
    };
    this.quota = new RequestQuota(options.quotaRps);
    this.iam = new Iam(options.account, this.awsPartition);
    this.timers = new TransitionTimers((storeId) => this.onTransitionDue(storeId));
    this.partition(options);
    const loaded = options.stateFile ? loadStateFile(options.stateFile) : undefined;
    if (loaded) {
      for (const saved of loaded.partitions) {
        const id = { account: saved.account ?? options.account, region: saved.region ?? options.region };
        this.assertServed(id.region, `State file ${options.stateFile ?? ''}`);
        this.partition(id).state = saved.state;
      }
      loaded.restoreIam(this.iam);
      this.xksProxies.restore(loaded.xksProxies);
    }
    if (options.seedFile && this.storeCount() === 0) applySeedFile(this, options.seedFile);
    this.ensureClusters();
    this.advanceStores();
    this.syncAllTimers();
    this.persist();
  }

  /** `(account, region)` of the options: where every caller that predates accounts acts. */
  get defaultPartition(): Partition {
    return this.partition(this.options);
  }

  /** The default partition's state (what the simulator was before it had partitions). */
  get state(): SimState {
    return this.defaultPartition.state;
  }

  /** The default partition's account and Region. */
  get arn(): ArnContext {
    return this.defaultPartition.arn;
  }

  serves(region: string): boolean {
    return this.regions.includes(region);
  }

  /** The partition of an account and a served Region, created empty on first use. */
  partition(id: PartitionId): Partition {
    const key = partitionKey(id);
    let partition = this.partitions.get(key);
    if (!partition) {
      partition = new Partition(id.account, id.region, this.awsPartition);
      this.partitions.set(key, partition);
    }
    return partition;
  }

  /** Every partition that has been used, the default one first. */
  allPartitions(): Partition[] {
    return [...this.partitions.values()];
  }

  findStore(id: string): { partition: Partition; store: StoreRecord } | undefined {
    for (const partition of this.partitions.values()) {
      const store = partition.state.stores.get(id);
      if (store) return { partition, store };
    }
    return undefined;
  }

  storeCount(): number {
    let count = 0;
    for (const partition of this.partitions.values()) count += partition.state.stores.size;
    return count;
  }

  /** What KMS operations see of one partition. */
  scope(partition: Partition, caller?: Caller): KmsScope {
    return {
      state: partition.state,
      arn: partition.arn,
      storeLimit: this.config.storeLimit,
      caller,
      now: () => this.now(),
      persist: () => this.persist(),
      storeChanged: (store) => this.storeChanged(store),
      storeRemoved: (storeId) => this.storeRemoved(storeId),
      timingsOf: (store) => this.timingsOf(store),
      storeOfKey: (key) => storeOfKey(partition.state, key),
      createKeyRecord: (input) => this.createKeyRecord(partition.state, input),
      newStoreId: () => newStoreId({ has: (id) => this.findStore(id) !== undefined }),
      readiness: this.readiness(partition),
    };
  }

  /** How a connect in this partition is decided when it comes due (connect-readiness.ts). */
  readiness(partition: Partition): ConnectReadiness {
    return (store) =>
      connectFailure(
        { clusters: partition.state.clusters, xksHealth: (xks) => this.xksProxies.healthOf(xks) },
        store,
      );
  }

  assertServed(region: string, what: string, field = 'Region'): void {
    if (!this.serves(region)) {
      throw new ControlError(
        400,
        'InvalidRequest',
        `${what}: Region ${region} is not served; this simulator serves ${this.regions.join(', ')} (option "regions", flag --regions)`,
        field,
      );
    }
  }

  now(): number {
    return Date.now();
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  timingsOf(store: StoreRecord): EffectiveTimings {
    return effectiveTimings(this.config, store.type, store.timings);
  }

  /** Applies every transition that is due. Returns true when anything changed (and saves it). */
  advanceStores(now = this.now()): boolean {
    let changed = false;
    for (const partition of this.partitions.values()) {
      const readiness = this.readiness(partition);
      for (const store of partition.state.stores.values()) {
        if (advanceStore(store, now, readiness)) {
          changed = true;
          this.log(
            `store ${store.id} is now ${store.state}${store.errorCode ? ` (${store.errorCode})` : ''}`,
          );
        }
      }
    }
    if (changed) this.persist();
    return changed;
  }

  /** Call after changing a store's connection state: arms its timer and saves. */
  storeChanged(store: StoreRecord): void {
    this.timers.sync(store, this.now());
    this.persist();
  }

  storeRemoved(storeId: string): void {
    this.timers.cancel(storeId);
    this.persist();
  }

  persist(): void {
    if (this.options.stateFile && !this.stopped) {
      saveStateFile(this.options.stateFile, this.allPartitions(), this.iam, this.now(), this.xksProxies);
    }
  }

  /** Sleeps for injected latency; cut short by `stop()` so no timer outlives the simulator. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pendingSleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.pendingSleeps.add(entry);
    });
  }

  /**
   * Back to the start: every partition empty (plus the seed, if any), no access keys, roles or
   * sessions, no faults, no calls, the start configuration.
   */
  reset(): void {
    this.timers.clear();
    this.partitions = new Map();
    this.partition(this.options);
    this.iam.clear();
    this.xksProxies.clear();
    this.faults.clear();
    this.calls.clear();
    this.config.profile = this.options.profile;
    this.config.overrides = { ...this.options.overrides };
    this.config.quotaRps = this.options.quotaRps;
    this.config.storeLimit = this.options.storeLimit;
    this.quota.setRate(this.options.quotaRps);
    if (this.options.seedFile) applySeedFile(this, this.options.seedFile);
    this.advanceStores();
    this.syncAllTimers();
    this.persist();
  }

  stop(): void {
    this.stopped = true;
    this.timers.stop();
    for (const sleep of this.pendingSleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.pendingSleeps.clear();
  }

  /** A key as CreateKey makes it; `store` decides its origin. */
  createKeyRecord(state: SimState, input: KeyInput): KeyRecord {
    const origin: KeyOrigin = input.store
      ? input.store.type === 'AWS_CLOUDHSM'
        ? 'AWS_CLOUDHSM'
        : 'EXTERNAL_KEY_STORE'
      : 'AWS_KMS';
    const key: KeyRecord = {
      id: input.keyId ?? randomUUID(),
      seq: state.takeSeq(),
      createdAt: this.now(),
      description: input.description ?? '',
      enabled: input.enabled ?? true,
      origin,
      customKeyStoreId: input.store?.id,
      xksKeyId:
        origin === 'EXTERNAL_KEY_STORE' ? (input.xksKeyId ?? `sim-xks-key-${randomUUID()}`) : undefined,
      secret: newKeySecret(),
    };
    state.keys.set(key.id, key);
    return key;
  }

  private onTransitionDue(storeId: string): void {
    if (this.stopped) return;
    try {
      this.advanceStores();
    } catch (err) {
      // A timer has no caller to report to; an unwritable state file must not kill the process.
      this.log(
        `store ${storeId}: saving the state failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const found = this.findStore(storeId);
    // A transition rescheduled by a later call may not be due yet.
    if (found) this.timers.sync(found.store, this.now());
  }

  /**
   * Gives every CloudHSM key store whose cluster its partition lacks a healthy one: stores from a
   * state file written before clusters existed connect as they always did.
   */
  private ensureClusters(): void {
    const now = this.now();
    for (const partition of this.partitions.values()) {
      for (const store of partition.state.stores.values()) {
        if (store.cloudHsm)
          ensureCluster(partition.state.clusters, store.cloudHsm.clusterId, partition.region, now);
      }
    }
  }

  private syncAllTimers(): void {
    const now = this.now();
    for (const partition of this.partitions.values()) {
      for (const store of partition.state.stores.values()) this.timers.sync(store, now);
    }
  }
}

function storeOfKey(state: SimState, key: KeyRecord): StoreRecord | undefined {
  return key.customKeyStoreId !== undefined ? state.stores.get(key.customKeyStoreId) : undefined;
}
