/**
 * CreateKey, DescribeKey, ListKeys, EnableKey and DisableKey. Keys are symmetric encryption keys
 * (`SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT`): in KMS (`AWS_KMS`), in a CloudHSM key store
 * (`AWS_CLOUDHSM`) or in an external key store (`EXTERNAL_KEY_STORE`, with an `XksKeyId`). Creating
 * a key in a custom key store requires the store to be `CONNECTED`.
 */
import { CustomerMasterKeySpec, KeySpec, KeyUsageType, OriginType } from '@aws-sdk/client-kms';
import { z } from 'zod';
import { keyArn, keyMetadata, keyState, resolveKey } from '../keys';
import type { KeyRecord, StoreRecord } from '../model';
import { paginate } from '../paging';
import { KmsError } from '../protocol';
import type { KmsScope } from '../scope';
import { acceptsInState } from '../store-state';
import { requireStore } from '../stores';
import { grantTokensSchema, keyIdSchema, limitSchema, markerSchema, modelString } from '../validation';
import { defineOperation } from './define';

const createKeySchema = z.object({
  Policy: modelString(1, 131072).optional(),
  Description: modelString(0, 8192).optional(),
  KeyUsage: z.enum(Object.values(KeyUsageType)).optional(),
  CustomerMasterKeySpec: z.enum(Object.values(CustomerMasterKeySpec)).optional(),
  KeySpec: z.enum(Object.values(KeySpec)).optional(),
  Origin: z.enum(Object.values(OriginType)).optional(),
  CustomKeyStoreId: modelString(1, 64).optional(),
  BypassPolicyLockoutSafetyCheck: z.boolean().optional(),
  Tags: z.array(z.object({ TagKey: modelString(1, 128), TagValue: modelString(0, 256) })).optional(),
  MultiRegion: z.boolean().optional(),
  XksKeyId: modelString(1, 128, /^[a-zA-Z0-9-_.]+$/).optional(),
});

function invalid(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

export const createKey = defineOperation(createKeySchema, (sim, input) => {
  if (input.KeySpec !== undefined && input.CustomerMasterKeySpec !== undefined) {
    throw invalid('You cannot specify both KeySpec and CustomerMasterKeySpec. Use KeySpec.');
  }
  const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
  const usage = input.KeyUsage ?? 'ENCRYPT_DECRYPT';
  if (spec !== 'SYMMETRIC_DEFAULT' || usage !== 'ENCRYPT_DECRYPT') {
    throw new KmsError(
      'UnsupportedOperationException',
      `The simulator creates only SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys (asked for ${spec} ${usage}).`,
    );
  }
  if (input.MultiRegion === true) {
    throw new KmsError('UnsupportedOperationException', 'The simulator does not create multi-Region keys.');
  }
  const origin = input.Origin ?? 'AWS_KMS';
  if (origin === 'EXTERNAL') {
    throw new KmsError(
      'UnsupportedOperationException',
      'The simulator does not support imported key material.',
    );
  }
  let store: StoreRecord | undefined;
  if (origin === 'AWS_KMS') {
    if (input.CustomKeyStoreId !== undefined) {
      throw invalid('CustomKeyStoreId requires Origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE.');
    }
    if (input.XksKeyId !== undefined) throw invalid('XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.');
  } else {
    if (input.CustomKeyStoreId === undefined) throw invalid(`Origin ${origin} requires a CustomKeyStoreId.`);
    if (origin === 'EXTERNAL_KEY_STORE' && input.XksKeyId === undefined) {
      throw invalid('Origin EXTERNAL_KEY_STORE requires an XksKeyId.');
    }
    if (origin === 'AWS_CLOUDHSM' && input.XksKeyId !== undefined) {
      throw invalid('XksKeyId is valid only with Origin EXTERNAL_KEY_STORE.');
    }
    store = requireStore(sim.state, input.CustomKeyStoreId);
    if (store.type !== origin) {
      throw invalid(
        `Custom key store ${store.id} is of type ${store.type}; Origin ${origin} needs a ${origin} store.`,
      );
    }
    if (!acceptsInState('CreateKey', store.state)) {
      throw new KmsError(
        'CustomKeyStoreInvalidStateException',
        `Custom key store ${store.id} has ConnectionState ${store.state}; CreateKey requires CONNECTED.`,
      );
    }
    const taken = input.XksKeyId !== undefined ? xksKeyOwner(sim, store.id, input.XksKeyId) : undefined;
    if (taken) {
      throw new KmsError(
        'XksKeyAlreadyInUseException',
        `External key ${input.XksKeyId ?? ''} is already associated with KMS key ${taken.id}.`,
      );
    }
  }
  const key = sim.createKeyRecord({ description: input.Description, store, xksKeyId: input.XksKeyId });
  sim.persist();
  return { KeyMetadata: keyMetadata(sim.arn, key, store) };
});

function xksKeyOwner(sim: KmsScope, storeId: string, xksKeyId: string): KeyRecord | undefined {
  return sim.state.keysInStore(storeId).find((key) => key.xksKeyId === xksKeyId);
}

export const describeKey = defineOperation(
  z.object({ KeyId: keyIdSchema, GrantTokens: grantTokensSchema.optional() }),
  (sim, input) => {
    const key = resolveKey(sim.state, sim.arn, input.KeyId);
    return { KeyMetadata: keyMetadata(sim.arn, key, sim.storeOfKey(key)) };
  },
);

export const listKeys = defineOperation(
  z.object({ Limit: limitSchema.optional(), Marker: markerSchema.optional() }),
  (sim, input) => {
    const page = paginate(sim.state.keysInOrder(), (key) => key.seq, 'keys', input.Limit, input.Marker);
    return {
      Keys: page.items.map((key) => ({ KeyId: key.id, KeyArn: keyArn(sim.arn, key.id) })),
      NextMarker: page.nextMarker,
      Truncated: page.truncated,
    };
  },
);

/** EnableKey/DisableKey: a key whose store is not connected is `Unavailable` and cannot change. */
function setEnabled(enabled: boolean) {
  return defineOperation(z.object({ KeyId: keyIdSchema }), (sim, input) => {
    const key = resolveKey(sim.state, sim.arn, input.KeyId, { allowAlias: false });
    if (keyState(key, sim.storeOfKey(key)) === 'Unavailable') {
      throw new KmsError(
        'KMSInvalidStateException',
        `${keyArn(sim.arn, key.id)} is unavailable because its custom key store is not connected.`,
      );
    }
    if (key.enabled !== enabled) {
      key.enabled = enabled;
      sim.persist();
    }
    return {};
  });
}

export const enableKey = setEnabled(true);
export const disableKey = setEnabled(false);
