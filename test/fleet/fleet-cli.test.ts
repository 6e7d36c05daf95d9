/** `keystore-maint fleet start|status|abort`: the built CLI as a child process, as operators run it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetResult, FleetStatus } from '../../src/domain/fleet';
import { ensureBuilt, runCli } from '../support/built-cli';
import {
  connectedStore,
  REGION,
  cliEnvironment,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { fleetClient, fleetStatusWhen, uniqueFleetName } from './support';

let env: MaintenanceEnv;
let cliEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  ensureBuilt();
  env = await startMaintenanceEnv();
  cliEnv = cliEnvironment(env);
});
afterAll(async () => env?.close());

const cli = (...args: string[]) => runCli(args, cliEnv);

describe('keystore-maint fleet', () => {
  it('start --wait runs every store and exits 0; status lists each store', async () => {
    const a = await connectedStore(env.control);
    const b = await connectedStore(env.control);
    const name = uniqueFleetName();
    const run = await cli(
      'fleet',
      'start',
      '--store',
      `${a},${b}`,
      '--window',
      '1s',
      '--poll-interval',
      '200ms',
      '--confirm-settle',
      '1500ms',
      '--max-concurrency',
      '2',
      '--reason',
      'cli fleet test',
      '--id',
      name,
      '--wait',
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as FleetResult;
    expect(result.outcome).toBe('COMPLETED');
    expect(result.requestedBy).toBe('cli-tester');
    expect(result.stores.map((s) => s.customKeyStoreId)).toEqual([a, b]);

    const status = await cli('fleet', 'status', `keystore-maint-fleet/${REGION}/${name}`);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('COMPLETED: 2 completed, 0 not completed');
    expect(status.stdout).toContain(`${a}`);
  });

  it('abort stops a running fleet; a bad request is a usage error (exit 2) that starts nothing', async () => {
    const ids = [await connectedStore(env.control), await connectedStore(env.control)];
    const name = uniqueFleetName();
    const started = await cli(
      'fleet',
      'start',
      '--store',
      ids[0] ?? '',
      '--store',
      ids[1] ?? '',
      '--window',
      '5m',
      '--poll-interval',
      '200ms',
      '--confirm-settle',
      '1500ms',
      '--reason',
      'cli abort test',
      '--id',
      name,
    );
    expect(started.code).toBe(0);
    const workflowId = `keystore-maint-fleet/${REGION}/${name}`;
    expect(started.stdout).toContain(`started fleet ${workflowId}`);
    await fleetStatusWhen(
      fleetClient(env),
      workflowId,
      (s: FleetStatus) => s.counts.running === 1,
      'one running',
    );

    const aborted = await cli('fleet', 'abort', workflowId, '--reason', 'change freeze');
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(
      /abort accepted: 1 run\(s\) under way are being cancelled.*1 store\(s\) will not be started/,
    );
    const result = await fleetClient(env).result(workflowId);
    expect(result.outcome).toBe('ABORTED');
    expect(result.abort).toMatchObject({ by: 'cli-tester', reason: 'change freeze' });

    const noReason = await cli('fleet', 'abort', workflowId);
    expect(noReason.code).toBe(2);
    const bad = await cli(
      'fleet',
      'start',
      '--name-pattern',
      'x*',
      '--window',
      '1s',
      '--reason',
      'r',
      '--max-concurrency',
      '0',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/maxConcurrency/);
  });
});
