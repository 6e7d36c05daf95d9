/**
 * Bundles the workflow code at build time (`npm run bundle`, run by `npm run build`) into
 * `dist/workflow-bundle.js`, or into the path given as the first argument.
 *
 * A production worker loads this file (`keystore-maint worker --workflow-bundle`, or
 * `KEYSTORE_MAINT_WORKFLOW_BUNDLE`) instead of running webpack at start-up: start-up is fast and
 * needs no build toolchain, and every worker of a release runs byte-for-byte the workflow code
 * that was built and tested — which is what replay safety is judged against.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TRACING_WORKFLOW_MODULES, tracedBundlePath } from '../src/tracing';
import { projectRoot } from '../src/util/project-root';

async function main(): Promise<void> {
  const root = projectRoot();
  const target = process.argv[2] ? resolve(process.argv[2]) : join(root, 'dist', 'workflow-bundle.js');
  // Two bundles: the plain one every worker loads, and beside it one with OpenTelemetry's
  // workflow interceptors, loaded only by workers with tracing on (src/tracing.ts): workers
  // without tracing carry neither the interceptors' code nor their per-run spans.
  const [plain, traced] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: join(root, 'workflows', 'index.ts') }),
    bundleWorkflowCode({
      workflowsPath: join(root, 'workflows', 'index.ts'),
      workflowInterceptorModules: [...TRACING_WORKFLOW_MODULES],
    }),
  ]);
  mkdirSync(dirname(target), { recursive: true });
  for (const [path, code] of [
    [target, plain.code],
    [tracedBundlePath(target), traced.code],
  ] as const) {
    // Written aside and renamed, so a worker starting meanwhile never loads half a bundle.
    const partial = `${path}.${process.pid}.partial`;
    writeFileSync(partial, code);
    renameSync(partial, path);
    console.log(`workflow bundle: ${path} (${(Buffer.byteLength(code) / 1024).toFixed(0)} KiB)`);
  }
}

main().catch((err: unknown) => {
  console.error(`bundle-workflows: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
