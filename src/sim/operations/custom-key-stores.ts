/**
 * CreateCustomKeyStore, DescribeCustomKeyStores, ConnectCustomKeyStore, DisconnectCustomKeyStore,
 * UpdateCustomKeyStore and DeleteCustomKeyStore, with KMS's parameter rules per store type and the
 * state-acceptance table of KMS-FACTS.md. State rules use the store's true state; only
 * DescribeCustomKeyStores shows the eventually consistent one. Creation and update contact no
 * cluster or proxy (a store naming a cluster the partition lacks gets a healthy one, see
 * cloudhsm-clusters.ts); a connect refuses a CloudHSM key store whose cluster is not ACTIVE, and
 * is decided by the backing cluster or proxy when it comes due (connect-readiness.ts).
 */
import { z } from 'zod';
import { ensureCluster } from '../cloudhsm-clusters';
import { clusterNotActive } from '../connect-readiness';
import { STORE_TYPES, XKS_CONNECTIVITY_TYPES, type StoreRecord, type XksSettings } from '../model';
import { paginate } from '../paging';
import { KmsError } from '../protocol';
import {
  acceptsInState,
  startConnect,
  startDisconnect,
  visibleConnection,
  type StateRuledOperation,
} from '../store-state';
import {
  assertClusterFree,
  assertNameFree,
  assertStoreLimit,
  assertXksFree,
  findStoreByName,
  requireStore,
  storeEntry,
} from '../stores';
import { limitSchema, markerSchema, modelString } from '../validation';
import { defineOperation } from './define';

const storeIdSchema = modelString(1, 64);
const storeNameSchema = modelString(1, 256);
const clusterIdSchema = modelString(19, 24, /^cluster-[2-7a-zA-Z]{11,16}$/);
const trustAnchorSchema = modelString(1, 5000);
const keyStorePasswordSchema = modelString(7, 32);
const xksUriEndpointSchema = modelString(10, 128, /^https:\/\/[a-zA-Z0-9.-]+$/);
const xksUriPathSchema = modelString(
  10,
  128,
  /^(\/[a-zA-Z0-9/_-]+\/kms\/xks\/v\d{1,2})$|^(\/kms\/xks\/v\d{1,2})$/,
);
const vpcEndpointServiceNameSchema = modelString(
  20,
  64,
  /^com\.amazonaws\.vpce\.([a-z]+-){2,3}\d+\.vpce-svc-[0-9a-z]+$/,
);
const accountIdSchema = modelString(12, 12, /^[0-9]{12}$/);
const xksCredentialSchema = z.object({
  AccessKeyId: modelString(20, 30, /^[A-Z2-7]+$/),
  RawSecretAccessKey: modelString(43, 64, /^[a-zA-Z0-9/+=]+$/),
});

const CLOUDHSM_PARAMETERS = ['CloudHsmClusterId', 'TrustAnchorCertificate', 'KeyStorePassword'] as const;
const XKS_PARAMETERS = [
  'XksProxyUriEndpoint',
  'XksProxyUriPath',
  'XksProxyVpcEndpointServiceName',
  'XksProxyVpcEndpointServiceOwner',
  'XksProxyAuthenticationCredential',
  'XksProxyConnectivity',
] as const;

function missingParameters(type: string, missing: string[]): KmsError {
  return new KmsError(
    'ValidationException',
    `Missing required parameter${missing.length === 1 ? '' : 's'} for CustomKeyStoreType ${type}: ${missing.join(', ')}`,
  );
}

function rejectParameters(type: string, present: string[]): void {
  if (present.length > 0) {
    throw new KmsError(
      'ValidationException',
      `Parameter${present.length === 1 ? '' : 's'} not valid for CustomKeyStoreType ${type}: ${present.join(', ')}`,
    );
  }
}

function presentOf<T extends object>(input: T, names: readonly (keyof T & string)[]): string[] {
  return names.filter((name) => input[name] !== undefined);
}

