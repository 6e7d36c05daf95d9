/**
 * The simulator's core, independent of HTTP: the account state, the runtime configuration, the
 * quota, the injected faults, the call log, the transition timers and the state file. Both the KMS
 * endpoint (`kms-api.ts`) and the control API (`control-api.ts`) act on it.
 *
 * Time is read in one place (`now()`); every read first brings stores up to date
 * (`advanceStores`), so answers never depend on whether a timer has fired yet.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CallLog } from './call-log';
import { effectiveTimings, type EffectiveTimings, type ResolvedOptions, type RuntimeConfig } from './config';
import { seedSchema, type Seed, type SimStoreInput } from './control-schemas';
import { newKeySecret } from './crypto';
import { FaultInjector } from './faults';
import { partitionOf, type ArnContext } from './keys';
import type { KeyOrigin, KeyRecord, StoreRecord } from './model';
import { loadStateFile, saveStateFile } from './persistence';
import { RequestQuota } from './quota';
import { SimState } from './state';
import { advanceStore, forceState, TransitionTimers } from './store-state';
import {
  assertClusterFree,
  assertNameFree,
  assertXksFree,
  findStoreByName,
  newClusterId,
  newStoreId,
  newXksAccessKeyId,
  newXksSecret,
  SIMULATED_TRUST_ANCHOR,
} from './stores';

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
  readonly arn: ArnContext;
  readonly config: RuntimeConfig;
  readonly quota: RequestQuota;
  readonly faults = new FaultInjector();
  readonly calls = new CallLog();
  state: SimState;
  private readonly timers: TransitionTimers;
  private readonly pendingSleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private stopped = false;

  constructor(private readonly options: ResolvedOptions) {
    this.arn = { partition: partitionOf(options.region), region: options.region, account: options.account };
    this.config = {
      profile: options.profile,
      overrides: { ...options.overrides },
      quotaRps: options.quotaRps,
    };
    this.quota = new RequestQuota(options.quotaRps);
    this.timers = new TransitionTimers((storeId) => this.onTransitionDue(storeId));
    const loaded = options.stateFile ? loadStateFile(options.stateFile) : undefined;
    this.state = loaded ?? new SimState();
    if (options.seedFile && this.state.stores.size === 0) this.seedFrom(options.seedFile);
    this.advanceStores();
    this.syncAllTimers();
    this.persist();
  }

  now(): number {
    return Date.now();
  }

  log(line: string): void {
    this.options.log?.(line);
  }

  storeOfKey(key: KeyRecord): StoreRecord | undefined {
    return key.customKeyStoreId !== undefined ? this.state.stores.get(key.customKeyStoreId) : undefined;
  }

  timingsOf(store: StoreRecord): EffectiveTimings {
    return effectiveTimings(this.config, store.type, store.timings);
  }

  /** Applies every transition that is due. Returns true when anything changed (and saves it). */
  advanceStores(now = this.now()): boolean {
    let changed = false;
    for (const store of this.state.stores.values()) {
      if (advanceStore(store, now)) {
        changed = true;
        this.log(`store ${store.id} is now ${store.state}${store.errorCode ? ` (${store.errorCode})` : ''}`);
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
    if (this.options.stateFile && !this.stopped)
      saveStateFile(this.options.stateFile, this.state, this.now());
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

  /** Back to the start: empty account (plus the seed, if any), no faults, no calls, start config. */
  reset(): void {
    this.timers.clear();
    this.state = new SimState();
    this.faults.clear();
    this.calls.clear();
    this.config.profile = this.options.profile;
    this.config.overrides = { ...this.options.overrides };
    this.config.quotaRps = this.options.quotaRps;
    this.quota.setRate(this.options.quotaRps);
    if (this.options.seedFile) this.seedFrom(this.options.seedFile);
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

  /**
   * A store made by fiat (control API, seed file): type-appropriate settings are generated unless
   * given, uniqueness rules still hold, and it starts in the requested state (default CONNECTED).
   */
  createSimStore(input: SimStoreInput): StoreRecord {
    const now = this.now();
    const state = this.state;
    const id = input.CustomKeyStoreId ?? newStoreId(state.stores);
    if (state.stores.has(id))
      throw new ControlError(409, 'Conflict', `Store ${id} already exists`, 'CustomKeyStoreId');
    const name = input.CustomKeyStoreName ?? uniqueName(state, input.CustomKeyStoreType);
    const store: StoreRecord = {
      id,
      seq: state.takeSeq(),
      name,
      type: input.CustomKeyStoreType,
      createdAt: now,
      state: 'DISCONNECTED',
      history: [],
      timings: {
        connectDelayMs: input.connectDelayMs,
        disconnectDelayMs: input.disconnectDelayMs,
        consistencyLagMs: input.consistencyLagMs,
      },
      connectOutcome: input.connectOutcome
        ? { failWith: input.connectOutcome.failWith, times: input.connectOutcome.times ?? 1 }
        : undefined,
    };
    if (input.CustomKeyStoreType === 'AWS_CLOUDHSM') {
      store.cloudHsm = {
        clusterId: input.CloudHsmClusterId ?? newClusterId(),
        trustAnchorCertificate: SIMULATED_TRUST_ANCHOR,
        keyStorePassword: 'simulated-kmsuser-password',
      };
    } else {
      const connectivity = input.XksProxyConnectivity ?? 'PUBLIC_ENDPOINT';
      store.xks = {
        connectivity,
        uriEndpoint: input.XksProxyUriEndpoint ?? `https://xks-${id}.example.com`,
        uriPath: input.XksProxyUriPath ?? '/kms/xks/v1',
        vpcEndpointServiceName:
          input.XksProxyVpcEndpointServiceName ??
          (connectivity === 'VPC_ENDPOINT_SERVICE'
            ? `com.amazonaws.vpce.${this.arn.region}.vpce-svc-${id.slice(4)}`
            : undefined),
        accessKeyId: newXksAccessKeyId(),
        rawSecretAccessKey: newXksSecret(),
      };
    }
    asControlConflict(() => {
      assertNameFree(state, name);
      if (store.cloudHsm) assertClusterFree(state, store.cloudHsm.clusterId);
      if (store.xks) assertXksFree(state, store.xks);
    });
    forceState(
      store,
      now,
      input.ConnectionState ?? 'CONNECTED',
      input.ConnectionErrorCode,
      this.timingsOf(store),
    );
    state.stores.set(id, store);
    this.storeChanged(store);
    return store;
  }

  /** A key as CreateKey makes it; `store` decides its origin. */
  createKeyRecord(input: {
    keyId?: string | undefined;
    description?: string | undefined;
    enabled?: boolean | undefined;
    store?: StoreRecord | undefined;
    xksKeyId?: string | undefined;
  }): KeyRecord {
    const origin: KeyOrigin = input.store
      ? input.store.type === 'AWS_CLOUDHSM'
        ? 'AWS_CLOUDHSM'
        : 'EXTERNAL_KEY_STORE'
      : 'AWS_KMS';
    const key: KeyRecord = {
      id: input.keyId ?? randomUUID(),
      seq: this.state.takeSeq(),
      createdAt: this.now(),
      description: input.description ?? '',
      enabled: input.enabled ?? true,
      origin,
      customKeyStoreId: input.store?.id,
      xksKeyId:
        origin === 'EXTERNAL_KEY_STORE' ? (input.xksKeyId ?? `sim-xks-key-${randomUUID()}`) : undefined,
      secret: newKeySecret(),
    };
    this.state.keys.set(key.id, key);
    return key;
  }

  private seedFrom(path: string): void {
    try {
      this.applySeed(readSeedFile(path));
    } catch (err) {
      if (err instanceof ControlError) throw new Error(`Seed file ${path}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  private applySeed(seed: Seed): void {
    seed.stores?.forEach((input, i) => withField(`stores[${i}]`, () => this.createSimStore(input)));
    seed.keys?.forEach((input, i) =>
      withField(`keys[${i}]`, () => {
        if (input.KeyId && this.state.keys.has(input.KeyId)) {
          throw new ControlError(409, 'Conflict', `Key ${input.KeyId} already exists`, 'KeyId');
        }
        const storeRef = input.CustomKeyStoreId ?? input.CustomKeyStoreName;
        const store =
          input.CustomKeyStoreId !== undefined
            ? this.state.stores.get(input.CustomKeyStoreId)
            : input.CustomKeyStoreName !== undefined
              ? findStoreByName(this.state, input.CustomKeyStoreName)
              : undefined;
        if (storeRef !== undefined && !store) {
          throw new ControlError(400, 'NotFound', `No custom key store ${storeRef}`, 'CustomKeyStoreId');
        }
        this.createKeyRecord({
          keyId: input.KeyId,
          description: input.Description,
          enabled: input.Enabled,
          store,
          xksKeyId: input.XksKeyId,
        });
      }),
    );
    seed.aliases?.forEach((input, i) =>
      withField(`aliases[${i}]`, () => {
        if (!this.state.keys.has(input.TargetKeyId)) {
          throw new ControlError(400, 'NotFound', `No key ${input.TargetKeyId}`, 'TargetKeyId');
        }
        if (this.state.aliases.has(input.AliasName)) {
          throw new ControlError(409, 'Conflict', `Alias ${input.AliasName} already exists`, 'AliasName');
        }
        const now = this.now();
        this.state.aliases.set(input.AliasName, {
          name: input.AliasName,
          targetKeyId: input.TargetKeyId,
          createdAt: now,
          updatedAt: now,
        });
      }),
    );
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
    const store = this.state.stores.get(storeId);
    // A transition rescheduled by a later call may not be due yet.
    if (store) this.timers.sync(store, this.now());
  }

  private syncAllTimers(): void {
    const now = this.now();
    for (const store of this.state.stores.values()) this.timers.sync(store, now);
  }
}

function uniqueName(state: SimState, type: StoreRecord['type']): string {
  const prefix = type === 'AWS_CLOUDHSM' ? 'sim-cloudhsm-store' : 'sim-xks-store';
  for (let n = state.stores.size + 1; ; n++) {
    const name = `${prefix}-${n}`;
    if (!findStoreByName(state, name)) return name;
  }
}

/** KMS's uniqueness errors, reported the control API's way. */
function asControlConflict(check: () => void): void {
  try {
    check();
  } catch (err) {
    if (err instanceof Error) {
      const field =
        err.name === 'CustomKeyStoreNameInUseException'
          ? 'CustomKeyStoreName'
          : err.name === 'CloudHsmClusterInUseException'
            ? 'CloudHsmClusterId'
            : err.name === 'XksProxyVpcEndpointServiceInUseException'
              ? 'XksProxyVpcEndpointServiceName'
              : 'XksProxyUriEndpoint';
      throw new ControlError(409, 'Conflict', err.message, field);
    }
    throw err;
  }
}

function withField<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ControlError) {
      throw new ControlError(
        err.status,
        err.code,
        `${prefix}: ${err.message}`,
        `${prefix}.${err.field ?? ''}`,
      );
    }
    throw err;
  }
}

function readSeedFile(path: string): Seed {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(
      `Seed file ${path} cannot be read as JSON: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  const parsed = seedSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `Seed file ${path}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'is invalid'}`.trim(),
    );
  }
  return parsed.data;
}
