/**
 * Names that other code, documentation and operators rely on. Change one only with a migration
 * plan: running workflows, schedules, dashboards and IAM policies refer to them.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Default task queue; a deployment may override it with `KEYSTORE_MAINT_TASK_QUEUE`. */
export const DEFAULT_TASK_QUEUE = 'keystore-maintenance';

export const WORKFLOW_TYPES = {
  maintenance: 'keyStoreMaintenance',
  fleet: 'keyStoreFleetMaintenance',
} as const;

export const WORKFLOW_ID_PREFIX = 'keystore-maint';

/**
 * The canonical workflow id of a store's maintenance; one open run per id is the per-store lock.
 * `keystore-maint/<region>/<store>` for a store of the worker's own account (the id every run had
 * before accounts), `keystore-maint/<account>/<region>/<store>` when the request names the
 * account: store ids are random, but the lock must not rest on two accounts never drawing the same.
 */
export function maintenanceWorkflowId(region: string, customKeyStoreId: string, account?: string): string {
  return account === undefined
    ? `${WORKFLOW_ID_PREFIX}/${region}/${customKeyStoreId}`
    : `${WORKFLOW_ID_PREFIX}/${account}/${region}/${customKeyStoreId}`;
}

/** Splits a canonical id back into its parts, or returns undefined for any other id. */
export function parseMaintenanceWorkflowId(
  workflowId: string,
): { account?: string; region: string; customKeyStoreId: string } | undefined {
  const match = /^keystore-maint\/(?:(\d{12})\/)?([a-z0-9-]+)\/(cks-[0-9a-f]{17})$/.exec(workflowId);
  if (!match?.[2] || !match[3]) return undefined;
  return { ...(match[1] ? { account: match[1] } : {}), region: match[2], customKeyStoreId: match[3] };
}

export const SEARCH_ATTRIBUTES = {
  customKeyStoreId: defineSearchAttributeKey('KmsCustomKeyStoreId', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('MaintenancePhase', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` arguments for `temporal server start-dev`. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_ARGS: readonly string[] = Object.values(SEARCH_ATTRIBUTES).flatMap(
  (key) => ['--search-attribute', `${key.name}=Keyword`],
);
