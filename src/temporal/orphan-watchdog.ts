/**
 * A tiny detached process that ends a child process group once the process that started it is
 * gone. Node cannot ask Linux to signal a child when its parent dies (PR_SET_PDEATHSIG), and a
 * test runner killed with SIGKILL runs no exit handler; without this, a `temporal` dev server
 * would outlive an interrupted test run.
 *
 * Usage (internal): node orphan-watchdog.js <ownerPid> <childPgid>
 */
import { spawn } from 'node:child_process';

const WATCHDOG_SOURCE = `
const [owner, group] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const timer = setInterval(() => {
  if (!alive(group)) { clearInterval(timer); process.exit(0); }
  if (!alive(owner)) {
    try { process.kill(-group, 'SIGTERM'); } catch {}
    setTimeout(() => { try { process.kill(-group, 'SIGKILL'); } catch {} process.exit(0); }, 5000);
    clearInterval(timer);
  }
}, 500);
`;

/** Starts the watchdog; returns a function that stops it (when the child is stopped normally). */
export function watchForOrphan(childPgid: number, ownerPid: number = process.pid): () => void {
  const watchdog = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(ownerPid), String(childPgid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  return () => {
    if (watchdog.pid !== undefined && watchdog.exitCode === null) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
}
