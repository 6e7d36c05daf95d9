/**
 * The interruption matrix for one kind of interruption: every phase from PREFLIGHT to RESTORING,
 * each a fast-check property over the dimensions the phase does not fix (store type, traffic
 * provider, consistency lag, kind of failure). The first run of each property is the rotation
 * example (so `npm test` covers every store type and provider); further runs are random, seeded
 * and shrinking. `KEYSTORE_MAINT_MATRIX_RUNS` (default 1) sets the runs per phase —
 * `npm run test:soak` sets more; `KEYSTORE_MAINT_MATRIX_SEED` replays a reported seed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { PHASES } from '../../src/domain/phases';
import { connectTestTemporal, type TestTemporal } from '../support/temporal';
import { cellArbitrary, describeCell, exampleCell, runCell, type Interruption } from './cell';

const RUNS = Number(process.env.KEYSTORE_MAINT_MATRIX_RUNS ?? '1');
const SEED = Number(process.env.KEYSTORE_MAINT_MATRIX_SEED ?? '20261129');

export function interruptionMatrix(interruption: Interruption): void {
  let temporal: TestTemporal;
  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });
  afterAll(async () => temporal?.close());

  describe.concurrent(`interruption matrix: ${interruption}`, () => {
    PHASES.forEach((phase, index) => {
      const example = exampleCell(phase, interruption);
      it(`${interruption} in ${phase}: the report equals the truth`, async () => {
        await fc.assert(
          fc.asyncProperty(cellArbitrary(phase, interruption), async (cell) => {
            try {
              await runCell(cell, temporal);
            } catch (err) {
              throw new Error(`${describeCell(cell)}: ${err instanceof Error ? err.message : String(err)}`, {
                cause: err,
              });
            }
          }),
          { seed: SEED + index, numRuns: Math.max(1, RUNS), examples: [[example]], endOnFailure: RUNS <= 1 },
        );
      }, 600_000);
    });
  });
}
