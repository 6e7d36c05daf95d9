/**
 * Each matrix cell that passes writes what it did and saw; the reliability report
 * (scripts/reliability-report.ts, run at the end of `npm test` and `npm run test:scenarios`) turns
 * the records into docs/reliability.md, so the matrix there is always the current code's.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { behaviourCodeHash } from '../../src/util/code-hash';
import { projectRoot } from '../../src/util/project-root';
import type { CellRecord } from './cell';

export const MATRIX_RECORD_DIR = join(projectRoot(), 'test-results', 'reliability', 'matrix');

/** The code this test process loaded (hashed once: an edit during the run must not relabel it). */
const CODE_HASH = behaviourCodeHash();

export function recordMatrixCell(record: CellRecord): void {
  mkdirSync(MATRIX_RECORD_DIR, { recursive: true });
  const { cell } = record;
  const slug = [cell.interruption, cell.phase, cell.storeType, cell.provider, cell.failure, cell.lagMs]
    .join('-')
    .toLowerCase();
  writeFileSync(
    join(MATRIX_RECORD_DIR, `${slug}.json`),
    JSON.stringify({ ...record, codeHash: CODE_HASH, at: new Date().toISOString() }),
  );
}