function assertAccepted(store: StoreRecord, operation: StateRuledOperation, detail = ''): void {
  if (acceptsInState(operation, store.state)) return;
  throw new KmsError(
    'CustomKeyStoreInvalidStateException',
    `Custom key store ${store.id} has ConnectionState ${store.state}; ${operation} is not valid in that state${detail}.`,
  );
}

/** VPC endpoint service connectivity needs a service name; a public endpoint must not have one. */
function checkConnectivity(xks: XksSettings): void {
  if (xks.connectivity === 'VPC_ENDPOINT_SERVICE' && !xks.vpcEndpointServiceName) {
    throw new KmsError(
      'ValidationException',
      'XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE',
    );
  }
  if (xks.connectivity === 'PUBLIC_ENDPOINT' && (xks.vpcEndpointServiceName || xks.vpcEndpointServiceOwner)) {
    throw new KmsError(
      'ValidationException',
      'XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are valid only with VPC_ENDPOINT_SERVICE connectivity',
    );
  }
}

const createSchema = z.object({
  CustomKeyStoreName: storeNameSchema,
  CloudHsmClusterId: clusterIdSchema.optional(),
  TrustAnchorCertificate: trustAnchorSchema.optional(),
  KeyStorePassword: keyStorePasswordSchema.optional(),
  CustomKeyStoreType: z.enum(STORE_TYPES).optional(),
  XksProxyUriEndpoint: xksUriEndpointSchema.optional(),
  XksProxyUriPath: xksUriPathSchema.optional(),
  XksProxyVpcEndpointServiceName: vpcEndpointServiceNameSchema.optional(),
  XksProxyVpcEndpointServiceOwner: accountIdSchema.optional(),
  XksProxyAuthenticationCredential: xksCredentialSchema.optional(),
  XksProxyConnectivity: z.enum(XKS_CONNECTIVITY_TYPES).optional(),
});

export const createCustomKeyStore = defineOperation(createSchema, (sim, input) => {
  const type = input.CustomKeyStoreType ?? 'AWS_CLOUDHSM';
  const now = sim.now();
  const state = sim.state;
  const store: StoreRecord = {
    id: sim.newStoreId(),
    seq: 0,
    name: input.CustomKeyStoreName,
    type,
    createdAt: now,
    state: 'DISCONNECTED',
    history: [{ at: now, state: 'DISCONNECTED' }],
    timings: {},
  };
  if (type === 'AWS_CLOUDHSM') {
    rejectParameters(type, presentOf(input, XKS_PARAMETERS));
    const { CloudHsmClusterId, TrustAnchorCertificate, KeyStorePassword } = input;
    if (
      CloudHsmClusterId === undefined ||
      TrustAnchorCertificate === undefined ||
      KeyStorePassword === undefined
    ) {
      throw missingParameters(
        type,
        CLOUDHSM_PARAMETERS.filter((name) => input[name] === undefined),
      );
    }
    store.cloudHsm = {
      clusterId: CloudHsmClusterId,
      trustAnchorCertificate: TrustAnchorCertificate,
      keyStorePassword: KeyStorePassword,
    };
  } else {
    rejectParameters(type, presentOf(input, CLOUDHSM_PARAMETERS));
    const { XksProxyUriEndpoint, XksProxyUriPath, XksProxyAuthenticationCredential, XksProxyConnectivity } =
      input;
    if (
      XksProxyUriEndpoint === undefined ||
      XksProxyUriPath === undefined ||
      XksProxyAuthenticationCredential === undefined ||
      XksProxyConnectivity === undefined
    ) {
      throw missingParameters(
        type,
        (
          [
            'XksProxyUriEndpoint',
            'XksProxyUriPath',
            'XksProxyAuthenticationCredential',
            'XksProxyConnectivity',
          ] as const
        ).filter((name) => input[name] === undefined),
      );
    }
    store.xks = {
      connectivity: XksProxyConnectivity,
      uriEndpoint: XksProxyUriEndpoint,
      uriPath: XksProxyUriPath,
      vpcEndpointServiceName: input.XksProxyVpcEndpointServiceName,
      vpcEndpointServiceOwner: input.XksProxyVpcEndpointServiceOwner,
      accessKeyId: XksProxyAuthenticationCredential.AccessKeyId,
      rawSecretAccessKey: XksProxyAuthenticationCredential.RawSecretAccessKey,
    };
    checkConnectivity(store.xks);
  }
  // The limit is checked once the request is valid, before the uniqueness rules.
  assertStoreLimit(state, sim.storeLimit, sim.arn);
  assertNameFree(state, store.name);
  if (store.cloudHsm) assertClusterFree(state, store.cloudHsm.clusterId);
  if (store.xks) assertXksFree(state, store.xks);
  store.seq = state.takeSeq();
  state.stores.set(store.id, store);
  if (store.cloudHsm) ensureCluster(state.clusters, store.cloudHsm.clusterId, sim.arn.region, now);
  sim.storeChanged(store);
  return { CustomKeyStoreId: store.id };
});

