/** Clears the scenario records before the suite and writes docs/reliability.md after it. */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root';
import { REPORT_DIR, type ScenarioRecord } from './report';

const GROUP_ORDER = ['worker crash', 'infrastructure restart', 'KMS faults', 'bad input', 'concurrency'];

export default function setup(): () => void {
  rmSync(REPORT_DIR, { recursive: true, force: true });
  return () => {
    if (!existsSync(REPORT_DIR)) return;
    const records = readdirSync(REPORT_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(REPORT_DIR, f), 'utf8')) as ScenarioRecord)
      .sort(
        (a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group) || a.name.localeCompare(b.name),
      );
    const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    const passed = records.filter((r) => r.ok).length;
    const lines = [
      '# Reliability: scenarios and observed outcomes',
      '',
      'Written by the scenario suite (`npm run test:scenarios`) on its last run; do not edit by hand.',
      'Each scenario runs complete maintenances on the real Temporal dev server against the KMS',
      "simulator while something breaks, then checks the store's final state in the simulator, the",
      "aliases, the audit chain (`audit verify`), the workflow's result and phase timeline, and that",
      'no mutating KMS call was made that should not have been.',
      '',
      `Last run: ${new Date().toISOString()}; ${passed} of ${records.length} scenarios passed.`,
      '',
      '| group | scenario | expected | observed | result | seconds |',
      '| --- | --- | --- | --- | --- | --- |',
      ...records.map(
        (r) =>
          `| ${r.group} | ${escape(r.name)} | ${escape(r.expected)} | ${escape(r.observed)} | ${r.ok ? 'pass' : '**FAIL**'} | ${r.seconds.toFixed(1)} |`,
      ),
      '',
    ];
    writeFileSync(join(projectRoot(), 'docs', 'reliability.md'), lines.join('\n'));
  };
}
