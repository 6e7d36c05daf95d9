/**
 * Each scenario records what it expected and what it observed; the suite's teardown
 * (report-setup.ts) turns the records into docs/reliability.md, so the table is always the
 * last run's truth, never written by hand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { behaviourCodeHash } from '../../src/util/code-hash';
import { projectRoot } from '../../src/util/project-root';

export const REPORT_DIR = join(projectRoot(), 'test-results', 'scenarios');

/** The code this test process loaded (hashed once: an edit during the run must not relabel it). */
const CODE_HASH = behaviourCodeHash();

export interface ScenarioRecord {
  readonly group: string;
  readonly name: string;
  readonly expected: string;
  readonly observed: string;
  readonly ok: boolean;
  readonly seconds: number;
  /** The workflow and activity code the scenario ran (src/util/code-hash.ts). */
  readonly codeHash: string;
}

/** Runs `body` (which returns the observed outcome in words), records it, and rethrows failures. */
export async function scenario(
  group: string,
  name: string,
  expected: string,
  body: () => Promise<string>,
): Promise<void> {
  const started = Date.now();
  let observed: string;
  let ok = true;
  let failure: unknown;
  try {
    observed = await body();
  } catch (err) {
    ok = false;
    failure = err;
    observed = `FAILED: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  const record: ScenarioRecord = {
    group,
    name,
    expected,
    observed,
    ok,
    seconds: (Date.now() - started) / 1000,
    codeHash: CODE_HASH,
  };
  mkdirSync(REPORT_DIR, { recursive: true });
  const slug = `${group}-${name}`.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  writeFileSync(join(REPORT_DIR, `${slug}.json`), JSON.stringify(record));
  if (!ok) throw failure;
}