const describeSchema = z.object({
  CustomKeyStoreId: storeIdSchema.optional(),
  CustomKeyStoreName: storeNameSchema.optional(),
  Limit: limitSchema.optional(),
  Marker: markerSchema.optional(),
});

export const describeCustomKeyStores = defineOperation(describeSchema, (sim, input) => {
  if (input.CustomKeyStoreId !== undefined && input.CustomKeyStoreName !== undefined) {
    throw new KmsError(
      'ValidationException',
      'You cannot specify both CustomKeyStoreId and CustomKeyStoreName in the same request.',
    );
  }
  let stores: StoreRecord[];
  if (input.CustomKeyStoreId !== undefined) {
    stores = [requireStore(sim.state, input.CustomKeyStoreId)];
  } else if (input.CustomKeyStoreName !== undefined) {
    const store = findStoreByName(sim.state, input.CustomKeyStoreName);
    if (!store) {
      throw new KmsError(
        'CustomKeyStoreNotFoundException',
        `Custom key store with name ${input.CustomKeyStoreName} does not exist in this account and Region.`,
      );
    }
    stores = [store];
  } else {
    stores = sim.state.storesInOrder();
  }
  const page = paginate(stores, (store) => store.seq, 'custom-key-stores', input.Limit, input.Marker);
  const now = sim.now();
  return {
    CustomKeyStores: page.items.map((store) =>
      storeEntry(
        store,
        visibleConnection(store, now, sim.timingsOf(store).consistencyLagMs),
        'epoch-seconds',
      ),
    ),
    NextMarker: page.nextMarker,
    Truncated: page.truncated,
  };
});

const storeIdRequestSchema = z.object({ CustomKeyStoreId: storeIdSchema });

export const connectCustomKeyStore = defineOperation(storeIdRequestSchema, (sim, input) => {
  const store = requireStore(sim.state, input.CustomKeyStoreId);
  assertAccepted(
    store,
    'ConnectCustomKeyStore',
    store.state === 'FAILED' ? ': disconnect a FAILED store first, then connect it' : '',
  );
  // A pending injected outcome decides the connect whatever the cluster is like.
  const inactive =
    store.state === 'DISCONNECTED' && !store.connectOutcome && clusterNotActive(sim.state.clusters, store);
  if (inactive) {
    throw new KmsError(
      'CloudHsmClusterNotActiveException',
      `The CloudHSM cluster ${inactive.clusterId} associated with custom key store ${store.id} is not active ` +
        `(its state is ${inactive.state}). Initialize and activate the cluster and try the request again.`,
    );
  }
  startConnect(store, sim.now(), sim.timingsOf(store).connectDelayMs, sim.readiness);
  sim.storeChanged(store);
  return {};
});

export const disconnectCustomKeyStore = defineOperation(storeIdRequestSchema, (sim, input) => {
  const store = requireStore(sim.state, input.CustomKeyStoreId);
  assertAccepted(store, 'DisconnectCustomKeyStore');
  startDisconnect(store, sim.now(), sim.timingsOf(store).disconnectDelayMs);
  sim.storeChanged(store);
  return {};
});

