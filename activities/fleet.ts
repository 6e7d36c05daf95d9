/**
 * Fleet activities: resolving a fleet's name pattern to the stores it selects, once, when the
 * fleet starts. Every page of DescribeCustomKeyStores passes the worker's KMS budget.
 */
import { DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { ApplicationFailure } from '@temporalio/common';
import { compileNamePattern, FLEET_FAILURE_TYPES, type FleetStoreRef } from '../src/domain/fleet';
import { FLEET_ROLE_SESSION_NAME, type KmsTarget } from '../src/domain/location';
import { kmsFailure } from '../src/kms/errors';
import { budgetedKmsCall, type KmsCallDeps } from './kms-call';

export interface ListKeyStoresInput extends KmsTarget {
  /** A glob on the whole CustomKeyStoreName (see compileNamePattern in src/domain/fleet.ts). */
  readonly namePattern: string;
}

/** KMS's largest page. */
const PAGE_SIZE = 1_000;

export function createFleetActivities(deps: KmsCallDeps) {
  /**
   * The stores whose name matches, ordered by name (then id): the fleet's order. Only ids and
   * names are returned, so the result stays small for large accounts.
   */
  async function listKeyStores(input: ListKeyStoresInput): Promise<FleetStoreRef[]> {
    const pattern = compileNamePattern(input.namePattern);
    if (!pattern.ok) {
      throw ApplicationFailure.nonRetryable(
        `namePattern: ${pattern.problem}`,
        FLEET_FAILURE_TYPES.invalidRequest,
      );
    }
    const found: FleetStoreRef[] = [];
    let marker: string | undefined;
    do {
      try {
        const page = await budgetedKmsCall(
          deps,
          { target: input, operation: 'DescribeCustomKeyStores', sessionName: FLEET_ROLE_SESSION_NAME },
          (kms) =>
            kms.send(
              new DescribeCustomKeyStoresCommand({ Limit: PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }),
            ),
        );
        for (const entry of page.CustomKeyStores ?? []) {
          const name = entry.CustomKeyStoreName ?? '';
          if (entry.CustomKeyStoreId && pattern.matches(name)) {
            found.push({ customKeyStoreId: entry.CustomKeyStoreId, name });
          }
        }
        marker = page.Truncated ? page.NextMarker : undefined;
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw kmsFailure(err, { operation: 'DescribeCustomKeyStores' });
      }
    } while (marker);
    return found.sort((a, b) =>
      (a.name ?? '') === (b.name ?? '')
        ? a.customKeyStoreId.localeCompare(b.customKeyStoreId)
        : (a.name ?? '') < (b.name ?? '')
          ? -1
          : 1,
    );
  }

  return { listKeyStores };
}
