/**
 * Deterministic audit events for the audit tests (and their child processes): the same
 * (workflowId, runId, seq) always gives the same event, as a replayed workflow would.
 */
import { AUDIT_SCHEMA_VERSION, RUNNER_ACTOR, type AuditEvent } from '../../../src/domain/audit-event';

export const STORE_A = 'cks-1234567890abcdef0';
export const STORE_B = 'cks-0fedcba0987654321';

export function workflowIdOf(store: string, region = 'us-east-1'): string {
  return `keystore-maint/${region}/${store}`;
}

const BASE_MS = Date.parse('2025-03-02T02:00:00.000Z');

export function makeEvent(
  workflowId: string,
  runId: string,
  seq: number,
  extra: Partial<AuditEvent> = {},
): AuditEvent {
  const store = workflowId.slice(workflowId.lastIndexOf('/') + 1);
  return {
    schemaVersion: AUDIT_SCHEMA_VERSION,
    workflowId,
    runId,
    seq,
    at: new Date(BASE_MS + seq * 1000).toISOString(),
    phase: seq === 1 ? 'PREFLIGHT' : 'IN_WINDOW',
    action: seq === 1 ? 'run.requested' : `step.${seq}`,
    actor: seq === 1 ? 'alice@example.com' : RUNNER_ACTOR,
    detail: {
      customKeyStoreId: store,
      step: seq,
      kms: { operation: 'DescribeCustomKeyStores', requestId: `req-${runId}-${seq}` },
    },
    outcome: 'ok',
    ...extra,
  };
}

/** Events `from..to` (inclusive) of one run. */
export function makeEvents(workflowId: string, runId: string, from: number, to: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  for (let seq = from; seq <= to; seq++) events.push(makeEvent(workflowId, runId, seq));
  return events;
}
