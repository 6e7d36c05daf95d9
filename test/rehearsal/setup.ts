/**
 * Global setup of the rehearsal suite: the cluster from scripts/production-rehearsal.sh
 * (`server`: PostgreSQL, the schemas, the Temporal server, the namespace and search attributes)
 * and the built package (`npm run build`: dist/ and both workflow bundles), as production has them.
 * Teardown stops the server and PostgreSQL (`down`).
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { projectRoot } from '../../src/util/project-root';

declare module 'vitest' {
  export interface ProvidedContext {
    rehearsalAddress: string;
    rehearsalNamespace: string;
    rehearsalDir: string;
  }
}

function script(command: string): string {
  return execFileSync('bash', ['scripts/production-rehearsal.sh', command], {
    cwd: projectRoot(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 20 * 60_000,
  });
}

export default function setup(project: TestProject): () => void {
  const started = Date.now();
  const settings = Object.fromEntries(
    script('server')
      .trim()
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  execFileSync('npm', ['run', '-s', 'build'], { cwd: projectRoot(), stdio: 'inherit', timeout: 10 * 60_000 });
  console.log(
    `rehearsal cluster at ${settings.TEMPORAL_ADDRESS}, namespace ${settings.TEMPORAL_NAMESPACE}, ready in ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  project.provide('rehearsalAddress', settings.TEMPORAL_ADDRESS ?? '');
  project.provide('rehearsalNamespace', settings.TEMPORAL_NAMESPACE ?? '');
  project.provide('rehearsalDir', settings.KEYSTORE_MAINT_REHEARSAL_DIR ?? '');
  return () => {
    script('down');
  };
}
