/**
 * Signed checkpoints of a trail's head. Chains show edits, deletions in the middle and invented
 * events, but not a trail cut off at its end: the shorter trail is itself a valid chain. So after
 * every append a keyed sink records, in a separate place, how many records the trail holds and the
 * `hash` of the last one, sealed with the audit key and chained to the previous checkpoint.
 * `audit verify` then finds a trail shorter than its last checkpoint, or whose record at a
 * checkpointed position is not the one checkpointed.
 *
 * What this does not catch: someone who can write both the trail and its checkpoints and cuts
 * both back to an earlier, consistent point. Copy the checkpoints where the trail's writers cannot
 * write (another host, a write-once bucket); `audit verify` prints the last checkpoint, which is
 * enough to compare by hand.
 *
 * File sink: `<trail>.checkpoints`, one JSON line each (canonical JSON):
 * `{"at":…,"head":…,"keyId":…,"mac":…,"prev":…,"records":N}`.
 */
import { open } from 'node:fs/promises';
import type { AuditKey } from './audit-key';
import { canonicalJson } from './canonical-json';
import { AuditWriteError } from './errors';
import { errorCode } from './file-lock';
import { readLines } from './jsonl-lines';

export interface Checkpoint {
  readonly at: string;
  /** Records in the trail at this checkpoint. */
  readonly records: number;
  /** `hash` of the last of them. */
  readonly head: string;
  readonly keyId: string;
  /** `mac` of the previous checkpoint; '' for the first. */
  readonly prev: string;
  /** HMAC-SHA256 under the audit key over the canonical JSON of the checkpoint without `mac`. */
  readonly mac: string;
}

export function checkpointFileOf(trail: string): string {
  return `${trail}.checkpoints`;
}

export function sealCheckpoint(
  fields: { records: number; head: string; prev: string; at?: string },
  key: AuditKey,
): Checkpoint {
  const unsealed = {
    at: fields.at ?? new Date().toISOString(),
    records: fields.records,
    head: fields.head,
    keyId: key.id,
    prev: fields.prev,
  };
  return { ...unsealed, mac: key.mac(canonicalJson(unsealed)) };
}

/** Why a stored checkpoint is not one `key` sealed after `previousMac`, or undefined. */
export function checkpointProblem(value: unknown, key: AuditKey, previousMac: string): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const c = value as Partial<Record<string, unknown>>;
  if (typeof c.at !== 'string' || typeof c.head !== 'string' || typeof c.prev !== 'string') {
    return 'missing members (at, head, prev)';
  }
  if (typeof c.records !== 'number' || !Number.isSafeInteger(c.records) || c.records < 1) {
    return '"records" is not a positive integer';
  }
  if (c.keyId !== key.id) return `sealed with key ${String(c.keyId)}, not the given key ${key.id}`;
  const { mac, ...rest } = c;
  if (typeof mac !== 'string' || key.mac(canonicalJson(rest)) !== mac) {
    return 'its seal does not match (edited, or forged without the key)';
  }
  if (c.prev !== previousMac)
    return 'it does not follow the checkpoint before it (one was removed or replaced)';
  return undefined;
}

/** Appends one checkpoint with a single O_APPEND write and fsync. */
export async function appendCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  const file = await open(path, 'a', 0o640);
  try {
    await file.write(`${canonicalJson(checkpoint)}\n`, null, 'utf8');
    await file.sync();
  } catch (err) {
    throw new AuditWriteError(
      `writing an audit checkpoint to ${path} failed (${errorCode(err) ?? String(err)}); the events were written, ` +
        `the next append writes a new checkpoint`,
      err,
    );
  } finally {
    await file.close();
  }
}

/**
 * The last checkpoint's `mac` (what the next one chains to), or '' when there is none. Reads only
 * the file's tail: checkpoints grow by one line per append.
 */
export async function lastCheckpointMac(path: string): Promise<string> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await file.read(buffer, 0, length, size - length);
    const lines = buffer
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
    const last = lines[lines.length - 1];
    if (!last) return '';
    const mac = (JSON.parse(last) as { mac?: unknown }).mac;
    return typeof mac === 'string' ? mac : '';
  } catch {
    // A damaged tail: the next checkpoint starts a new link, and verify reports the damage.
    return '';
  } finally {
    await file.close();
  }
}

/** Every checkpoint line, parsed (undefined for a line that is not JSON); none when the file is missing. */
export async function* checkpointValues(path: string): AsyncGenerator<unknown> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  try {
    const { size } = await file.stat();
    for await (const line of readLines(file, 0, size, 64 * 1024)) {
      if (!line.complete || line.tooLong) {
        yield undefined;
        continue;
      }
      try {
        yield JSON.parse(line.text) as unknown;
      } catch {
        yield undefined;
      }
    }
  } finally {
    await file.close();
  }
}
