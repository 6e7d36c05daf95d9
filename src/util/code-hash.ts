/**
 * The hash of the code whose behaviour docs/reliability.md reports: every file under
 * `workflows/` and `activities/`, by path and content. The report records it; the staleness check
 * (scripts/check-generated.ts) recomputes it, so a change to that code without a new report fails CI.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from './project-root';

export const HASHED_DIRECTORIES = ['workflows', 'activities'] as const;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

export function behaviourCodeHash(root: string = projectRoot()): string {
  const hash = createHash('sha256');
  const files = HASHED_DIRECTORIES.flatMap((dir) => filesUnder(join(root, dir)))
    .map((path) => relative(root, path).split('\\').join('/'))
    .sort();
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\n');
  }
  return hash.digest('hex').slice(0, 16);
}
