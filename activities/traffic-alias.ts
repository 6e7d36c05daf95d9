/**
 * The `alias` traffic provider. Callers that use a KMS alias follow it, so pointing each alias at
 * a fallback key outside the store moves new encryptions (and data key generation) off the store.
 *
 * - plan (preflight, changes nothing): every alias exists and targets a key in this store; the
 *   fallback exists, is Enabled, is outside this store, and has the same key spec and usage as
 *   every original target. The plan records each original target.
 * - drain: UpdateAlias → fallback for each alias still on its original (idempotent: an alias
 *   already on the fallback counts as drained).
 * - restore: each alias still on the fallback goes back to its recorded original; one that
 *   someone else moved during the window is left alone and reported.
 *
 * Every step heartbeats after each KMS call (a plan or restore of many aliases, or a slow
 * UpdateAlias, can outlast the heartbeat timeout otherwise, and a second attempt would run beside
 * the first). A cancelled drain stops before its next UpdateAlias, never in the middle of one;
 * restore finishes what it started.
 */
import {
  DescribeKeyCommand,
  ListAliasesCommand,
  UpdateAliasCommand,
  type AliasListEntry,
  type KeyMetadata,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../src/domain/errors';
import type { AliasTarget, DrainPlan, DrainSpec } from '../src/domain/traffic';
import { kmsFailure } from '../src/kms/errors';

type AliasSpec = Extract<DrainSpec, { provider: 'alias' }>;
type AliasPlan = Extract<DrainPlan, { provider: 'alias' }>;

// Type aliases (not interfaces) so these records fit the generic DrainRecord change lists.
export type AliasChange = {
  readonly aliasName: string;
  readonly from: string;
  readonly to: string;
  readonly requestId?: string;
};

function refuse(message: string): never {
  throw ApplicationFailure.nonRetryable(message, FAILURE_TYPES.preflightRefused);
}

async function listAllAliases(kms: KMSClient): Promise<Map<string, AliasListEntry>> {
  const aliases = new Map<string, AliasListEntry>();
  let marker: string | undefined;
  do {
    let out;
    try {
      out = await kms.send(new ListAliasesCommand({ Limit: 100, ...(marker ? { Marker: marker } : {}) }));
    } catch (err) {
      throw kmsFailure(err, { operation: 'ListAliases' });
    }
    for (const alias of out.Aliases ?? []) if (alias.AliasName) aliases.set(alias.AliasName, alias);
    marker = out.Truncated ? out.NextMarker : undefined;
    Context.current().heartbeat();
  } while (marker);
  return aliases;
}

async function describeKey(kms: KMSClient, keyId: string): Promise<KeyMetadata | undefined> {
  try {
    const out = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    Context.current().heartbeat();
    return out.KeyMetadata;
  } catch (err) {
    if ((err as { name?: unknown }).name === 'NotFoundException') return undefined;
    throw kmsFailure(err, { operation: 'DescribeKey', keyId });
  }
}

export async function planAliasDrain(
  kms: KMSClient,
  spec: AliasSpec,
  customKeyStoreId: string,
): Promise<AliasPlan> {
  const fallback = await describeKey(kms, spec.fallbackKeyId);
  if (!fallback?.KeyId)
    refuse(`drain.fallbackKeyId ${spec.fallbackKeyId} was not found; give an existing key outside the store`);
  if (fallback.KeyState !== 'Enabled') {
    refuse(
      `drain.fallbackKeyId ${spec.fallbackKeyId} is ${fallback.KeyState ?? 'not usable'}; the fallback key must be Enabled`,
    );
  }
  if (fallback.CustomKeyStoreId === customKeyStoreId) {
    refuse(
      `drain.fallbackKeyId ${spec.fallbackKeyId} is in ${customKeyStoreId} itself; choose a key outside the store`,
    );
  }
  const all = await listAllAliases(kms);
  const aliases: AliasTarget[] = [];
  for (const name of spec.aliases) {
    const alias = all.get(name);
    if (!alias?.TargetKeyId) refuse(`drain.aliases: ${name} does not exist (or points at no key)`);
    const target = await describeKey(kms, alias.TargetKeyId);
    if (target?.CustomKeyStoreId !== customKeyStoreId) {
      refuse(
        `drain.aliases: ${name} points at ${alias.TargetKeyId}, which is not a key in ${customKeyStoreId}; list only aliases of keys in the store`,
      );
    }
    if (target.KeySpec !== fallback.KeySpec || target.KeyUsage !== fallback.KeyUsage) {
      refuse(
        `drain.fallbackKeyId ${spec.fallbackKeyId} (${fallback.KeySpec}/${fallback.KeyUsage}) does not match ${name}'s key (${target.KeySpec}/${target.KeyUsage}); callers would break`,
      );
    }
    aliases.push({ aliasName: name, originalTargetKeyId: alias.TargetKeyId });
  }
  return { provider: 'alias', fallbackKeyId: fallback.KeyId, aliases };
}

async function updateAlias(
  kms: KMSClient,
  aliasName: string,
  targetKeyId: string,
): Promise<string | undefined> {
  try {
    const out = await kms.send(new UpdateAliasCommand({ AliasName: aliasName, TargetKeyId: targetKeyId }));
    Context.current().heartbeat();
    return out.$metadata.requestId;
  } catch (err) {
    throw kmsFailure(err, { operation: 'UpdateAlias', keyId: aliasName });
  }
}

export async function drainAliases(kms: KMSClient, plan: AliasPlan): Promise<AliasChange[]> {
  const current = await listAllAliases(kms);
  const changes: AliasChange[] = [];
  for (const alias of plan.aliases) {
    const now = current.get(alias.aliasName)?.TargetKeyId;
    if (now === plan.fallbackKeyId) {
      // Drained by an earlier attempt of this activity.
      changes.push({ aliasName: alias.aliasName, from: alias.originalTargetKeyId, to: plan.fallbackKeyId });
      continue;
    }
    if (now !== alias.originalTargetKeyId) {
      throw ApplicationFailure.nonRetryable(
        `${alias.aliasName} changed since preflight (now ${now ?? 'missing'}, was ${alias.originalTargetKeyId}); someone else is moving it — nothing more is changed`,
        'TrafficNotDrained',
      );
    }
    if (Context.current().cancellationSignal.aborted) {
      // Restore (which the workflow runs next) puts back every alias already moved.
      throw new CancelledFailure(
        `drain cancelled after ${changes.length} of ${plan.aliases.length} aliases; nothing more was moved`,
      );
    }
    const requestId = await updateAlias(kms, alias.aliasName, plan.fallbackKeyId);
    changes.push({
      aliasName: alias.aliasName,
      from: alias.originalTargetKeyId,
      to: plan.fallbackKeyId,
      ...(requestId ? { requestId } : {}),
    });
  }
  return changes;
}

export async function aliasesDrained(kms: KMSClient, plan: AliasPlan): Promise<boolean> {
  const current = await listAllAliases(kms);
  return plan.aliases.every((a) => current.get(a.aliasName)?.TargetKeyId === plan.fallbackKeyId);
}

export type AliasRestoreOutcome = {
  readonly restored: AliasChange[];
  readonly leftAlone: { aliasName: string; expected: string; found: string | undefined }[];
};

export async function restoreAliases(kms: KMSClient, plan: AliasPlan): Promise<AliasRestoreOutcome> {
  const current = await listAllAliases(kms);
  const restored: AliasChange[] = [];
  const leftAlone: AliasRestoreOutcome['leftAlone'] = [];
  for (const alias of plan.aliases) {
    const now = current.get(alias.aliasName)?.TargetKeyId;
    if (now === alias.originalTargetKeyId) {
      restored.push({ aliasName: alias.aliasName, from: plan.fallbackKeyId, to: alias.originalTargetKeyId });
      continue;
    }
    if (now !== plan.fallbackKeyId) {
      // Someone repointed it during the window: their decision stands.
      leftAlone.push({ aliasName: alias.aliasName, expected: plan.fallbackKeyId, found: now });
      continue;
    }
    const requestId = await updateAlias(kms, alias.aliasName, alias.originalTargetKeyId);
    restored.push({
      aliasName: alias.aliasName,
      from: plan.fallbackKeyId,
      to: alias.originalTargetKeyId,
      ...(requestId ? { requestId } : {}),
    });
  }
  return { restored, leftAlone };
}
