/**
 * Custom key store records: identifiers that look like real ones, the `CustomKeyStoresListEntry`
 * they render to, and the account-wide uniqueness rules KMS enforces at creation and update (name,
 * CloudHSM cluster, XKS endpoint + path, VPC endpoint service, private DNS name).
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { ConnectionSnapshot, StoreRecord, XksSettings } from './model';
import type { ArnContext } from './keys';
import { epochSeconds, KmsError, type JsonObject } from './protocol';
import type { SimState } from './state';

/** `cks-` and 17 hex digits, like KMS's; `taken` spans every partition (ids are global). */
export function newStoreId(taken: { has(id: string): boolean }): string {
  for (;;) {
    const id = `cks-${randomBytes(9).toString('hex').slice(0, 17)}`;
    if (!taken.has(id)) return id;
  }
}

export const STORE_ID_PATTERN = /^cks-[0-9a-f]{17}$/;

const CLUSTER_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** Matches the model's `^cluster-[2-7a-zA-Z]{11,16}$`. */
export function newClusterId(): string {
  let suffix = '';
  for (let i = 0; i < 11; i++) suffix += CLUSTER_ALPHABET[randomInt(CLUSTER_ALPHABET.length)];
  return `cluster-${suffix}`;
}

const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Matches the model's `^[A-Z2-7]+$`, 20 to 30 characters. */
export function newXksAccessKeyId(): string {
  let id = '';
  for (let i = 0; i < 20; i++) id += ACCESS_KEY_ALPHABET[randomInt(ACCESS_KEY_ALPHABET.length)];
  return id;
}

export function newXksSecret(): string {
  return randomBytes(32).toString('base64');
}

export const SIMULATED_TRUST_ANCHOR =
  '-----BEGIN CERTIFICATE-----\nMIIBkeystoremaintsimulatortrustanchor\n-----END CERTIFICATE-----';

export type DateFormat = 'epoch-seconds' | 'iso';

/** A `CustomKeyStoresListEntry` showing the given connection state. */
export function storeEntry(
  store: StoreRecord,
  connection: ConnectionSnapshot,
  dates: DateFormat,
): JsonObject {
  return {
    CustomKeyStoreId: store.id,
    CustomKeyStoreName: store.name,
    CustomKeyStoreType: store.type,
    ConnectionState: connection.state,
    ConnectionErrorCode: connection.state === 'FAILED' ? connection.errorCode : undefined,
    CreationDate: dates === 'iso' ? new Date(store.createdAt).toISOString() : epochSeconds(store.createdAt),
    CloudHsmClusterId: store.cloudHsm?.clusterId,
    TrustAnchorCertificate: store.cloudHsm?.trustAnchorCertificate,
    XksProxyConfiguration: store.xks
      ? {
          Connectivity: store.xks.connectivity,
          AccessKeyId: store.xks.accessKeyId,
          UriEndpoint: store.xks.uriEndpoint,
          UriPath: store.xks.uriPath,
          VpcEndpointServiceName: store.xks.vpcEndpointServiceName,
          VpcEndpointServiceOwner: store.xks.vpcEndpointServiceOwner,
        }
      : undefined,
  };
}

/**
 * Why one more store would break the limit of custom key stores per account and Region (KMS: 10,
 * not adjustable), or undefined when it fits. `limit` 0 means unlimited.
 */
export function storeLimitProblem(state: SimState, limit: number, where: ArnContext): string | undefined {
  if (limit <= 0 || state.stores.size < limit) return undefined;
  return (
    `Account ${where.account} already has ${state.stores.size} custom key stores in ${where.region}; ` +
    `the limit is ${limit} custom key stores per account and Region.`
  );
}

/** CreateCustomKeyStore's refusal at the limit: the `LimitExceededException` of the KMS model. */
export function assertStoreLimit(state: SimState, limit: number, where: ArnContext): void {
  const problem = storeLimitProblem(state, limit, where);
  if (problem !== undefined) {
    throw new KmsError(
      'LimitExceededException',
      `The request was rejected because a quota was exceeded. ${problem} ` +
        'Delete a custom key store you no longer need, or use another Region.',
    );
  }
}

export function findStoreByName(state: SimState, name: string): StoreRecord | undefined {
  for (const store of state.stores.values()) if (store.name === name) return store;
  return undefined;
}

export function requireStore(state: SimState, id: string): StoreRecord {
  const store = state.stores.get(id);
  if (!store) {
    throw new KmsError(
      'CustomKeyStoreNotFoundException',
      `Custom key store ${id} does not exist in this account and Region.`,
    );
  }
  return store;
}

export function assertNameFree(state: SimState, name: string, self?: string): void {
  const other = findStoreByName(state, name);
  if (other && other.id !== self) {
    throw new KmsError(
      'CustomKeyStoreNameInUseException',
      `A custom key store with the name ${name} already exists in this account and Region.`,
    );
  }
}

export function assertClusterFree(state: SimState, clusterId: string, self?: string): void {
  for (const store of state.stores.values()) {
    if (store.id !== self && store.cloudHsm?.clusterId === clusterId) {
      throw new KmsError(
        'CloudHsmClusterInUseException',
        `CloudHSM cluster ${clusterId} is already associated with custom key store ${store.id}.`,
      );
    }
  }
}

/** The XKS uniqueness requirements of CreateCustomKeyStore / UpdateCustomKeyStore. */
export function assertXksFree(state: SimState, xks: XksSettings, self?: string): void {
  for (const store of state.stores.values()) {
    const other = store.xks;
    if (store.id === self || !other) continue;
    if (other.uriEndpoint === xks.uriEndpoint && other.uriPath === xks.uriPath) {
      throw new KmsError(
        'XksProxyUriInUseException',
        `The proxy URI ${xks.uriEndpoint}${xks.uriPath} is already used by external key store ${store.id}.`,
      );
    }
    const endpointShared =
      other.uriEndpoint === xks.uriEndpoint &&
      (other.connectivity === 'VPC_ENDPOINT_SERVICE' || xks.connectivity === 'VPC_ENDPOINT_SERVICE');
    if (endpointShared) {
      throw new KmsError(
        'XksProxyUriEndpointInUseException',
        `The proxy URI endpoint ${xks.uriEndpoint} is already used by external key store ${store.id}.`,
      );
    }
    if (xks.vpcEndpointServiceName && other.vpcEndpointServiceName === xks.vpcEndpointServiceName) {
      throw new KmsError(
        'XksProxyVpcEndpointServiceInUseException',
        `The VPC endpoint service ${xks.vpcEndpointServiceName} is already used by external key store ${store.id}.`,
      );
    }
  }
}
