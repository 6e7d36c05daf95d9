/**
 * The JSON Lines sink (the default): one chained event per line, appended to one file that many
 * runs, and several worker processes on one machine, share.
 *
 * - Atomic batches: a batch is one write(2) of all its lines on an O_APPEND descriptor, then
 *   fsync; a failed or short write is cut back off under the lock, so no half batch stays.
 * - Idempotent on (workflowId, runId, seq): the sink knows each run's last seq and skips what is
 *   stored, so an activity retried after a crash adds nothing.
 * - No forked chains: appends are queued within a process and, across processes, made under an
 *   advisory lock file (`<file>.lock`), after re-reading whatever other processes appended since
 *   this one last looked (the in-memory index is refreshed when the file's size changed).
 *
 * Only for processes on one host sharing a local file system: O_APPEND and O_EXCL are not atomic
 * on NFS. Several hosts share a trail through the PostgreSQL sink.
 */
import { mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { AuditEvent, ChainedAuditEvent } from '../domain/audit-event';
import { AuditFileDamagedError, AuditSourceNotFoundError, AuditWriteError } from './errors';
import {
  DEFAULT_LOCK_OPTIONS,
  errorCode,
  withFileLock,
  type FileLockOptions,
  type HeldLock,
} from './file-lock';
import {
  chainBatch,
  parseChainedEvent,
  prepareBatch,
  recordLine,
  runKey,
  type ChainTail,
  type RunBatch,
} from './hash-chain';
import type { AuditKey } from './audit-key';
import { appendCheckpoint, checkpointFileOf, lastCheckpointMac, sealCheckpoint } from './checkpoints';
import { readLines } from './jsonl-lines';
import { isAboutStore, type ReadableAuditSink } from './sink';

export interface JsonlAuditSinkOptions {
  readonly lock?: Partial<FileLockOptions>;
  /**
   * The audit key (src/audit/audit-key.ts): events are sealed with HMAC-SHA256 under it, and a
   * signed checkpoint of the head goes to `<file>.checkpoints` after every append. Without a key
   * the trail is chained with plain SHA-256, which anyone who can write the file can recompute.
   */
  readonly key?: AuditKey;
}

interface IndexedFile {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
}

export class JsonlAuditSink implements ReadableAuditSink {
  readonly path: string;
  readonly description: string;
  private readonly lockOptions: FileLockOptions;
  /** Highest seq, and its hash, of every run in the file, as of `indexed`. */
  private readonly tails = new Map<string, ChainTail>();
  /** The last record in the file (what the next one links to) and how many there are. */
  private head = { hash: '', records: 0 };
  private indexed: IndexedFile | undefined;
  private closed = false;
  private resolved: string | undefined;

  private readonly key: AuditKey | undefined;

  constructor(path: string, options: JsonlAuditSinkOptions = {}) {
    this.path = resolve(path);
    this.description = `file ${this.path}`;
    this.lockOptions = { ...DEFAULT_LOCK_OPTIONS, ...options.lock };
    this.key = options.key;
  }

  async append(events: readonly AuditEvent[]): Promise<number> {
    if (this.closed)
      throw new AuditWriteError(`the audit sink for ${this.path} is closed; nothing was written.`);
    const batches = prepareBatch(events);
    if (batches.length === 0) return 0;
    const target = await this.target();
    return serialize(target, () =>
      withFileLock(`${target}.lock`, this.lockOptions, (lock) => this.appendLocked(target, batches, lock)),
    );
  }

  /**
   * The file's path with its directory's symlinks resolved: the key of the in-process queue and
   * the lock file's name, so that writers configured with different spellings of one path
   * (a symlinked directory) still exclude each other.
   */
  private async target(): Promise<string> {
    if (this.resolved === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.resolved = await resolveAuditFile(this.path);
    }
    return this.resolved;
  }

  async readWorkflow(workflowId: string): Promise<ChainedAuditEvent[]> {
    const found: ChainedAuditEvent[] = [];
    await this.scanStored((event) => {
      if (event.workflowId === workflowId) found.push(event);
    });
    return found;
  }

  async findWorkflowIdsForStore(customKeyStoreId: string): Promise<string[]> {
    const ids = new Set<string>();
    await this.scanStored((event) => {
      if (isAboutStore(event, customKeyStoreId)) ids.add(event.workflowId);
    });
    return [...ids];
  }

  close(): Promise<void> {
    this.closed = true;
    // Appends still queued finish first: close waits for them rather than cutting them off.
    return serialize(this.resolved ?? this.path, () => Promise.resolve());
  }

  private async appendLocked(target: string, batches: readonly RunBatch[], lock: HeldLock): Promise<number> {
    const file = await open(target, 'a+', 0o640);
    try {
      const before = await file.stat();
      await this.refresh(file, before);
      const link = { lastHash: this.head.hash, key: this.key };
      const chained = batches.flatMap((batch) =>
        chainBatch(batch, this.tails.get(runKey(batch.workflowId, batch.runId)), this.path, link),
      );
      if (chained.length === 0) return 0;
      // One spelling per record: `verify` refuses any other (duplicate keys, escapes, order).
      const bytes = Buffer.from(chained.map((event) => `${recordLine(event)}\n`).join(''), 'utf8');
      await lock.assertHeld();
      await this.writeAll(file, bytes, before.size);
      if (before.size === 0) await syncDirectory(dirname(this.path));
      for (const event of chained) {
        this.tails.set(runKey(event.workflowId, event.runId), { lastSeq: event.seq, lastHash: event.hash });
      }
      this.head = { hash: link.lastHash, records: this.head.records + chained.length };
      this.indexed = { dev: before.dev, ino: before.ino, size: before.size + bytes.length };
      if (this.key) await this.checkpoint(target, this.key);
      return chained.length;
    } finally {
      await file.close();
    }
  }

  /** A signed checkpoint of the head, chained to the last one (src/audit/checkpoints.ts). */
  private async checkpoint(target: string, key: AuditKey): Promise<void> {
    const path = checkpointFileOf(target);
    const prev = await lastCheckpointMac(path);
    await appendCheckpoint(
      path,
      sealCheckpoint({ records: this.head.records, head: this.head.hash, prev }, key),
    );
  }

  private async writeAll(file: FileHandle, bytes: Buffer, sizeBefore: number): Promise<void> {
    let written: number;
    try {
      // One write(2): with O_APPEND the batch lands at the end as one piece.
      ({ bytesWritten: written } = await file.write(bytes, 0, bytes.length, null));
    } catch (err) {
      await this.cutBack(file, sizeBefore, err);
      throw new AuditWriteError(
        `writing ${bytes.length} bytes of audit events to ${this.path} failed (${errorCode(err) ?? String(err)}); ` +
          `nothing was kept. Retry once the cause (disk full, permissions) is fixed.`,
        err,
      );
    }
    if (written !== bytes.length) {
      await this.cutBack(file, sizeBefore, undefined);
      throw new AuditWriteError(
        `only ${written} of ${bytes.length} bytes of audit events reached ${this.path} (disk full?); the partial ` +
          `write was removed. Retry once there is space.`,
      );
    }
    try {
      await file.sync();
    } catch (err) {
      throw new AuditWriteError(
        `fsync of ${this.path} failed after writing audit events (${errorCode(err) ?? String(err)}); they may ` +
          `or may not be on disk. Retry the append: it is idempotent and adds only what is missing.`,
        err,
      );
    }
  }

  private async cutBack(file: FileHandle, size: number, cause: unknown): Promise<void> {
    try {
      await file.truncate(size);
    } catch (err) {
      this.indexed = undefined;
      throw new AuditFileDamagedError(
        `a failed write left part of a batch at the end of ${this.path} and it could not be removed ` +
          `(${errorCode(err) ?? String(err)}; the write failed with ${String(cause)}). Remove every byte ` +
          `after offset ${size} (e.g. truncate -s ${size} <file>) before appending again.`,
      );
    }
  }

  /** Brings the per-run tails up to date with what is in the file (other processes append too). */
  private async refresh(file: FileHandle, now: { dev: number; ino: number; size: number }): Promise<void> {
    const known = this.indexed;
    let from = known?.size ?? 0;
    if (!known || known.dev !== now.dev || known.ino !== now.ino || now.size < known.size) {
      // First look, or the file was replaced or rotated: read it whole.
      this.tails.clear();
      this.head = { hash: '', records: 0 };
      from = 0;
    } else if (now.size === known.size) {
      return;
    }
    this.indexed = undefined;
    for await (const line of readLines(file, from, now.size)) {
      if (!line.complete) {
        throw new AuditFileDamagedError(
          `the audit file ${this.path} ends with an incomplete line at byte ${line.offset} (a write was cut short ` +
            `by a crash, or the file was truncated); nothing was appended, so the damage stays where it is. Run ` +
            `\`keystore-maint audit verify\` to see it, keep a copy of the file, then remove the incomplete line ` +
            `(truncate -s ${line.offset} <file>) so appends can go on.`,
        );
      }
      const tail = line.tooLong ? undefined : tailOf(line.text);
      // The highest seq, not the last line: a line copied further down (tampering) must not
      // make the sink write seqs it already has a second time.
      if (tail && tail.seq > (this.tails.get(tail.key)?.lastSeq ?? 0)) {
        this.tails.set(tail.key, { lastSeq: tail.seq, lastHash: tail.hash });
      }
      // The next record links to the last line, whatever it is: verify reports damage, not the sink.
      this.head = { hash: tail?.hash ?? '', records: this.head.records + 1 };
    }
    this.indexed = { dev: now.dev, ino: now.ino, size: now.size };
  }

  /** Every readable stored event in file order; a line still being written is not read. */
  private async scanStored(onEvent: (event: ChainedAuditEvent) => void): Promise<void> {
    let file: FileHandle;
    try {
      file = await open(this.path, 'r');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') {
        throw new AuditSourceNotFoundError(
          `the audit file ${this.path} does not exist: nothing was written there yet, or the trail is elsewhere ` +
            `(set KEYSTORE_MAINT_AUDIT_FILE or KEYSTORE_MAINT_AUDIT_SINK).`,
        );
      }
      throw err;
    }
    try {
      const { size } = await file.stat();
      for await (const line of readLines(file, 0, size)) {
        if (!line.complete) break;
        if (line.tooLong) continue;
        const parsed = parseChainedEvent(parseJson(line.text));
        if ('event' in parsed) onEvent(parsed.event);
      }
    } finally {
      await file.close();
    }
  }
}

function tailOf(text: string): { key: string; seq: number; hash: string } | undefined {
  const value = parseJson(text) as Partial<Record<string, unknown>> | undefined;
  if (!value || typeof value !== 'object') return undefined;
  const { workflowId, runId, seq, hash } = value;
  if (typeof workflowId !== 'string' || typeof runId !== 'string') return undefined;
  if (typeof seq !== 'number' || typeof hash !== 'string') return undefined;
  return { key: runKey(workflowId, runId), seq, hash };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the new file's directory entry durable; not every platform lets a directory be fsynced.
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

/** One queue per file path, shared by every sink of this process, so they never contend. */
const queues = new Map<string, Promise<void>>();

function serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const result = previous.then(task);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return result;
}

/** `path` made absolute with its directory's symlinks resolved; the lock file is this plus `.lock`. */
export async function resolveAuditFile(path: string): Promise<string> {
  const absolute = resolve(path);
  return join(await realpath(dirname(absolute)), basename(absolute));
}
