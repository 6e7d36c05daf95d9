/**
 * The browser test of the Temporal Web UI (`npm run test:ui`): slow, and it needs Chromium
 * (`bash scripts/ensure-chromium.sh`), so it is not part of `npm test`. Its files are
 * `test/ui/*.ui.ts`; each starts its own dev server (with the UI), KMS simulator and worker.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    // Temporal's native bridge and workers behave best in separate processes, not threads.
    pool: 'forks',
    include: ['test/ui/**/*.ui.ts'],
    // One browser, one dev server: the steps of a file run in order and share them.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', ['json', { outputFile: 'test-results/ui/vitest.json' }]],
  },
});
