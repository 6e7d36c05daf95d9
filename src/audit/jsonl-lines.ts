/**
 * Line scanning over a byte range of a JSON Lines file. Lines are split on the newline byte before
 * decoding, so a multi-byte character is never cut at a read boundary, and files far larger than
 * memory are read in bounded chunks.
 */
import type { FileHandle } from 'node:fs/promises';

export interface RawLine {
  readonly text: string;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** False only for a last piece without a newline: a write cut short, or a truncated file. */
  readonly complete: boolean;
}

const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;

export async function* readLines(file: FileHandle, start: number, end: number): AsyncGenerator<RawLine> {
  let pending: Buffer[] = [];
  let pendingOffset = start;
  let position = start;
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  while (position < end) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(CHUNK_BYTES, end - position), position);
    if (bytesRead === 0) break;
    const view = chunk.subarray(0, bytesRead);
    let from = 0;
    for (let i = view.indexOf(NEWLINE); i >= 0; i = view.indexOf(NEWLINE, from)) {
      pending.push(Buffer.from(view.subarray(from, i)));
      yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingOffset, complete: true };
      pending = [];
      pendingOffset = position + i + 1;
      from = i + 1;
    }
    if (from < bytesRead) pending.push(Buffer.from(view.subarray(from)));
    position += bytesRead;
  }
  if (pending.length > 0) {
    yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingOffset, complete: false };
  }
}
