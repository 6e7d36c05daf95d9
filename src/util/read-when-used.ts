/**
 * A value the worker's configuration names rather than holds — a credential, a webhook URL that
 * is itself a secret — read each time it is used, so a rotated file takes effect without a
 * restart. Gate sources, hooks and notification destinations all read theirs this way.
 */
import { readFileSync } from 'node:fs';

export interface ReadWhenUsed {
  /** The value now, or undefined when its file is missing or empty. */
  read(): string | undefined;
  /** Where it comes from, for messages (never the value). */
  readonly source: string;
}

/** The trimmed content of `path` at each read. */
export function fileValue(path: string): ReadWhenUsed {
  return {
    read: () => {
      try {
        return readFileSync(path, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    },
    source: `file ${path}`,
  };
}
