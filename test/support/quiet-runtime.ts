/**
 * Worker logs at WARN and above only: activity retries under injected faults are expected in
 * these tests and would bury the test report. Failures still show through the assertions.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed in this process by an earlier test file.
}
