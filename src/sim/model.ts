/**
 * The simulator's vocabulary: which KMS operations it serves, the records it keeps for custom key
 * stores, keys and aliases, and which `ConnectionErrorCode` belongs to which store type. Enum
 * values come from `@aws-sdk/client-kms`, the wire truth.
 */
import {
  ConnectionErrorCodeType,
  ConnectionStateType,
  CustomKeyStoreType,
  XksProxyConnectivityType,
} from '@aws-sdk/client-kms';

/** The operations subject to the per-account request quota for custom key stores. */
export const CUSTOM_KEY_STORE_OPERATIONS = [
  'CreateCustomKeyStore',
  'DescribeCustomKeyStores',
  'ConnectCustomKeyStore',
  'DisconnectCustomKeyStore',
  'UpdateCustomKeyStore',
  'DeleteCustomKeyStore',
] as const;

export const KMS_OPERATIONS = [
  ...CUSTOM_KEY_STORE_OPERATIONS,
  'CreateKey',
  'DescribeKey',
  'ListKeys',
  'EnableKey',
  'DisableKey',
  'Encrypt',
  'Decrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'CreateAlias',
  'UpdateAlias',
  'DeleteAlias',
  'ListAliases',
] as const;

export type KmsOperation = (typeof KMS_OPERATIONS)[number];
export type CustomKeyStoreOperation = (typeof CUSTOM_KEY_STORE_OPERATIONS)[number];

export function isKmsOperation(name: string): name is KmsOperation {
  return (KMS_OPERATIONS as readonly string[]).includes(name);
}

export function isCustomKeyStoreOperation(name: string): name is CustomKeyStoreOperation {
  return (CUSTOM_KEY_STORE_OPERATIONS as readonly string[]).includes(name);
}

export type StoreType = CustomKeyStoreType;
export type ConnectionState = ConnectionStateType;
export type ConnectionErrorCode = ConnectionErrorCodeType;
export type XksConnectivity = XksProxyConnectivityType;

export const STORE_TYPES = Object.values(CustomKeyStoreType);
export const CONNECTION_STATES = Object.values(ConnectionStateType);
export const CONNECTION_ERROR_CODES = Object.values(ConnectionErrorCodeType);
export const XKS_CONNECTIVITY_TYPES = Object.values(XksProxyConnectivityType);

const COMMON_ERROR_CODES: readonly ConnectionErrorCode[] = ['INTERNAL_ERROR', 'NETWORK_ERRORS'];

/** The `ConnectionErrorCode`s KMS documents for each store type (KMS-FACTS.md). */
export const CONNECTION_ERROR_CODES_BY_TYPE: Readonly<Record<StoreType, readonly ConnectionErrorCode[]>> = {
  AWS_CLOUDHSM: [
    ...COMMON_ERROR_CODES,
    'CLUSTER_NOT_FOUND',
    'INSUFFICIENT_CLOUDHSM_HSMS',
    'INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET',
    'INVALID_CREDENTIALS',
    'SUBNET_NOT_FOUND',
    'USER_LOCKED_OUT',
    'USER_LOGGED_IN',
    'USER_NOT_FOUND',
  ],
  EXTERNAL_KEY_STORE: [
    ...COMMON_ERROR_CODES,
    'INVALID_CREDENTIALS',
    'XKS_PROXY_ACCESS_DENIED',
    'XKS_PROXY_INVALID_CONFIGURATION',
    'XKS_PROXY_INVALID_RESPONSE',
    'XKS_PROXY_INVALID_TLS_CONFIGURATION',
    'XKS_PROXY_NOT_REACHABLE',
    'XKS_PROXY_TIMED_OUT',
    'XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION',
    'XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND',
  ],
};

export interface CloudHsmSettings {
  clusterId: string;
  trustAnchorCertificate: string;
  keyStorePassword: string;
}

export interface XksSettings {
  connectivity: XksConnectivity;
  uriEndpoint: string;
  uriPath: string;
  vpcEndpointServiceName?: string | undefined;
  vpcEndpointServiceOwner?: string | undefined;
  accessKeyId: string;
  rawSecretAccessKey: string;
}

/** Per-store overrides of the global timings. */
export interface StoreTimings {
  connectDelayMs?: number | undefined;
  disconnectDelayMs?: number | undefined;
  consistencyLagMs?: number | undefined;
}

export interface ConnectionSnapshot {
  /** Epoch milliseconds at which the store entered this state. */
  at: number;
  state: ConnectionState;
  errorCode?: ConnectionErrorCode | undefined;
}

/** A transition already decided and due at a wall-clock time (survives a restart). */
export interface PendingTransition {
  to: 'CONNECTED' | 'FAILED' | 'DISCONNECTED';
  at: number;
  errorCode?: ConnectionErrorCode | undefined;
}

export interface ConnectOutcome {
  failWith: ConnectionErrorCode;
  /** How many more connects that start a connection will fail. */
  times: number;
}

export interface StoreRecord {
  id: string;
  /** Creation order; the paging marker of DescribeCustomKeyStores. */
  seq: number;
  name: string;
  type: StoreType;
  createdAt: number;
  cloudHsm?: CloudHsmSettings | undefined;
  xks?: XksSettings | undefined;
  /** The true connection state; Describe may lag behind it (see `history`). */
  state: ConnectionState;
  errorCode?: ConnectionErrorCode | undefined;
  pending?: PendingTransition | undefined;
  /** Recent connection states with the time each began, oldest first, for eventual consistency. */
  history: ConnectionSnapshot[];
  timings: StoreTimings;
  connectOutcome?: ConnectOutcome | undefined;
}

export type KeyOrigin = 'AWS_KMS' | 'AWS_CLOUDHSM' | 'EXTERNAL_KEY_STORE';

export interface KeyRecord {
  id: string;
  seq: number;
  createdAt: number;
  description: string;
  /** What the key returns to when its store reconnects. */
  enabled: boolean;
  origin: KeyOrigin;
  customKeyStoreId?: string | undefined;
  xksKeyId?: string | undefined;
  /** The key's own AES-256 secret; ciphertexts are sealed with it. */
  secret: Buffer;
}

export interface AliasRecord {
  name: string;
  targetKeyId: string;
  createdAt: number;
  updatedAt: number;
}
