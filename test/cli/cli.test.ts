/**
 * The built CLI as a real child process against the dev server and the simulator: every operator
 * command, the exit codes, and one-line errors for bad input that start nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../support/built-cli';
import {
  callsFor,
  connectedStore,
  eventually,
  REGION,
  cliEnvironment,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
let cliEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  ensureBuilt();
  env = await startMaintenanceEnv();
  cliEnv = cliEnvironment(env);
});
afterAll(async () => env?.close());

const cli = (...args: string[]) => runCli(args, cliEnv);

async function phaseOf(storeId: string): Promise<string> {
  const run = await cli('status', storeId, '--json');
  expect(run.code).toBe(0);
  return (JSON.parse(run.stdout) as { phase: string }).phase;
}

describe('keystore-maint CLI', () => {
  it('start, status, extend, end-window and watch a run to COMPLETED (exit 0)', async () => {
    const id = await connectedStore(env.control);
    const started = await cli(
      'start',
      '--store',
      id,
      '--window',
      '2m',
      '--reason',
      'cli test',
      '--poll-interval',
      '200ms',
      '--confirm-settle',
      '1500ms',
    );
    expect(started.code).toBe(0);
    expect(started.stdout).toContain(`started keystore-maint/${REGION}/${id}`);
    await eventually(async () => (await phaseOf(id)) === 'IN_WINDOW', 'IN_WINDOW');

    const status = await cli('status', id);
    expect(status.stdout).toMatch(/IN_WINDOW · elapsed .* · window ends in/);
    expect(status.stdout).toContain('requested by cli-tester: cli test');

    const extended = await cli('extend', id, '--duration', '1m');
    expect(extended.code).toBe(0);
    expect(extended.stdout).toMatch(/window now ends at \d{4}-/);

    const tooLong = await cli('extend', id, '--duration', '30h');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/rejected: .*past maxWindow/);

    const ended = await cli('end-window', id);
    expect(ended.code).toBe(0);
    const watched = await cli('watch', id);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain('COMPLETED: maintenance of');
    // Not a terminal: plain lines, one per change.
    expect(watched.stdout.split('\n').filter((l) => l.includes(' · ')).length).toBeGreaterThan(0);

    const listed = await cli('list', '--store', id, '--json');
    const runs = JSON.parse(listed.stdout) as { workflowId: string; phase: string }[];
    expect(runs.map((r) => r.workflowId)).toContain(`keystore-maint/${REGION}/${id}`);
  });

  it('abort ends the run CANCELLED, and watch exits 3', async () => {
    const id = await connectedStore(env.control);
    expect(
      (
        await cli(
          'start',
          '--store',
          id,
          '--window',
          '5m',
          '--reason',
          'to abort',
          '--poll-interval',
          '200ms',
          '--confirm-settle',
          '1500ms',
        )
      ).code,
    ).toBe(0);
    await eventually(async () => (await phaseOf(id)) === 'IN_WINDOW', 'IN_WINDOW');
    const noReason = await cli('abort', id);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason is required');
    const aborted = await cli('abort', id, '--reason', 'change freeze');
    expect(aborted.code).toBe(0);
    const watched = await cli('watch', id);
    expect(watched.code).toBe(3);
    expect(watched.stdout).toMatch(/CANCELLED: .*aborted by cli-tester: change freeze/);
  });

  it('start --wait exits 5 when the store does not come back', async () => {
    const id = await connectedStore(env.control, 'EXTERNAL_KEY_STORE');
    await env.control.patchStore(id, {
      connectOutcome: { failWith: 'XKS_PROXY_INVALID_TLS_CONFIGURATION', times: 3 },
    });
    const run = await cli(
      'start',
      '--store',
      id,
      '--window',
      '1s',
      '--reason',
      'tls',
      '--poll-interval',
      '200ms',
      '--confirm-settle',
      '1500ms',
      '--wait',
    );
    expect(run.code).toBe(5);
    expect(run.stdout).toContain('NEEDS_ATTENTION');
    expect(run.stdout).toContain('ConnectionErrorCode XKS_PROXY_INVALID_TLS_CONFIGURATION');
  });

  it('schedule create, describe (next five times), trigger and delete', async () => {
    const id = await connectedStore(env.control);
    const scheduleId = `sched-${id.slice(-6)}`;
    const created = await cli(
      'schedule',
      'create',
      scheduleId,
      '--store',
      id,
      '--cron',
      '0 2 * * SUN',
      '--timezone',
      'Europe/Berlin',
      '--window',
      '1s',
      '--reason',
      'weekly patching',
      '--poll-interval',
      '200ms',
      '--confirm-settle',
      '1500ms',
      '--jitter',
      '5m',
    );
    expect(created.code).toBe(0);
    const described = await cli('schedule', 'describe', scheduleId, '--json');
    const view = JSON.parse(described.stdout) as {
      nextStartTimes: string[];
      customKeyStoreId: string;
      spec: { cron: string[] };
    };
    expect(view.nextStartTimes).toHaveLength(5);
    expect(view.customKeyStoreId).toBe(id);
    expect(view.spec.cron).toEqual(['0 2 * * SUN']);

    expect((await cli('schedule', 'trigger', scheduleId)).code).toBe(0);
    // The triggered run delegates to the store's canonical id and completes.
    const canonical = `keystore-maint/${REGION}/${id}`;
    await eventually(
      async () => {
        const run = await cli('list', '--store', id, '--json');
        const runs = JSON.parse(run.stdout) as { workflowId: string; phase: string }[];
        return runs.some((r) => r.workflowId === canonical && r.phase === 'COMPLETED');
      },
      'the triggered run to complete',
      60_000,
    );
    expect((await callsFor(env.control, id)).some((c) => c.operation === 'ConnectCustomKeyStore')).toBe(true);

    expect((await cli('schedule', 'delete', scheduleId)).code).toBe(0);
    const gone = await cli('schedule', 'describe', scheduleId);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`no schedule ${scheduleId}`);
  });

  describe('bad input: one line, exit 2 (or the documented code), nothing started', () => {
    it.each([
      [
        ['start', '--store', 'cks-0123456789abcdef0', '--window', '5 minutez', '--reason', 'x'],
        /"5 minutez" is not a duration/,
      ],
      [
        ['start', '--store', 'cks-0123456789abcdef0', '--window', '8d', '--reason', 'x'],
        /window\.duration: "8d" is longer than the maximum 7d/,
      ],
      [['start', '--store', 'cks-0123456789abcdef0', '--window', '1h'], /--reason is required/],
      [
        ['start', '--store', 'not-a-store', '--window', '1h', '--reason', 'x'],
        /customKeyStoreId: must be a custom key store id/,
      ],
      [
        [
          'schedule',
          'create',
          's1',
          '--store',
          'cks-0123456789abcdef0',
          '--cron',
          '0 2 * * *',
          '--calendar',
          '{}',
          '--window',
          '1h',
          '--reason',
          'x',
        ],
        /either --cron or --calendar, not both/,
      ],
      [['status', 'keystore-maint/us-east-1/cks-00000000000000000'], /no maintenance run found/],
      [
        [
          'start',
          '--store',
          'cks-0123456789abcdef0',
          '--window',
          '1h',
          '--reason',
          'x',
          '--drain',
          'alias',
          '--alias',
          'alias/a',
        ],
        /--drain alias needs --alias \(one or more\) and --fallback-key/,
      ],
      [
        [
          'start',
          '--store',
          'cks-0123456789abcdef0',
          '--window',
          '1h',
          '--reason',
          'x',
          '--drain',
          'webhook',
          '--webhook-controller',
          'Not A Name',
        ],
        /drain\.controller: must be a controller name/,
      ],
      [['frobnicate'], /unknown command/],
    ])('%j', async (args, message) => {
      const run = await cli(...args);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
    });

    it('an unknown store is refused before any run starts', async () => {
      const run = await cli('start', '--store', 'cks-00000000000000bad', '--window', '1h', '--reason', 'x');
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/unknown store cks-00000000000000bad/);
      const listed = await cli('list', '--store', 'cks-00000000000000bad', '--json');
      expect(JSON.parse(listed.stdout)).toEqual([]);
    });

    it('an unreachable Temporal address says where and how to fix it (exit 1)', async () => {
      const run = await runCli(['list'], { ...cliEnv, TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1.*TEMPORAL_ADDRESS/);
    });

    it('--help shows an example on every command', async () => {
      for (const command of [
        'start',
        'status',
        'watch',
        'list',
        'extend',
        'end-window',
        'approve',
        'abort',
        'worker',
        'sim',
        'dev-server',
        'demo',
      ]) {
        const run = await cli(command, '--help');
        expect(run.code, command).toBe(0);
        expect(run.stdout, command).toMatch(/Example/);
      }
    });
  });
});
