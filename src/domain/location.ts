/**
 * Where a store lives and as whom keystore-maint calls KMS there: the store's Region, and, for a
 * store in another account, the account and the execution role the worker assumes in it. Pure, so
 * the workflows use it to name runs and to write the audit trail (docs/fleet.md, "Locations").
 */

/** The account and role part of a location; empty for the worker's own credentials. */
export interface StoreLocation {
  /** The account that owns the store; absent: the account of the worker's own credentials. */
  readonly account?: string;
  /** The IAM role (name, optionally with its path) the worker assumes in `account`. */
  readonly executionRole?: string;
  /** The `ExternalId` the role's trust policy requires, if any. */
  readonly externalId?: string;
}

/** A location with its Region: what every KMS call of an activity is made against. */
export interface KmsTarget extends StoreLocation {
  readonly region: string;
}

/** The AWS partition of a Region, for ARNs. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** The ARN of the execution role, or undefined when the worker's own credentials are used. */
export function executionRoleArn(target: KmsTarget): string | undefined {
  if (target.account === undefined || target.executionRole === undefined) return undefined;
  return `arn:${partitionOf(target.region)}:iam::${target.account}:role/${target.executionRole}`;
}

/** The account label of budgets, logs and status: the account id, or `self` for the worker's own. */
export function accountLabel(location: StoreLocation): string {
  return location.account ?? 'self';
}

/** `<account>/<region>` (or `self/<region>`): one account-Region, the unit of KMS's quotas. */
export function accountRegionKey(target: KmsTarget): string {
  return `${accountLabel(target)}/${target.region}`;
}

/** Only the location's own fields, none absent-but-present (`{ account: undefined }`). */
export function locationOf(source: StoreLocation): StoreLocation {
  return {
    ...(source.account !== undefined ? { account: source.account } : {}),
    ...(source.executionRole !== undefined ? { executionRole: source.executionRole } : {}),
    ...(source.externalId !== undefined ? { externalId: source.externalId } : {}),
  };
}

/**
 * The role session name the worker uses for a store's calls, so that CloudTrail in the store's
 * account ties each call to one run: the per-store lock means one run per store at a time, and the
 * run's audit trail records the same name. STS allows 2 to 64 characters of `[\w+=,.@-]`.
 */
export function roleSessionNameFor(customKeyStoreId: string): string {
  return `keystore-maint-${customKeyStoreId}`;
}

/** The session name of calls not made for one store (a fleet listing the stores of a location). */
export const FLEET_ROLE_SESSION_NAME = 'keystore-maint-fleet';
