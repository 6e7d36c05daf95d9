import { defineConfig } from 'vitest/config';

/**
 * The reliability scenario suite (`npm run test:scenarios`): whole maintenance runs while
 * things break. Slower than the unit/integration suite, so it has its own config; it shares the
 * one-dev-server-per-run global setup, and writes docs/reliability.md from what it observed.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts', 'test/scenarios/report-setup.ts'],
    setupFiles: ['test/support/quiet-runtime.ts'],
    include: ['test/scenarios/**/*.scenario.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    maxConcurrency: 4,
    reporters: ['default', ['json', { outputFile: 'test-results/scenarios.json' }]],
  },
});
