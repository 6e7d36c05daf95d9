/** Following a run to its end, showing progress; shared by `start --wait`, `watch` and `demo`. */
import type { MaintenanceClient } from '../client';
import type { AuditReport, MaintenanceResult } from '../domain/status';
import { progressPrinter, type ProgressPrinter } from './progress';
import { printable } from './terminal-text';

export async function followRun(
  client: MaintenanceClient,
  storeIdOrWorkflowId: string,
  options: { intervalMs?: number; printer?: ProgressPrinter; quiet?: boolean } = {},
): Promise<MaintenanceResult> {
  const printer = options.printer ?? progressPrinter();
  const interval = options.intervalMs ?? 1_000;
  try {
    for (;;) {
      const status = await client.getStatus(storeIdOrWorkflowId);
      if (!options.quiet) printer.update(status);
      if (status.outcome) return await client.result(storeIdOrWorkflowId);
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  } finally {
    if (!options.quiet) printer.done();
  }
}

/** One line about the run's audit trail when something went wrong with it, else undefined. */
export function auditLine(audit: AuditReport | undefined): string | undefined {
  if (!audit || (audit.failures === 0 && audit.refused === 0 && audit.unwritten === 0)) return undefined;
  const parts = [
    audit.refused ? `${audit.refused} event(s) refused by the sink (markers stand in their place)` : '',
    audit.unwritten ? `${audit.unwritten} event(s) not written` : '',
    audit.failures ? `${audit.failures} failed write(s)` : '',
  ].filter(Boolean);
  return `AUDIT TRAIL: ${parts.join('; ')}${audit.lastProblem ? printable` — ${audit.lastProblem}` : ''}`;
}

/** How a run ended, for people; every value from the run is made safe to print. */
export function describeResult(result: MaintenanceResult): string {
  const lines = [printable`${result.outcome}: ${result.message}`];
  if (result.failure) lines.push(printable`  Failure type: ${result.failure.type}`);
  if (result.connectionError) {
    lines.push(
      printable`  ConnectionErrorCode ${result.connectionError.code}: ${result.connectionError.meaning}`,
    );
    lines.push(printable`  Next step: ${result.connectionError.action}`);
  }
  if (result.outcome === 'NEEDS_ATTENTION') {
    const store = result.store.changedSinceObserved
      ? printable`in an unknown state (last read ${result.store.lastObservedState ?? '?'} at ${result.store.lastObservedAt ?? '?'}, before a change)`
      : printable`${result.store.lastObservedState ?? 'in an unknown state'}`;
    lines.push(
      `  The store is ${store}; traffic ${result.trafficRestored ? 'was restored' : 'stays drained'}.`,
    );
  }
  const audit = auditLine(result.audit);
  if (audit) lines.push(`  ${audit}`);
  return lines.join('\n');
}
