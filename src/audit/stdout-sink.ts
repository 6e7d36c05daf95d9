/**
 * The stdout sink: one JSON line per chained event, for deployments whose log pipeline is the
 * system of record (the pipeline keeps, indexes and protects the lines).
 *
 * Its chain state lives in this process only. It is idempotent within the process, but after a
 * worker restart it cannot know what an earlier process printed: the first event it sees of a run
 * already under way starts a new segment of that run's chain (`prevHash` ''), which `audit verify`
 * over the collected lines reports as a broken link. Use the file or PostgreSQL sink when the
 * trail itself must prove it is complete.
 */
import type { Writable } from 'node:stream';
import type { AuditEvent, ChainedAuditEvent } from '../domain/audit-event';
import { AuditSinkNotReadableError, AuditWriteError } from './errors';
import { chainBatch, prepareBatch, runKey, type ChainTail } from './hash-chain';
import type { ReadableAuditSink } from './sink';

export class StdoutAuditSink implements ReadableAuditSink {
  readonly description = 'stdout (JSON Lines)';
  private readonly tails = new Map<string, ChainTail>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly out: Writable = process.stdout) {}

  async append(events: readonly AuditEvent[]): Promise<number> {
    const batches = prepareBatch(events);
    // One batch at a time, so that each is chained onto the tails the previous one left.
    const result = this.queue.then(() => this.write(batches));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async write(batches: ReturnType<typeof prepareBatch>): Promise<number> {
    const chained: ChainedAuditEvent[] = [];
    for (const batch of batches) {
      const key = runKey(batch.workflowId, batch.runId);
      let tail = this.tails.get(key);
      const first = batch.events[0];
      // A run this process has not seen, already under way: see the module comment.
      if (!tail && first && first.seq > 1) tail = { lastSeq: first.seq - 1, lastHash: '' };
      chained.push(...chainBatch(batch, tail, 'stdout'));
    }
    if (chained.length === 0) return 0;
    const text = chained.map((event) => `${JSON.stringify(event)}\n`).join('');
    await new Promise<void>((resolve, reject) => {
      this.out.write(text, (err) => {
        if (err) reject(new AuditWriteError(`writing audit events to stdout failed: ${err.message}`, err));
        else resolve();
      });
    });
    for (const event of chained) {
      this.tails.set(runKey(event.workflowId, event.runId), { lastSeq: event.seq, lastHash: event.hash });
    }
    return chained.length;
  }

  readWorkflow(): Promise<ChainedAuditEvent[]> {
    return Promise.reject(notReadable());
  }

  findWorkflowIdsForStore(): Promise<string[]> {
    return Promise.reject(notReadable());
  }

  async close(): Promise<void> {
    await this.queue;
  }
}

function notReadable(): AuditSinkNotReadableError {
  return new AuditSinkNotReadableError(
    'the stdout audit sink cannot read events back: export from your log pipeline, or point ' +
      'KEYSTORE_MAINT_AUDIT_SINK at file or postgres where the trail is kept.',
  );
}
