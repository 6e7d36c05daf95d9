/**
 * Fails (exit 1) when a generated, committed file no longer matches the code it was generated
 * from, with the command that regenerates it:
 * - docs/reliability.md records the hash of workflows/ and activities/ it was observed with.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { behaviourCodeHash } from '../src/util/code-hash';
import { HASH_LINE_PREFIX, RELIABILITY_DOC } from '../test/support/reliability-report';

const problems: string[] = [];

const doc = readFileSync(RELIABILITY_DOC, 'utf8');
const recorded = doc
  .split('\n')
  .find((line) => line.startsWith(HASH_LINE_PREFIX))
  ?.slice(HASH_LINE_PREFIX.length)
  .match(/`([0-9a-f]+)`/)?.[1];
const current = behaviourCodeHash();
if (recorded !== current) {
  problems.push(
    `${relative(process.cwd(), RELIABILITY_DOC)} is stale: it was observed with code ${recorded ?? '(no hash)'}, the code is now ${current}. ` +
      'Run `npm test && npm run test:scenarios` (both write it when they have run on the same code) and commit the page.',
  );
}

if (problems.length) {
  for (const problem of problems) console.error(`generated file out of date: ${problem}`);
  process.exit(1);
}
console.log('generated files are current');
