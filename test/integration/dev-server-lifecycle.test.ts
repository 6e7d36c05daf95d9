/** The dev server never outlives its owner, and a missing binary is explained, not guessed at. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTemporalCli, TemporalCliNotFoundError } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { projectRoot } from '../../src/util/project-root';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return predicate();
}

describe('dev server lifecycle', () => {
  it('stop() ends the server process', async () => {
    const server = await startDevServer({ uiPort: false });
    expect(server.pid).toBeDefined();
    const pid = server.pid ?? 0;
    expect(alive(pid)).toBe(true);
    await server.stop();
    expect(await until(() => !alive(pid), 10_000)).toBe(true);
  });

  it('a server whose owner is killed with SIGKILL is stopped by the watchdog', async () => {
    const root = projectRoot();
    const child = spawn(
      process.execPath,
      // `--import tsx` keeps it one process: the tsx CLI would put a second node in between.
      ['--import', 'tsx', join(root, 'test', 'fixtures', 'start-dev-server-then-hang.ts')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const serverPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /SERVER_PID=(\d+)/.exec(out);
        if (match?.[1]) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`the owner exited early (${code})`)));
    });
    expect(alive(serverPid)).toBe(true);
    child.kill('SIGKILL');
    expect(await until(() => !alive(serverPid), 20_000)).toBe(true);
  });

  it('a fixed port that is taken is refused with a clear message', async () => {
    const first = await startDevServer({ uiPort: false });
    try {
      const port = Number(first.address.split(':')[1]);
      await expect(startDevServer({ uiPort: false, port })).rejects.toThrow(
        new RegExp(`port ${port} is already in use; choose another port`),
      );
    } finally {
      await first.stop();
    }
  });

  it('with no binary, no Go and no download allowed, the error lists every source and the fixes', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'no-temporal-'));
    const attempt = findTemporalCli({ env: { PATH: empty }, cacheDir: empty, allowSdkDownload: false });
    await expect(attempt).rejects.toBeInstanceOf(TemporalCliNotFoundError);
    const message = await attempt.catch((err: Error) => err.message);
    expect(message).toMatch(/TEMPORAL_CLI_PATH: not set/);
    expect(message).toMatch(/PATH: no executable `temporal` on PATH/);
    expect(message).toMatch(/cache: .* does not exist/);
    expect(message).toMatch(/go-install: Go is not installed/);
    expect(message).toMatch(/install the Temporal CLI/);
    expect(message).toMatch(/set TEMPORAL_CLI_PATH/);
    expect(message).toMatch(/install Go/);
  });

  it('an explicit TEMPORAL_CLI_PATH that does not exist is an error, not silently skipped', async () => {
    await expect(findTemporalCli({ env: { TEMPORAL_CLI_PATH: '/nonexistent/temporal' } })).rejects.toThrow(
      /TEMPORAL_CLI_PATH: \/nonexistent\/temporal does not exist/,
    );
  });
});
