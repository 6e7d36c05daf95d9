/**
 * CreateAlias, UpdateAlias, DeleteAlias and ListAliases. An alias points at a key named by key id or
 * key ARN (not by another alias); ListAliases is sorted by alias name and can be filtered to one key.
 */
import { z } from 'zod';
import { aliasEntry, aliasNameSchema, assertCustomerAliasName, requireAlias } from '../aliases';
import { aliasArn, resolveKey } from '../keys';
import { paginate } from '../paging';
import { KmsError } from '../protocol';
import { keyIdSchema, limitSchema, markerSchema } from '../validation';
import { defineOperation } from './define';

const aliasTargetSchema = z.object({ AliasName: aliasNameSchema, TargetKeyId: keyIdSchema });

export const createAlias = defineOperation(aliasTargetSchema, (sim, input) => {
  assertCustomerAliasName(input.AliasName);
  if (sim.state.aliases.has(input.AliasName)) {
    throw new KmsError(
      'AlreadyExistsException',
      `An alias with the name ${aliasArn(sim.arn, input.AliasName)} already exists`,
    );
  }
  const key = resolveKey(sim.state, sim.arn, input.TargetKeyId, { allowAlias: false });
  const now = sim.now();
  sim.state.aliases.set(input.AliasName, {
    name: input.AliasName,
    targetKeyId: key.id,
    createdAt: now,
    updatedAt: now,
  });
  sim.persist();
  return {};
});

export const updateAlias = defineOperation(aliasTargetSchema, (sim, input) => {
  assertCustomerAliasName(input.AliasName);
  const alias = requireAlias(sim.state, sim.arn, input.AliasName);
  const key = resolveKey(sim.state, sim.arn, input.TargetKeyId, { allowAlias: false });
  alias.targetKeyId = key.id;
  alias.updatedAt = sim.now();
  sim.persist();
  return {};
});

export const deleteAlias = defineOperation(z.object({ AliasName: aliasNameSchema }), (sim, input) => {
  assertCustomerAliasName(input.AliasName);
  requireAlias(sim.state, sim.arn, input.AliasName);
  sim.state.aliases.delete(input.AliasName);
  sim.persist();
  return {};
});

export const listAliases = defineOperation(
  z.object({ KeyId: keyIdSchema.optional(), Limit: limitSchema.optional(), Marker: markerSchema.optional() }),
  (sim, input) => {
    const keyId =
      input.KeyId !== undefined
        ? resolveKey(sim.state, sim.arn, input.KeyId, { allowAlias: false }).id
        : undefined;
    const aliases = sim.state
      .aliasesInOrder()
      .filter((alias) => keyId === undefined || alias.targetKeyId === keyId);
    const page = paginate(aliases, (alias) => alias.name, 'aliases', input.Limit, input.Marker);
    return {
      Aliases: page.items.map((alias) => aliasEntry(sim.arn, alias)),
      NextMarker: page.nextMarker,
      Truncated: page.truncated,
    };
  },
);
