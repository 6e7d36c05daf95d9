/**
 * Bad input at every entrance — the CLI, the typed client, and a raw `temporal workflow start`
 * with hand-written JSON that bypasses both — is refused before any KMS call that changes
 * anything, with a message naming the field.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { InvalidMaintenanceRequestError } from '../../src/client';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { ensureBuilt, runCli } from '../support/built-cli';
import { MUTATING_OPERATIONS, REGION } from '../support/maintenance-env';
import { scenario } from './report';
import { scenarioWorld, type ScenarioWorld } from './support';

const execFileAsync = promisify(execFile);

async function noMutations(world: ScenarioWorld): Promise<number> {
  const calls = (await world.control.calls()).filter(
    (c) =>
      MUTATING_OPERATIONS.has(c.operation) &&
      c.operation !== 'CreateAlias' &&
      JSON.stringify(c.params).includes(world.storeId),
  );
  expect(calls).toEqual([]);
  return calls.length;
}

describe('bad input', () => {
  it.concurrent('CLI', async () => {
    await scenario(
      'bad input',
      'CLI: start with a window over the 7-day limit and a malformed canary key id',
      'exit 2, message names the fields, no run started, no KMS change',
      async () => {
        ensureBuilt();
        const world = await scenarioWorld();
        try {
          const run = await runCli(
            [
              'start',
              '--store',
              world.storeId,
              '--window',
              '8d',
              '--reason',
              'x',
              '--canary-key',
              'not-a-key',
            ],
            {
              TEMPORAL_ADDRESS: inject('temporalAddress'),
              KEYSTORE_MAINT_TASK_QUEUE: world.taskQueue,
              AWS_REGION: REGION,
            },
          );
          expect(run.code).toBe(2);
          expect(run.stderr).toMatch(/window\.duration: "8d" is longer than the maximum 7d/);
          expect(run.stderr).toMatch(/canaryKeyId: must be a key id/);
          expect(await world.client.list({ customKeyStoreId: world.storeId })).toEqual([]);
          await noMutations(world);
          return 'exit 2; window.duration and canaryKeyId named; no run, no KMS change';
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('client', async () => {
    await scenario(
      'bad input',
      'typed client: start with maxWindow over 7 days and no requestedBy',
      'InvalidMaintenanceRequestError naming each field; nothing started',
      async () => {
        const world = await scenarioWorld();
        try {
          const error = await world.client
            .start({ ...world.request(), maxWindow: '30d', requestedBy: '' })
            .catch((err: unknown) => err);
          expect(error).toBeInstanceOf(InvalidMaintenanceRequestError);
          const problems = (error as InvalidMaintenanceRequestError).problems;
          expect(problems).toEqual(
            expect.arrayContaining([
              expect.stringMatching(/^maxWindow: "30d" is longer than the maximum 7d/),
              expect.stringMatching(/^requestedBy: must not be empty/),
            ]),
          );
          expect(await world.client.list({ customKeyStoreId: world.storeId })).toEqual([]);
          await noMutations(world);
          return `InvalidMaintenanceRequestError: ${problems.join('; ')}; nothing started`;
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('raw temporal workflow start', async () => {
    await scenario(
      'bad input',
      'raw `temporal workflow start` with hand-written JSON (bad window, unknown field)',
      'the workflow fails at once with InvalidMaintenanceRequest naming the fields; no KMS call at all',
      async () => {
        const world = await scenarioWorld();
        try {
          await world.startWorker();
          const cli = await findTemporalCli({ allowSdkDownload: false });
          if (cli.source === 'sdk-download') throw new Error('no temporal CLI binary');
          const workflowId = `keystore-maint/${REGION}/${world.storeId}`;
          const common = ['--address', inject('temporalAddress'), '--namespace', inject('temporalNamespace')];
          await execFileAsync(cli.path, [
            'workflow',
            'start',
            ...common,
            '--type',
            'keyStoreMaintenance',
            '--task-queue',
            world.taskQueue,
            '--workflow-id',
            workflowId,
            '--input',
            JSON.stringify({
              customKeyStoreId: world.storeId,
              window: { duration: '90' },
              reason: 'x',
              requestedBy: 'y',
              colour: 'blue',
            }),
          ]);
          const result = await execFileAsync(cli.path, [
            'workflow',
            'result',
            ...common,
            '--workflow-id',
            workflowId,
          ]).then(
            (r) => r.stdout,
            (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
          );
          expect(result).toMatch(/window\.duration: "90" is not a duration/);
          expect(result).toMatch(/unknown field\(s\) "colour"/);
          const calls = (await world.control.calls()).filter((c) =>
            JSON.stringify(c.params).includes(world.storeId),
          );
          expect(calls.filter((c) => c.operation !== 'CreateKey' && c.operation !== 'CreateAlias')).toEqual(
            [],
          );
          return 'failed with InvalidMaintenanceRequest naming window.duration and "colour"; no KMS call';
        } finally {
          await world.close();
        }
      },
    );
  });
});
