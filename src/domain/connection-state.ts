/**
 * KMS's custom key store connection states and `ConnectionErrorCode`s, with what each code means
 * for an operator and whether a disconnect-then-connect retry is worth trying.
 */
export const CONNECTION_STATES = [
  'CONNECTED',
  'CONNECTING',
  'DISCONNECTED',
  'DISCONNECTING',
  'FAILED',
] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export const KEY_STORE_TYPES = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'] as const;
export type KeyStoreType = (typeof KEY_STORE_TYPES)[number];

export interface ConnectionErrorInfo {
  /** What KMS means by the code. */
  readonly meaning: string;
  /** What the operator should do next. */
  readonly action: string;
  /** Worth a bounded disconnect-then-connect retry (the cause is usually temporary). */
  readonly transient: boolean;
  readonly appliesTo: readonly KeyStoreType[];
}

const BOTH: readonly KeyStoreType[] = ['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE'];
const HSM: readonly KeyStoreType[] = ['AWS_CLOUDHSM'];
const XKS: readonly KeyStoreType[] = ['EXTERNAL_KEY_STORE'];

export const CONNECTION_ERROR_CODES: Readonly<Record<string, ConnectionErrorInfo>> = {
  INTERNAL_ERROR: {
    meaning: 'KMS could not complete the request because of an internal error.',
    action: 'Retry the connection; if it keeps failing, open an AWS support case.',
    transient: true,
    appliesTo: BOTH,
  },
  NETWORK_ERRORS: {
    meaning: 'Network errors are preventing KMS from connecting to the backing key store.',
    action: 'Check security groups, network ACLs, routes and the proxy/cluster endpoints, then retry.',
    transient: true,
    appliesTo: BOTH,
  },
  CLUSTER_NOT_FOUND: {
    meaning: 'KMS cannot find the CloudHSM cluster with the specified cluster id.',
    action: 'Verify the cluster exists (or restore it from backup) and update the key store to point at it.',
    transient: false,
    appliesTo: HSM,
  },
  INSUFFICIENT_CLOUDHSM_HSMS: {
    meaning: 'The associated CloudHSM cluster does not contain any active HSMs.',
    action: 'Create at least one HSM in the cluster (two in different AZs are recommended), then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  INSUFFICIENT_FREE_ADDRESSES_IN_SUBNET: {
    meaning: "At least one private subnet of the cluster has no free IP addresses for KMS's interfaces.",
    action: 'Free addresses in the cluster subnets (KMS needs 3 per subnet), then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  INVALID_CREDENTIALS: {
    meaning:
      'The key store credentials are wrong: for CloudHSM the kmsuser password, for an external key store the proxy authentication credential.',
    action:
      'CloudHSM: reset the kmsuser password and update the key store. XKS: update the key store with the current proxy credential. Then reconnect.',
    transient: false,
    appliesTo: BOTH,
  },
  SUBNET_NOT_FOUND: {
    meaning: 'A subnet in the CloudHSM cluster configuration was deleted.',
    action: 'Restore the cluster into subnets that exist (or recreate the subnet), then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  USER_LOCKED_OUT: {
    meaning: 'The kmsuser crypto user account is locked out of the cluster after too many failed logins.',
    action: 'Change the kmsuser password in the cluster, update the key store password, then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  USER_LOGGED_IN: {
    meaning:
      'The kmsuser crypto user is logged into the cluster, which prevents KMS from rotating its password and logging in (usually someone stayed logged in after the window).',
    action: 'Log kmsuser out of every HSM client session (or wait for it to end), then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  USER_NOT_FOUND: {
    meaning: 'KMS cannot find a kmsuser crypto user in the CloudHSM cluster.',
    action:
      'Create the kmsuser crypto user (CU) in the cluster, update the key store password, then reconnect.',
    transient: false,
    appliesTo: HSM,
  },
  XKS_PROXY_ACCESS_DENIED: {
    meaning:
      'The external key store proxy denied access to KMS (its authorization rules reject the request).',
    action: 'Fix the proxy authorization configuration for this key store, then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
  XKS_PROXY_INVALID_CONFIGURATION: {
    meaning: 'A configuration error (for example a wrong URI path) prevents the proxy from serving KMS.',
    action:
      'Correct the proxy URI path or the proxy configuration, update the key store if needed, then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
  XKS_PROXY_INVALID_RESPONSE: {
    meaning: 'KMS cannot interpret the response from the external key store proxy.',
    action: 'Check the proxy implementation and its logs (API specification compliance), then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
  XKS_PROXY_INVALID_TLS_CONFIGURATION: {
    meaning: 'KMS cannot connect to the proxy because its TLS configuration is invalid.',
    action: 'Install a valid certificate from a public CA for the proxy URI endpoint, then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
  XKS_PROXY_NOT_REACHABLE: {
    meaning: 'KMS cannot communicate with the external key store proxy.',
    action:
      'Check that the proxy is running and reachable (DNS, firewall, VPC endpoint service), then reconnect.',
    transient: true,
    appliesTo: XKS,
  },
  XKS_PROXY_TIMED_OUT: {
    meaning: 'KMS can connect to the proxy but the proxy does not answer within the timeout.',
    action: 'Check the proxy and external key manager load and latency, then reconnect.',
    transient: true,
    appliesTo: XKS,
  },
  XKS_VPC_ENDPOINT_SERVICE_INVALID_CONFIGURATION: {
    meaning:
      'The Amazon VPC endpoint service configuration does not meet the requirements of an external key store.',
    action:
      'Fix the VPC endpoint service (acceptance, allowed principals, private DNS, subnets), then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
  XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND: {
    meaning: 'KMS cannot find the VPC endpoint service that the external key store uses.',
    action: 'Check the endpoint service name (or recreate it) and update the key store, then reconnect.',
    transient: false,
    appliesTo: XKS,
  },
};

export function describeConnectionError(code: string | undefined): ConnectionErrorInfo {
  return (
    (code ? CONNECTION_ERROR_CODES[code] : undefined) ?? {
      meaning: `KMS reported the connection error code ${code ?? '(none)'}, which keystore-maint does not know.`,
      action: 'Look the code up in the AWS KMS documentation (troubleshooting a custom key store).',
      transient: false,
      appliesTo: BOTH,
    }
  );
}