const updateSchema = z.object({
  CustomKeyStoreId: storeIdSchema,
  NewCustomKeyStoreName: storeNameSchema.optional(),
  KeyStorePassword: keyStorePasswordSchema.optional(),
  CloudHsmClusterId: clusterIdSchema.optional(),
  XksProxyUriEndpoint: xksUriEndpointSchema.optional(),
  XksProxyUriPath: xksUriPathSchema.optional(),
  XksProxyVpcEndpointServiceName: vpcEndpointServiceNameSchema.optional(),
  XksProxyVpcEndpointServiceOwner: accountIdSchema.optional(),
  XksProxyAuthenticationCredential: xksCredentialSchema.optional(),
  XksProxyConnectivity: z.enum(XKS_CONNECTIVITY_TYPES).optional(),
});

export const updateCustomKeyStore = defineOperation(updateSchema, (sim, input) => {
  const store = requireStore(sim.state, input.CustomKeyStoreId);
  const cloudHsmChanges = presentOf(input, ['KeyStorePassword', 'CloudHsmClusterId']);
  const xksChanges = presentOf(input, XKS_PARAMETERS);
  rejectParameters(store.type, store.type === 'AWS_CLOUDHSM' ? xksChanges : cloudHsmChanges);
  const renameOnly = cloudHsmChanges.length === 0 && xksChanges.length === 0;
  assertAccepted(store, 'UpdateCustomKeyStore');
  if (store.state === 'CONNECTED' && !renameOnly) {
    throw new KmsError(
      'CustomKeyStoreInvalidStateException',
      `Custom key store ${store.id} has ConnectionState CONNECTED; only a rename is allowed while CONNECTED. ` +
        'Disconnect it to change other settings.',
    );
  }
  const name = input.NewCustomKeyStoreName ?? store.name;
  assertNameFree(sim.state, name, store.id);
  let cloudHsm = store.cloudHsm;
  if (cloudHsm) {
    cloudHsm = {
      ...cloudHsm,
      clusterId: input.CloudHsmClusterId ?? cloudHsm.clusterId,
      keyStorePassword: input.KeyStorePassword ?? cloudHsm.keyStorePassword,
    };
    assertClusterFree(sim.state, cloudHsm.clusterId, store.id);
  }
  let xks = store.xks;
  if (xks) {
    const connectivity = input.XksProxyConnectivity ?? xks.connectivity;
    const keepVpc = connectivity === 'VPC_ENDPOINT_SERVICE';
    xks = {
      connectivity,
      uriEndpoint: input.XksProxyUriEndpoint ?? xks.uriEndpoint,
      uriPath: input.XksProxyUriPath ?? xks.uriPath,
      vpcEndpointServiceName:
        input.XksProxyVpcEndpointServiceName ?? (keepVpc ? xks.vpcEndpointServiceName : undefined),
      vpcEndpointServiceOwner:
        input.XksProxyVpcEndpointServiceOwner ?? (keepVpc ? xks.vpcEndpointServiceOwner : undefined),
      accessKeyId: input.XksProxyAuthenticationCredential?.AccessKeyId ?? xks.accessKeyId,
      rawSecretAccessKey:
        input.XksProxyAuthenticationCredential?.RawSecretAccessKey ?? xks.rawSecretAccessKey,
    };
    checkConnectivity(xks);
    assertXksFree(sim.state, xks, store.id);
  }
  store.name = name;
  store.cloudHsm = cloudHsm;
  store.xks = xks;
  if (cloudHsm) ensureCluster(sim.state.clusters, cloudHsm.clusterId, sim.arn.region, sim.now());
  sim.persist();
  return {};
});

export const deleteCustomKeyStore = defineOperation(storeIdRequestSchema, (sim, input) => {
  const store = requireStore(sim.state, input.CustomKeyStoreId);
  assertAccepted(store, 'DeleteCustomKeyStore');
  const keys = sim.state.keysInStore(store.id);
  if (keys.length > 0) {
    throw new KmsError(
      'CustomKeyStoreHasCMKsException',
      `Custom key store ${store.id} contains ${keys.length} KMS key(s); delete them before the store.`,
    );
  }
  sim.state.stores.delete(store.id);
  sim.storeRemoved(store.id);
  return {};
});
