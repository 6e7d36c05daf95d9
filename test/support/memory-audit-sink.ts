/** An AuditSink that keeps events in memory (idempotent like the real sinks), for workflow tests. */
import type { AuditEvent, ChainedAuditEvent } from '../../src/domain/audit-event';
import type { AuditSink } from '../../src/audit/sink';

export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];
  appendCalls = 0;
  private readonly keys = new Set<string>();

  /** With `also`, every batch is written to that sink too (the worker sees its result). */
  constructor(private readonly also?: AuditSink) {}

  async append(events: readonly AuditEvent[]): Promise<number> {
    this.appendCalls++;
    if (this.also) await this.also.append(events);
    let added = 0;
    for (const event of events) {
      const key = `${event.workflowId}|${event.runId}|${event.seq}`;
      if (this.keys.has(key)) continue;
      this.keys.add(key);
      this.events.push(event);
      added++;
    }
    return added;
  }

  readWorkflow(workflowId: string): Promise<ChainedAuditEvent[]> {
    return Promise.resolve(
      this.events.filter((e) => e.workflowId === workflowId).map((e) => ({ ...e, prevHash: '', hash: '' })),
    );
  }

  forRun(runId: string): AuditEvent[] {
    return this.events.filter((e) => e.runId === runId);
  }

  async close(): Promise<void> {
    await this.also?.close();
  }
}
