/**
 * docs/reliability.md, written from what the suites observed: the interruption matrix (records
 * of `npm test`, test/matrix/) and the reliability scenarios (`npm run test:scenarios`). Only
 * records of the current workflow and activity code count (their code hash); the page is
 * rewritten when the whole matrix and the scenarios are there for that code, and it records the
 * hash, so CI can tell a stale page (scripts/check-generated.ts). Never edited by hand.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PHASES } from '../../src/domain/phases';
import { behaviourCodeHash, HASHED_DIRECTORIES } from '../../src/util/code-hash';
import { projectRoot } from '../../src/util/project-root';
import type { CellRecord } from '../matrix/cell';
import { INTERRUPTIONS } from '../matrix/dimensions';
import { MATRIX_RECORD_DIR } from '../matrix/record';
import { REPORT_DIR, type ScenarioRecord } from '../scenarios/report';

export const RELIABILITY_DOC = join(projectRoot(), 'docs', 'reliability.md');
export const HASH_LINE_PREFIX = 'Code hash (workflows/ and activities/): ';

const GROUP_ORDER = ['worker crash', 'infrastructure restart', 'KMS faults', 'bad input', 'concurrency'];

type StoredCell = CellRecord & { readonly codeHash: string; readonly at: string };

function readJson<T>(dir: string): T[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T);
}

const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function truthText(r: StoredCell): string {
  const traffic = r.cell.provider === 'none' ? 'no traffic provider' : `traffic ${r.truth.traffic}`;
  return `store ${r.truth.state}, ${traffic}`;
}

/** Writes the page if the records allow; returns what it did, for the suite's log. */
export function writeReliabilityReport(): string {
  const hash = behaviourCodeHash();
  const cells = readJson<StoredCell>(MATRIX_RECORD_DIR).filter((r) => r.codeHash === hash);
  const scenarios = readJson<ScenarioRecord>(REPORT_DIR).filter((r) => r.codeHash === hash);
  const covered = new Set(cells.map((r) => `${r.cell.interruption}/${r.cell.phase}`));
  const wanted = INTERRUPTIONS.length * PHASES.length;
  const groups = new Set(scenarios.map((r) => r.group));
  // A partial or failing run (a filtered file, a broken scenario) never replaces the page.
  const complete = GROUP_ORDER.every((g) => groups.has(g)) && scenarios.every((r) => r.ok);
  if (covered.size < wanted || !complete) {
    return `docs/reliability.md not rewritten: for the current code (${hash}) there are ${covered.size} of ${wanted} matrix cells (npm test) and ${scenarios.length} scenarios in ${groups.size} of ${GROUP_ORDER.length} groups${complete ? '' : ', not all passing'} (npm run test:scenarios)`;
  }
  cells.sort(
    (a, b) =>
      INTERRUPTIONS.indexOf(a.cell.interruption) - INTERRUPTIONS.indexOf(b.cell.interruption) ||
      PHASES.indexOf(a.cell.phase) - PHASES.indexOf(b.cell.phase) ||
      a.at.localeCompare(b.at),
  );
  scenarios.sort(
    (a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group) || a.name.localeCompare(b.name),
  );
  const grid = PHASES.map((phase) => {
    const row = INTERRUPTIONS.map((interruption) => {
      const here = cells.filter((r) => r.cell.phase === phase && r.cell.interruption === interruption);
      const outcomes = [...new Set(here.map((r) => r.outcome))].join(' / ');
      const states = [...new Set(here.map((r) => r.truth.state))].join(' / ');
      return `${outcomes} (${here.length}×; store ${states})`;
    });
    return `| ${phase} | ${row.join(' | ')} |`;
  });
  const passed = scenarios.filter((r) => r.ok).length;
  const lines = [
    '# Reliability: what interruptions and faults do, observed',
    '',
    'Written by the test suites from what they observed; do not edit by hand. `npm test` runs the',
    'interruption matrix and `npm run test:scenarios` the scenarios; when both have run on the same',
    'code, the last one to finish rewrites this page.',
    '',
    `${HASH_LINE_PREFIX}\`${hash}\`. CI fails when this differs from the code (the page is stale):`,
    `rerun both suites. Hashed: ${HASHED_DIRECTORIES.map((d) => `\`${d}/\``).join(', ')}.`,
    '',
    '## The interruption matrix',
    '',
    'Every phase × {abort update, Temporal cancellation, worker SIGKILL, a failing KMS call}, each a',
    'whole run on the real dev server against a simulator with eventual-consistency lag and a slow',
    'call in flight in that phase. Store type, traffic provider, lag and the kind of failure come from',
    "fast-check (test/matrix/). Every cell is judged against the ground truth — the simulator's store",
    "state, ListAliases, the traffic controller's record — never the run's own report: the report",
    '(outcome, last observed state, trafficRestored, message) must equal that truth, the audit chain',
    'must verify and end with `run.ended`, and the `MaintenancePhase` search attribute must be the',
    'outcome. Each grid cell shows the outcomes seen, how many runs, and the true store state after.',
    '',
    `| phase | ${INTERRUPTIONS.join(' | ')} |`,
    `| --- | ${INTERRUPTIONS.map(() => '---').join(' | ')} |`,
    ...grid,
    '',
    'Every run of the matrix:',
    '',
    '| interruption | phase | store | drain | lag | what was done | outcome | ground truth after | seconds |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...cells.map(
      (r) =>
        `| ${r.cell.interruption} | ${r.cell.phase} | ${r.cell.storeType} | ${r.cell.provider} | ${r.cell.lagMs} ms | ${escape(r.interruption)} | ${r.outcome} | ${truthText(r)} | ${r.seconds.toFixed(1)} |`,
    ),
    '',
    '## Scenarios',
    '',
    'Complete maintenances on the real Temporal dev server against the KMS simulator while',
    "something breaks, each checking the store's final state in the simulator, the aliases, the audit",
    "chain (`audit verify`), the workflow's result and phase timeline, and that no mutating KMS call",
    'was made that should not have been.',
    '',
    `${passed} of ${scenarios.length} scenarios passed.`,
    '',
    '| group | scenario | expected | observed | result | seconds |',
    '| --- | --- | --- | --- | --- | --- |',
    ...scenarios.map(
      (r) =>
        `| ${r.group} | ${escape(r.name)} | ${escape(r.expected)} | ${escape(r.observed)} | ${r.ok ? 'pass' : '**FAIL**'} | ${r.seconds.toFixed(1)} |`,
    ),
    '',
  ];
  writeFileSync(RELIABILITY_DOC, lines.join('\n'));
  return `docs/reliability.md written: ${cells.length} matrix runs and ${scenarios.length} scenarios, code ${hash}`;
}
