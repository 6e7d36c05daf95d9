/**
 * Aliases: friendly names (`alias/<name>`) pointing at one key each. The model's pattern and length
 * are checked by request validation; the `alias/` prefix and the reserved `alias/aws/` prefix are
 * KMS semantics, answered with `InvalidAliasNameException`.
 */
import { aliasArn, type ArnContext } from './keys';
import type { AliasRecord } from './model';
import { epochSeconds, KmsError, type JsonObject } from './protocol';
import type { SimState } from './state';
import { modelString } from './validation';

export const aliasNameSchema = modelString(1, 256, /^[a-zA-Z0-9:/_-]+$/);

export function assertCustomerAliasName(name: string): void {
  if (!name.startsWith('alias/') || name.length === 'alias/'.length) {
    throw new KmsError('InvalidAliasNameException', `Alias must start with the prefix "alias/": ${name}`);
  }
  if (name.startsWith('alias/aws/')) {
    throw new KmsError(
      'InvalidAliasNameException',
      `Alias ${name} uses the reserved prefix alias/aws/, which is for AWS managed keys.`,
    );
  }
}

export function requireAlias(state: SimState, ctx: ArnContext, name: string): AliasRecord {
  const alias = state.aliases.get(name);
  if (!alias) throw new KmsError('NotFoundException', `Alias ${aliasArn(ctx, name)} is not found.`);
  return alias;
}

export function aliasEntry(ctx: ArnContext, alias: AliasRecord): JsonObject {
  return {
    AliasName: alias.name,
    AliasArn: aliasArn(ctx, alias.name),
    TargetKeyId: alias.targetKeyId,
    CreationDate: epochSeconds(alias.createdAt),
    LastUpdatedDate: epochSeconds(alias.updatedAt),
  };
}
