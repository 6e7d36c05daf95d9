/**
 * `keystore-maint doctor`: can this deployment run maintenance? Each check gives one result (OK,
 * FAIL with the fix, SKIP when an earlier failure makes it moot, WARN, or INFO for what cannot be
 * tested safely), within its own time limit, so that a dead endpoint never hangs the doctor. The
 * Temporal and AWS sections run side by side; the worker's configuration only on request.
 *
 * - Temporal (temporal-checks.ts): reachable, namespace, search attributes, worker pollers on the
 *   task queue and its `-kms` queue.
 * - AWS (aws-checks.ts): STS GetCallerIdentity, KMS DescribeCustomKeyStores in the Region, and how
 *   to check the Connect/Disconnect permissions that KMS cannot dry-run.
 * - The worker's configuration (worker-checks.ts): audit sink and key, webhook controllers, KMS
 *   budget, workflow bundle.
 *
 * `keystore-maint doctor` (src/commands/doctor.ts) prints the report.
 */
import { awsChecks } from './aws-checks';
import type { CheckResult, DoctorSettings } from './check';
import { temporalChecks } from './temporal-checks';
import { workerConfigChecks } from './worker-checks';

export {
  CHECKS,
  plural,
  SECTION_TITLES,
  type CheckName,
  type CheckResult,
  type CheckStatus,
  type DoctorSettings,
} from './check';
export { policySourceArn } from './aws-checks';
export { POLLER_STALE_MS } from './temporal-checks';

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000;

export interface DoctorReport {
  /** True when no check failed or was skipped (warnings and information do not count). */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export async function runDoctor(
  settings: DoctorSettings,
  options: { readonly worker?: boolean } = {},
): Promise<DoctorReport> {
  const [temporal, aws] = await Promise.all([temporalChecks(settings), awsChecks(settings)]);
  const checks = [...temporal, ...aws, ...(options.worker ? workerConfigChecks(settings.env) : [])];
  return { ok: checks.every((c) => c.ok), checks };
}
