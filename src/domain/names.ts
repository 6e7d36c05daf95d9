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

/** The canonical workflow id of a store's maintenance; one open run per id is the per-store lock. */
export function maintenanceWorkflowId(region: string, customKeyStoreId: string): string {
  return `${WORKFLOW_ID_PREFIX}/${region}/${customKeyStoreId}`;
}

/** Splits a canonical id back into its parts, or returns undefined for any other id. */
export function parseMaintenanceWorkflowId(
  workflowId: string,
): { region: string; customKeyStoreId: string } | undefined {
  const match = /^keystore-maint\/([a-z0-9-]+)\/(cks-[0-9a-f]{17})$/.exec(workflowId);
  if (!match?.[1] || !match[2]) return undefined;
  return { region: match[1], customKeyStoreId: match[2] };
}

export const SEARCH_ATTRIBUTES = {
  customKeyStoreId: defineSearchAttributeKey('KmsCustomKeyStoreId', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('MaintenancePhase', SearchAttributeType.KEYWORD),
} as const;

/** `--search-attribute` arguments for `temporal server start-dev`. */
export const DEV_SERVER_SEARCH_ATTRIBUTE_ARGS: readonly string[] = Object.values(SEARCH_ATTRIBUTES).flatMap(
  (key) => ['--search-attribute', `${key.name}=Keyword`],
);
