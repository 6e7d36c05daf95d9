/**
 * A child process for the cross-process test: appends runs' events to one JSON Lines file through
 * its own JsonlAuditSink. It says `ready`, waits for `go` on stdin (so that both children append
 * at the same time), appends, and prints the number of new events per run as JSON.
 *
 * argv: <file> <plan JSON: [{ workflowId, runId, events, batch }]>
 */
import { createInterface } from 'node:readline';
import { JsonlAuditSink } from '../../../src/audit/jsonl-sink';
import { makeEvents } from './events';

interface PlanItem {
  readonly workflowId: string;
  readonly runId: string;
  readonly events: number;
  readonly batch: number;
}

async function main(): Promise<void> {
  const [file, planJson] = process.argv.slice(2);
  if (!file || !planJson) throw new Error('usage: append-child <file> <plan JSON>');
  const plan = JSON.parse(planJson) as PlanItem[];
  const sink = new JsonlAuditSink(file);
  const lines = createInterface({ input: process.stdin });
  const go = new Promise<void>((resolve) => lines.on('line', (line) => line === 'go' && resolve()));
  process.stdout.write('ready\n');
  await go;
  lines.close();
  const written: Record<string, number> = {};
  const batches = plan.map((item) => {
    const list: [number, number][] = [];
    // Each batch also repeats the previous one's last event, as a retried append would.
    for (let from = 1; from <= item.events; from += item.batch) {
      list.push([Math.max(1, from - 1), Math.min(item.events, from + item.batch - 1)]);
    }
    return list;
  });
  // Round-robin over the runs, so that their batches interleave in the file.
  for (let i = 0; batches.some((list) => i < list.length); i++) {
    for (const [index, item] of plan.entries()) {
      const range = batches[index]?.[i];
      if (!range) continue;
      const added = await sink.append(makeEvents(item.workflowId, item.runId, range[0], range[1]));
      written[item.runId] = (written[item.runId] ?? 0) + added;
    }
  }
  await sink.close();
  process.stdout.write(`${JSON.stringify(written)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
