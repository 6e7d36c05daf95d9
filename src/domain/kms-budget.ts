/**
 * The custom-key-store call budget: names and defaults shared by the workflows (which route the
 * short KMS activities to their own task queue), the worker (which polls that queue with a
 * server-enforced rate) and the documentation. Pure, so workflow code may import it.
 *
 * KMS allows 5 requests per second for each custom-key-store operation, per account and Region,
 * shared by every caller. keystore-maint keeps all its custom-key-store calls together under a
 * smaller budget (4 per second by default), leaving headroom for other callers (the console, an
 * operator's CLI preflight, other tools). See docs/fleet.md, "The KMS budget".
 */

/** Calls per second per Region, all workers together, unless `KEYSTORE_MAINT_KMS_BUDGET_RPS` says otherwise. */
export const DEFAULT_KMS_BUDGET_RPS = 4;

/**
 * The suffix of the task queue that carries the short custom-key-store activities (describe,
 * disconnect, connect, list): `keystore-maintenance` → `keystore-maintenance-kms`.
 */
export const KMS_TASK_QUEUE_SUFFIX = '-kms';

export function kmsTaskQueue(taskQueue: string): string {
  return `${taskQueue}${KMS_TASK_QUEUE_SUFFIX}`;
}
