import { defineConfig } from 'vitest/config';

/**
 * The production rehearsal suite (`npm run test:rehearsal`, docs/operations.md): keystore-maint on
 * the Temporal server built from its Go module, persisting to PostgreSQL with SQL visibility, with
 * workers started from the built package as the image starts them. One cluster for the whole
 * suite (global setup), so the files run one after another.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/rehearsal/setup.ts'],
    setupFiles: ['test/support/quiet-runtime.ts'],
    include: ['test/rehearsal/**/*.rehearsal.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
