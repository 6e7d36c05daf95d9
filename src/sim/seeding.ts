/**
 * Stores, keys and aliases made by fiat — through the control API or a seed file — in any
 * partition (`Account`, `Region`; the default partition when absent). They obey what KMS would
 * enforce on the same partition (uniqueness, the store limit) but skip its state rules: a store
 * starts in the state asked for, and a key can be put in a store that is not connected.
 */
import { readFileSync } from 'node:fs';
import { ensureCluster } from './cloudhsm-clusters';
import {
  seedSchema,
  type Seed,
  type SimAliasInput,
  type SimKeyInput,
  type SimStoreInput,
} from './control-schemas';
import type { KeyRecord, StoreRecord } from './model';
import type { Partition } from './partition';
import { ControlError, type Simulator } from './simulator';
import type { SimState } from './state';
import { forceState } from './store-state';
import {
  assertClusterFree,
  assertNameFree,
  assertXksFree,
  findStoreByName,
  newClusterId,
  newXksAccessKeyId,
  newXksSecret,
  SIMULATED_TRUST_ANCHOR,
  storeLimitProblem,
} from './stores';

interface PartitionFields {
  Account?: string | undefined;
  Region?: string | undefined;
}

/** The partition named by `Account`/`Region` (default: the simulator's), which must be served. */
export function partitionOfInput(sim: Simulator, input: PartitionFields): Partition {
  const region = input.Region ?? sim.defaultPartition.region;
  sim.assertServed(region, `Region ${region}`);
  return sim.partition({ account: input.Account ?? sim.defaultPartition.account, region });
}

/**
 * A store made by fiat: type-appropriate settings are generated unless given, uniqueness rules and
 * the store limit still hold, and it starts in the requested state (default CONNECTED).
 */
export function createSimStore(
  sim: Simulator,
  input: SimStoreInput,
): { partition: Partition; store: StoreRecord } {
  const now = sim.now();
  const partition = partitionOfInput(sim, input);
  const state = partition.state;
  if (input.CustomKeyStoreId !== undefined && sim.findStore(input.CustomKeyStoreId)) {
    throw new ControlError(
      409,
      'Conflict',
      `Store ${input.CustomKeyStoreId} already exists`,
      'CustomKeyStoreId',
    );
  }
  const limit = storeLimitProblem(state, sim.config.storeLimit, partition.arn);
  if (limit !== undefined) {
    throw new ControlError(
      409,
      'LimitExceeded',
      `${limit} Delete a store (DELETE /_sim/stores/:id) or create this one in another Account or Region.`,
      'Region',
    );
  }
  const id = input.CustomKeyStoreId ?? sim.scope(partition).newStoreId();
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
          ? `com.amazonaws.vpce.${partition.region}.vpce-svc-${id.slice(4)}`
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
  if (store.cloudHsm) ensureCluster(state.clusters, store.cloudHsm.clusterId, partition.region, now);
  forceState(
    store,
    now,
    input.ConnectionState ?? 'CONNECTED',
    input.ConnectionErrorCode,
    sim.timingsOf(store),
    sim.readiness(partition),
  );
  state.stores.set(id, store);
  sim.storeChanged(store);
  return { partition, store };
}

/** A key by fiat, in KMS itself or in a store (by id or name) of its partition, in any state. */
export function createSimKey(sim: Simulator, input: SimKeyInput): { partition: Partition; key: KeyRecord } {
  const partition = partitionOfInput(sim, input);
  const state = partition.state;
  if (input.KeyId && state.keys.has(input.KeyId)) {
    throw new ControlError(409, 'Conflict', `Key ${input.KeyId} already exists`, 'KeyId');
  }
  const storeRef = input.CustomKeyStoreId ?? input.CustomKeyStoreName;
  const store =
    input.CustomKeyStoreId !== undefined
      ? state.stores.get(input.CustomKeyStoreId)
      : input.CustomKeyStoreName !== undefined
        ? findStoreByName(state, input.CustomKeyStoreName)
        : undefined;
  if (storeRef !== undefined && !store) {
    const elsewhere =
      input.CustomKeyStoreId !== undefined ? sim.findStore(input.CustomKeyStoreId) : undefined;
    throw new ControlError(
      400,
      'NotFound',
      elsewhere
        ? `Custom key store ${storeRef} is in account ${elsewhere.partition.account}, Region ${elsewhere.partition.region}, not in account ${partition.account}, Region ${partition.region}; give its Account and Region`
        : `No custom key store ${storeRef} in account ${partition.account}, Region ${partition.region}`,
      input.CustomKeyStoreId !== undefined ? 'CustomKeyStoreId' : 'CustomKeyStoreName',
    );
  }
  const key = sim.createKeyRecord(state, {
    keyId: input.KeyId,
    description: input.Description,
    enabled: input.Enabled,
    store,
    xksKeyId: input.XksKeyId,
  });
  sim.persist();
  return { partition, key };
}

export function createSimAlias(sim: Simulator, input: SimAliasInput): { partition: Partition } {
  const partition = partitionOfInput(sim, input);
  const state = partition.state;
  if (!state.keys.has(input.TargetKeyId)) {
    throw new ControlError(
      400,
      'NotFound',
      `No key ${input.TargetKeyId} in account ${partition.account}, Region ${partition.region}`,
      'TargetKeyId',
    );
  }
  if (state.aliases.has(input.AliasName)) {
    throw new ControlError(409, 'Conflict', `Alias ${input.AliasName} already exists`, 'AliasName');
  }
  const now = sim.now();
  state.aliases.set(input.AliasName, {
    name: input.AliasName,
    targetKeyId: input.TargetKeyId,
    createdAt: now,
    updatedAt: now,
  });
  sim.persist();
  return { partition };
}

/** Applies a seed file; any problem names the file, the entry and the field. */
export function applySeedFile(sim: Simulator, path: string): void {
  try {
    applySeed(sim, readSeedFile(path));
  } catch (err) {
    if (err instanceof ControlError) throw new Error(`Seed file ${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

function applySeed(sim: Simulator, seed: Seed): void {
  seed.stores?.forEach((input, i) => withField(`stores[${i}]`, () => createSimStore(sim, input)));
  seed.keys?.forEach((input, i) => withField(`keys[${i}]`, () => createSimKey(sim, input)));
  seed.aliases?.forEach((input, i) => withField(`aliases[${i}]`, () => createSimAlias(sim, input)));
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
      { cause: err },
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
