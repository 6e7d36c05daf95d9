/**
 * KMS keys: how a `KeyId` parameter names one (key id, key ARN, alias name or alias ARN), the key
 * state derived from the key and its custom key store, and the `KeyMetadata` KMS returns.
 *
 * A key in a custom key store is `Unavailable` whenever its store is not `CONNECTED`; its own
 * enabled flag is kept, so on reconnect it returns to `Enabled` or `Disabled` as before.
 */
import type { AliasRecord, KeyRecord, StoreRecord } from './model';
import { epochSeconds, KmsError, type JsonObject } from './protocol';
import type { SimState } from './state';

export interface ArnContext {
  partition: string;
  region: string;
  account: string;
}

export function keyArn(ctx: ArnContext, keyId: string): string {
  return `arn:${ctx.partition}:kms:${ctx.region}:${ctx.account}:key/${keyId}`;
}

export function aliasArn(ctx: ArnContext, aliasName: string): string {
  return `arn:${ctx.partition}:kms:${ctx.region}:${ctx.account}:${aliasName}`;
}

export const KEY_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type KeyReference = { kind: 'key'; keyId: string } | { kind: 'alias'; aliasName: string };

/** Parses a `KeyId` parameter. Another account's or Region's ARN names nothing here. */
export function parseKeyReference(ctx: ArnContext, value: string): KeyReference {
  if (value.startsWith('arn:')) {
    const match = /^arn:([^:]+):kms:([^:]*):([^:]*):(key\/.+|alias\/.+)$/.exec(value);
    if (!match) throw new KmsError('InvalidArnException', `Invalid arn ${value}`);
    const [, partition, region, account, resource = ''] = match;
    if (partition !== ctx.partition || region !== ctx.region || account !== ctx.account) {
      throw notFound(value);
    }
    return resource.startsWith('key/')
      ? { kind: 'key', keyId: resource.slice('key/'.length) }
      : { kind: 'alias', aliasName: resource };
  }
  if (value.startsWith('alias/')) return { kind: 'alias', aliasName: value };
  if (KEY_ID_PATTERN.test(value)) return { kind: 'key', keyId: value };
  throw new KmsError('NotFoundException', `Invalid keyId '${value}'`);
}

export interface ResolveOptions {
  /** TargetKeyId of an alias and the KeyId filter of ListAliases must name a key, not an alias. */
  allowAlias: boolean;
}

export function resolveKey(
  state: SimState,
  ctx: ArnContext,
  value: string,
  options: ResolveOptions = { allowAlias: true },
): KeyRecord {
  const ref = parseKeyReference(ctx, value);
  if (ref.kind === 'alias') {
    if (!options.allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${value}': not a key`);
    const alias: AliasRecord | undefined = state.aliases.get(ref.aliasName);
    if (!alias)
      throw new KmsError('NotFoundException', `Alias ${aliasArn(ctx, ref.aliasName)} is not found.`);
    const target = state.keys.get(alias.targetKeyId);
    if (!target) throw notFound(keyArn(ctx, alias.targetKeyId));
    return target;
  }
  const key = state.keys.get(ref.keyId);
  if (!key) throw notFound(keyArn(ctx, ref.keyId));
  return key;
}

function notFound(what: string): KmsError {
  return new KmsError('NotFoundException', `Key '${what}' does not exist`);
}

export type SimKeyState = 'Enabled' | 'Disabled' | 'Unavailable';

export function keyState(key: KeyRecord, store: StoreRecord | undefined): SimKeyState {
  if (key.customKeyStoreId !== undefined && store?.state !== 'CONNECTED') return 'Unavailable';
  return key.enabled ? 'Enabled' : 'Disabled';
}

export function keyMetadata(ctx: ArnContext, key: KeyRecord, store: StoreRecord | undefined): JsonObject {
  const state = keyState(key, store);
  return {
    AWSAccountId: ctx.account,
    KeyId: key.id,
    Arn: keyArn(ctx, key.id),
    CreationDate: epochSeconds(key.createdAt),
    Enabled: state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: state,
    Origin: key.origin,
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
    CustomKeyStoreId: key.customKeyStoreId,
    CloudHsmClusterId: key.origin === 'AWS_CLOUDHSM' ? store?.cloudHsm?.clusterId : undefined,
    XksKeyConfiguration: key.xksKeyId !== undefined ? { Id: key.xksKeyId } : undefined,
  };
}

/**
 * The refusal KMS gives for a cryptographic operation with a key in this state: `DisabledException`
 * for a disabled key, `KMSInvalidStateException` for an unavailable one (store not connected).
 */
export function assertUsableForCrypto(ctx: ArnContext, key: KeyRecord, store: StoreRecord | undefined): void {
  const state = keyState(key, store);
  if (state === 'Unavailable') {
    throw new KmsError(
      'KMSInvalidStateException',
      `${keyArn(ctx, key.id)} is unavailable: its custom key store ${key.customKeyStoreId ?? ''} is ` +
        `${store?.state ?? 'missing'}, not CONNECTED.`,
    );
  }
  if (state === 'Disabled') throw new KmsError('DisabledException', `${keyArn(ctx, key.id)} is disabled.`);
}
