/**
 * A read-only look at the store before `start` (DescribeCustomKeyStores with the operator's AWS
 * credentials), so that a mistyped store id is refused before anything starts. If the operator
 * has no KMS access (the worker usually has, the operator not), the check is skipped with a note:
 * the workflow's own preflight still refuses an unknown store before touching anything.
 */
import { DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { executionRoleArn, type KmsTarget } from '../domain/location';
import { createKmsClient } from '../kms/client';
import { assumedRoleCredentials } from '../kms/assumed-role';
import { classifyKmsError } from '../kms/errors';
import { CliError } from './exit-codes';

export type StoreCheck =
  { readonly checked: true; readonly state: string } | { readonly checked: false; readonly why: string };

/**
 * @param target the store's Region, and for a store in another account the execution role, which
 *   the check assumes with the operator's credentials (as the worker will with its own).
 */
export async function checkStoreExists(customKeyStoreId: string, target: KmsTarget): Promise<StoreCheck> {
  const region = target.region;
  const role = executionRoleArn(target);
  const kms = createKmsClient({
    region,
    requestTimeoutMs: 5_000,
    ...(role ? { credentials: assumedRoleCredentials(target, 'keystore-maint-cli-preflight', {}) } : {}),
  });
  try {
    const out = await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: customKeyStoreId }));
    const state = out.CustomKeyStores?.[0]?.ConnectionState;
    if (!state)
      throw new CliError(`unknown store ${customKeyStoreId} in ${region}: KMS returned no such store`);
    return { checked: true, state };
  } catch (err) {
    if (err instanceof CliError) throw err;
    const c = classifyKmsError(err);
    if (c.name === 'CustomKeyStoreNotFoundException') {
      throw new CliError(
        `unknown store ${customKeyStoreId}: DescribeCustomKeyStores in ${region}${role ? ` as ${role}` : ''} does not know it. Check the id and --region (or AWS_REGION)${role ? ' and --account' : ''}; if the worker uses another AWS account than you, add --no-preflight`,
      );
    }
    return { checked: false, why: `${c.name}: ${c.message}` };
  } finally {
    kms.destroy();
  }
}
