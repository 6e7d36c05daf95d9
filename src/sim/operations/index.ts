/** Every KMS operation the simulator serves, by the name in `X-Amz-Target`. */
import type { KmsOperation } from '../model';
import { createAlias, deleteAlias, listAliases, updateAlias } from './aliases';
import { decrypt, encrypt, generateDataKeyWithoutPlaintext, generateDataKeyWithPlaintext } from './crypto';
import {
  connectCustomKeyStore,
  createCustomKeyStore,
  deleteCustomKeyStore,
  describeCustomKeyStores,
  disconnectCustomKeyStore,
  updateCustomKeyStore,
} from './custom-key-stores';
import type { OperationHandler } from './define';
import { createKey, describeKey, disableKey, enableKey, listKeys } from './keys';

export const OPERATIONS: Readonly<Record<KmsOperation, OperationHandler>> = {
  CreateCustomKeyStore: createCustomKeyStore,
  DescribeCustomKeyStores: describeCustomKeyStores,
  ConnectCustomKeyStore: connectCustomKeyStore,
  DisconnectCustomKeyStore: disconnectCustomKeyStore,
  UpdateCustomKeyStore: updateCustomKeyStore,
  DeleteCustomKeyStore: deleteCustomKeyStore,
  CreateKey: createKey,
  DescribeKey: describeKey,
  ListKeys: listKeys,
  EnableKey: enableKey,
  DisableKey: disableKey,
  Encrypt: encrypt,
  Decrypt: decrypt,
  GenerateDataKey: generateDataKeyWithPlaintext,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  CreateAlias: createAlias,
  UpdateAlias: updateAlias,
  DeleteAlias: deleteAlias,
  ListAliases: listAliases,
};
