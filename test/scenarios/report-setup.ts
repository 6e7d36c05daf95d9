/**
 * Clears the scenario records before the suite. The records are turned into docs/reliability.md
 * with the interruption matrix's (test/support/reliability-report.ts), when the suite ends.
 */
import { rmSync } from 'node:fs';
import { REPORT_DIR } from './report';

export default function setup(): void {
  rmSync(REPORT_DIR, { recursive: true, force: true });
}
