/** Following a run to its end, showing progress; shared by `start --wait`, `watch` and `demo`. */
import type { MaintenanceClient } from '../client';
import type { MaintenanceResult } from '../domain/status';
import { progressPrinter, type ProgressPrinter } from './progress';

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

export function describeResult(result: MaintenanceResult): string {
  const lines = [`${result.outcome}: ${result.message}`];
  if (result.connectionError) {
    lines.push(`  ConnectionErrorCode ${result.connectionError.code}: ${result.connectionError.meaning}`);
    lines.push(`  Next step: ${result.connectionError.action}`);
  }
  if (result.outcome === 'NEEDS_ATTENTION') {
    lines.push(
      `  The store is ${result.store.lastObservedState ?? 'in an unknown state'}; traffic ${result.trafficRestored ? 'was restored' : 'stays drained'}.`,
    );
  }
  return lines.join('\n');
}
