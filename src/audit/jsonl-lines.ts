/**
 * Line scanning over a byte range of a JSON Lines file. Lines are split on the newline byte before
 * decoding, so a multi-byte character is never cut at a read boundary, and files far larger than
 * memory are read in bounded chunks. A line longer than `maxLineBytes` is never assembled: it is
 * reported as `tooLong` with its length and skipped to its end, so a hostile 500 MB line costs
 * a chunk of memory, not a 500 MB string.
 */
import type { FileHandle } from 'node:fs/promises';

export interface RawLine {
  /** The line (without its newline); empty when `tooLong`. */
  readonly text: string;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** False only for a last piece without a newline: a write cut short, or a truncated file. */
  readonly complete: boolean;
  /** Set when the line is longer than the cap: its length in bytes (`text` is then empty). */
  readonly tooLong?: number;
}

const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;
/** No audit event comes near this; a longer line is damage or an attack. */
export const MAX_AUDIT_LINE_BYTES = 1 << 20;

export async function* readLines(
  file: FileHandle,
  start: number,
  end: number,
  maxLineBytes: number = MAX_AUDIT_LINE_BYTES,
): AsyncGenerator<RawLine> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Bytes of the current line when it went over the cap (its pieces are dropped). */
  let overflow: number | undefined;
  let pendingOffset = start;
  let position = start;
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const take = (piece: Buffer) => {
    if (overflow !== undefined) {
      overflow += piece.length;
      return;
    }
    pendingBytes += piece.length;
    if (pendingBytes > maxLineBytes) {
      overflow = pendingBytes;
      pending = [];
      return;
    }
    pending.push(Buffer.from(piece));
  };
  const finish = (complete: boolean): RawLine => {
    const line: RawLine =
      overflow !== undefined
        ? { text: '', offset: pendingOffset, complete, tooLong: overflow }
        : { text: Buffer.concat(pending).toString('utf8'), offset: pendingOffset, complete };
    pending = [];
    pendingBytes = 0;
    overflow = undefined;
    return line;
  };
  while (position < end) {
    const { bytesRead } = await file.read(chunk, 0, Math.min(CHUNK_BYTES, end - position), position);
    if (bytesRead === 0) break;
    const view = chunk.subarray(0, bytesRead);
    let from = 0;
    for (let i = view.indexOf(NEWLINE); i >= 0; i = view.indexOf(NEWLINE, from)) {
      take(view.subarray(from, i));
      yield finish(true);
      pendingOffset = position + i + 1;
      from = i + 1;
    }
    if (from < bytesRead) take(view.subarray(from));
    position += bytesRead;
  }
  if (pendingBytes > 0 || overflow !== undefined) yield finish(false);
}
