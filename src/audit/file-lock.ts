/**
 * An advisory lock between processes that append to one JSON Lines file: a lock file created with
 * O_EXCL. Node has no flock(2), and a lock file also shows an operator who holds it (pid, host,
 * since when). Holders keep it for milliseconds (read the file's tail, one write, one fsync).
 *
 * A lock is stale when its holder is a process on this host that no longer exists, or, failing
 * that check (another host, a reused pid), when the file is older than `staleMs`. Breaking a
 * stale lock has a small race (two waiters may judge the same lock stale); it is narrowed by
 * re-reading the lock just before removing it, and writers check that they still hold the lock
 * just before writing.
 */
import { randomUUID } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { AuditLockTimeoutError, AuditWriteError } from './errors';

export interface FileLockOptions {
  /** A lock older than this is taken to be left over by a crashed holder. */
  readonly staleMs: number;
  /** Give up waiting after this long; longer than `staleMs`, so a stale lock is broken first. */
  readonly timeoutMs: number;
}

export const DEFAULT_LOCK_OPTIONS: FileLockOptions = { staleMs: 30_000, timeoutMs: 40_000 };

export interface HeldLock {
  /** Throws if another process broke the lock in the meantime: nothing must be written then. */
  assertHeld(): Promise<void>;
}

interface LockContent {
  readonly pid?: number;
  readonly host?: string;
  readonly token?: string;
  readonly since?: string;
}

export async function withFileLock<T>(
  lockPath: string,
  options: FileLockOptions,
  task: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const token = await acquire(lockPath, options);
  const lock: HeldLock = {
    assertHeld: async () => {
      const text = await readFile(lockPath, 'utf8').catch(() => '');
      if (parseContent(text)?.token !== token) {
        throw new AuditWriteError(
          `the audit lock ${lockPath} was taken over by another process while this one held it (it was judged ` +
            `stale after ${options.staleMs} ms); nothing was written. Retry the append (it is idempotent); if ` +
            `this repeats, the file system is too slow for the stale limit.`,
        );
      }
    },
  };
  try {
    return await task(lock);
  } finally {
    await release(lockPath, token);
  }
}

async function acquire(lockPath: string, options: FileLockOptions): Promise<string> {
  const token = randomUUID();
  const content = JSON.stringify({
    pid: process.pid,
    host: hostname(),
    token,
    since: new Date().toISOString(),
  });
  const deadline = Date.now() + options.timeoutMs;
  let backoffMs = 1;
  for (;;) {
    if (await tryCreate(lockPath, content)) return token;
    const holder = await readHolder(lockPath);
    if (!holder) continue; // released between our attempt and the read: try again at once
    if (isStale(holder, options.staleMs)) {
      await breakLock(lockPath, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder.content
        ? `process ${holder.content.pid ?? '?'} on ${holder.content.host ?? '?'} since ${holder.content.since ?? '?'}`
        : 'an unknown process';
      throw new AuditLockTimeoutError(
        `could not lock the audit file within ${options.timeoutMs} ms: ${lockPath} is held by ${who}. ` +
          `If no keystore-maint process is writing audit events, delete ${lockPath} and retry.`,
      );
    }
    // Polling with a little jitter: holders keep the lock for milliseconds.
    await delay(backoffMs + Math.random() * backoffMs);
    backoffMs = Math.min(backoffMs * 2, 50);
  }
}

async function tryCreate(lockPath: string, content: string): Promise<boolean> {
  let file;
  try {
    file = await open(lockPath, 'wx', 0o644);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw new AuditWriteError(
      `cannot create the audit lock file ${lockPath} (${errorCode(err) ?? String(err)}); check that the audit ` +
        `directory exists and is writable by this process.`,
      err,
    );
  }
  try {
    await file.writeFile(content);
  } catch (err) {
    await file.close().catch(() => undefined);
    await unlink(lockPath).catch(() => undefined);
    throw new AuditWriteError(`cannot write the audit lock file ${lockPath}: ${String(err)}`, err);
  }
  await file.close();
  return true;
}

interface Holder {
  readonly text: string;
  readonly content: LockContent | undefined;
  readonly mtimeMs: number;
}

async function readHolder(lockPath: string): Promise<Holder | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath)]);
    return { text, content: parseContent(text), mtimeMs: info.mtimeMs };
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function isStale(holder: Holder, staleMs: number): boolean {
  const { content } = holder;
  if (content?.host === hostname() && typeof content.pid === 'number' && !processExists(content.pid))
    return true;
  return Date.now() - holder.mtimeMs > staleMs;
}

async function breakLock(lockPath: string, judged: Holder): Promise<void> {
  const now = await readHolder(lockPath);
  if (now?.text === judged.text && now.mtimeMs === judged.mtimeMs)
    await unlink(lockPath).catch(() => undefined);
}

async function release(lockPath: string, token: string): Promise<void> {
  const text = await readFile(lockPath, 'utf8').catch(() => '');
  if (parseContent(text)?.token === token) await unlink(lockPath).catch(() => undefined);
}

function parseContent(text: string): LockContent | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' ? value : undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errorCode(err) === 'EPERM';
  }
}

export function errorCode(err: unknown): string | undefined {
  return err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
