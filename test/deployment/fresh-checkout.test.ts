/**
 * A newcomer's first command: `npm install`, then the package's own command, before any build.
 * The checkout is the repository's tracked files only (no dist/), with the installed packages.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/project-root';

const root = projectRoot();
let checkout: string;

beforeAll(() => {
  checkout = join(mkdtempSync(join(tmpdir(), 'fresh-checkout-')), 'keystore-maint');
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of tracked) {
    mkdirSync(join(checkout, dirname(file)), { recursive: true });
    cpSync(join(root, file), join(checkout, file));
  }
});
afterAll(() => rmSync(dirname(checkout), { recursive: true, force: true }));

function run(command: string, args: string[]) {
  return spawnSync(command, args, {
    cwd: checkout,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
}

describe('a fresh checkout', () => {
  it('has no build', () => {
    expect(run('ls', ['dist']).status).not.toBe(0);
  });

  it('without its packages says to run npm install, instead of a module-not-found stack trace', () => {
    const result = run(process.execPath, ['bin/keystore-maint.js', '--help']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('run `npm install`');
    expect(result.stderr).not.toContain('Cannot find module');
  });

  it('after npm install, `node bin/keystore-maint.js --help` and `npx keystore-maint --help` list the commands', () => {
    symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    for (const [command, args] of [
      [process.execPath, ['bin/keystore-maint.js', '--help']],
      ['npx', ['--no-install', 'keystore-maint', '--help']],
    ] as const) {
      const result = run(command, [...args]);
      expect(result.status, result.stderr).toBe(0);
      for (const name of ['worker', 'start', 'status', 'abort', 'audit', 'fleet', 'schedule']) {
        expect(result.stdout).toMatch(new RegExp(`^\\s+${name}\\b`, 'm'));
      }
    }
  });
});
