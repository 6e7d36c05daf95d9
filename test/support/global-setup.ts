/**
 * One real Temporal dev server for the whole test run (never a mock), shared with every test file
 * through `provide`/`inject`, and one prebuilt workflow bundle so that each file's worker starts
 * in milliseconds instead of bundling again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startDevServer } from '../../src/temporal/dev-server';
import { TRACING_WORKFLOW_MODULES, tracedBundlePath } from '../../src/tracing';
import { projectRoot } from '../../src/util/project-root';
import { writeReliabilityReport } from './reliability-report';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-test-'));
  const [server, bundle, traced] = await Promise.all([
    startDevServer({ uiPort: false, log: (m) => console.log(m) }),
    // The same two bundles as `npm run bundle`'s: plain, and with tracing's workflow
    // interceptors beside it (a worker with tracing on loads that one).
    bundleWorkflowCode({ workflowsPath: join(projectRoot(), 'workflows', 'index.ts'), logger: quietLogger }),
    bundleWorkflowCode({
      workflowsPath: join(projectRoot(), 'workflows', 'index.ts'),
      workflowInterceptorModules: [...TRACING_WORKFLOW_MODULES],
      logger: quietLogger,
    }),
  ]);
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  writeFileSync(tracedBundlePath(bundlePath), traced.code);
  console.log(`Temporal dev server (${server.source}) at ${server.address}, pid ${server.pid ?? 'n/a'}`);
  project.provide('temporalAddress', server.address);
  project.provide('temporalNamespace', server.namespace);
  project.provide('workflowBundlePath', bundlePath);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    // The matrix (npm test) and the scenarios (test:scenarios) both end here.
    console.log(writeReliabilityReport());
  };
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
