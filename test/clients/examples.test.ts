/**
 * The copy-paste examples of docs/contract.md (examples/), run as a reader would run them —
 * the Python SDK example, the Go SDK example and the `temporal` CLI scripts — against the real
 * dev server, a worker and the simulator. Each must exit 0, and the simulator must show the
 * maintenance really happened: one Disconnect, one Connect, the store CONNECTED.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { projectRoot } from '../../src/util/project-root';
import { groundTruth } from '../support/ground-truth';
import {
  connectedStore,
  eventually,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

const root = projectRoot();
const examples = join(root, 'examples');
const MAINTENANCE = ['DisconnectCustomKeyStore', 'ConnectCustomKeyStore'];

let env: MaintenanceEnv;
let python: string;
let temporalCli: string;
let scratch: string;
beforeAll(async () => {
  python =
    execFileSync('bash', [join(root, 'scripts', 'ensure-python-venv.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop() ?? '';
  const cli = await findTemporalCli({ allowSdkDownload: false });
  if (!('path' in cli)) throw new Error('the CLI examples need the temporal CLI: npm run temporal:ensure');
  temporalCli = cli.path;
  scratch = mkdtempSync(join(tmpdir(), 'keystore-maint-examples-'));
  env = await startMaintenanceEnv();
}, 300_000);
afterAll(async () => {
  await env?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

interface Ran {
  readonly code: number | null;
  readonly output: string;
}

function run(command: string, args: string[], storeId: string, cwd = root, extra: NodeJS.ProcessEnv = {}) {
  return new Promise<Ran>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.temporal.address,
        TEMPORAL_NAMESPACE: env.temporal.namespace,
        KEYSTORE_MAINT_TASK_QUEUE: env.taskQueue,
        TEMPORAL_CLI_PATH: temporalCli,
        STORE_ID: storeId,
        AWS_REGION: REGION,
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function expectMaintained(storeId: string): Promise<void> {
  const truth = await groundTruth(env.control, undefined, storeId, {});
  expect(truth.state).toBe('CONNECTED');
  expect(truth.accepted).toEqual(MAINTENANCE);
}

/** The pin the Python example tells readers to install is the one the tests install. */
function pinned(file: string): string | undefined {
  return /^temporalio==(\S+)/m.exec(readFileSync(file, 'utf8'))?.[1];
}

const goAvailable = (() => {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.concurrent('the examples in docs/contract.md', () => {
  it('Python: examples/python/maintenance_client.py', async () => {
    expect(pinned(join(examples, 'python', 'requirements.txt'))).toBe(
      pinned(join(root, 'test', 'clients', 'python', 'requirements.txt')),
    );
    const store = await connectedStore(env.control);
    const ran = await run(python, [join(examples, 'python', 'maintenance_client.py')], store);
    expect(ran.code, ran.output).toBe(0);
    expect(ran.output).toMatch(/second start refused/);
    expect(ran.output).toMatch(/extendWindow refused as expected/);
    expect(ran.output).toMatch(/OK: every step went as expected/);
    await expectMaintained(store);
  }, 240_000);

  it('temporal CLI: examples/cli/start.sh, then steer.sh', async () => {
    const store = await connectedStore(env.control);
    const started = await run('bash', [join(examples, 'cli', 'start.sh')], store);
    expect(started.code, started.output).toBe(0);
    expect(started.output).toMatch(/second start refused as expected/);
    const steered = await run('bash', [join(examples, 'cli', 'steer.sh')], store);
    expect(steered.code, steered.output).toBe(0);
    expect(steered.output).toMatch(/extendWindow refused as expected/);
    expect(steered.output).toMatch(/the run ended COMPLETED/);
    await expectMaintained(store);
  }, 240_000);

  it('temporal CLI: examples/cli/schedule.sh creates a schedule whose run maintains the store', async () => {
    const store = await connectedStore(env.control);
    const scheduleId = `example-${store}`;
    const created = await run('bash', [join(examples, 'cli', 'schedule.sh')], store, root, {
      SCHEDULE_ID: scheduleId,
    });
    expect(created.code, created.output).toBe(0);
    const schedule = env.temporal.client.schedule.getHandle(scheduleId);
    try {
      // Not waiting for the first Sunday: trigger it, as an operator would to rehearse.
      await schedule.trigger();
      const canonical = env.temporal.client.workflow.getHandle(`keystore-maint/${REGION}/${store}`);
      await eventually(
        async () => {
          // The scheduled run starts the canonical one a moment after the trigger.
          const status = await canonical.query<{ phase: string }>('status').catch(() => undefined);
          return status?.phase === 'IN_WINDOW';
        },
        'the scheduled run IN_WINDOW',
        120_000,
      );
      await canonical.executeUpdate('endWindowNow', { args: [{ by: 'schedule-test' }] });
      expect(await canonical.result()).toMatchObject({ outcome: 'COMPLETED', trafficRestored: true });
      await expectMaintained(store);
    } finally {
      await schedule.delete().catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
    }
  }, 240_000);

  // CI always has Go (it builds the Temporal CLI); a developer without it is told, not failed.
  it.skipIf(!goAvailable && !process.env.CI)(
    'Go: examples/go',
    async () => {
      const binary = join(scratch, 'keystore-maint-go-example');
      const built = await run('go', ['build', '-o', binary, '.'], '', join(examples, 'go'));
      expect(built.code, built.output).toBe(0);
      const store = await connectedStore(env.control);
      const ran = await run(binary, [], store);
      expect(ran.code, ran.output).toBe(0);
      await expectMaintained(store);
    },
    300_000,
  );
});
