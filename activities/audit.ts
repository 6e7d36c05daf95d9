/**
 * The `audit` activity: appends a batch of a run's events to the configured sink. The sink is
 * idempotent on (workflowId, runId, seq), so a retry after a crash adds nothing twice.
 */
import type { AuditEvent } from '../src/domain/audit-event';
import type { AuditSink } from '../src/audit/sink';

export function createAuditActivities(deps: { readonly auditSink: AuditSink }) {
  async function audit(events: readonly AuditEvent[]): Promise<{ written: number }> {
    return { written: await deps.auditSink.append(events) };
  }
  return { audit };
}
