/**
 * The infrastructure around a run restarts while it runs: the Temporal dev server (persisting to
 * a sqlite file) during the window, and the KMS simulator (with its state file) while the run
 * waits for CONNECTED. The run must continue and complete.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startKmsSimulator } from '../../src/sim';
import { startDevServer } from '../../src/temporal/dev-server';
import { freePort } from '../../src/temporal/free-port';
import { scenario } from './report';
import { checkRun, HAPPY_ACCEPTED, scenarioWorld, waitForPhase } from './support';
import { DEFAULT_CONSISTENCY_LAG_MS } from '../support/maintenance-env';

describe('infrastructure restart', () => {
  it.concurrent('Temporal dev server restarted during the window', async () => {
    await scenario(
      'infrastructure restart',
      'Temporal dev server (sqlite file) stopped for 3 s during IN_WINDOW and restarted',
      'the run continues after the restart and completes; store CONNECTED; aliases restored',
      async () => {
        const dbFile = join(mkdtempSync(join(tmpdir(), 'scenario-temporal-')), 'temporal.sqlite');
        const port = await freePort();
        let server = await startDevServer({ port, uiPort: false, dbFile });
        const world = await scenarioWorld({ temporalAddress: server.address });
        try {
          await world.startWorker();
          await world.client.start(world.request({ window: { duration: '8s' } }));
          await waitForPhase(world, 'IN_WINDOW');
          await server.stop();
          await new Promise((r) => setTimeout(r, 3_000));
          server = await startDevServer({ port, uiPort: false, dbFile });
          const result = await world.client.result(world.storeId);
          return `${await checkRun(world, result, {
            outcome: 'COMPLETED',
            storeState: 'CONNECTED',
            aliasesRestored: true,
            accepted: HAPPY_ACCEPTED,
          })}; server down 3 s`;
        } finally {
          await world.close();
          await server.stop();
        }
      },
    );
  });

  it.concurrent('KMS simulator restarted while the run waits for CONNECTED', async () => {
    await scenario(
      'infrastructure restart',
      'KMS simulator (state file) stopped for 2 s during WAITING_CONNECTED and restarted',
      'polls fail with connection errors, are absorbed, and the run completes from the persisted state',
      async () => {
        const stateFile = join(mkdtempSync(join(tmpdir(), 'scenario-sim-')), 'state.json');
        const port = await freePort();
        const world = await scenarioWorld({ sim: { port, stateFile }, store: { connectDelayMs: 4_000 } });
        let sim = world.sim;
        try {
          await world.startWorker();
          await world.client.start(world.request());
          await waitForPhase(world, 'WAITING_CONNECTED');
          await sim.stop();
          await new Promise((r) => setTimeout(r, 2_000));
          sim = await startKmsSimulator({
            port,
            stateFile,
            region: 'us-east-1',
            connectDelayMs: 300,
            disconnectDelayMs: 200,
            consistencyLagMs: DEFAULT_CONSISTENCY_LAG_MS,
            quotaRps: 0,
          });
          const result = await world.client.result(world.storeId);
          const waits = result.events.filter((e) => e.action === 'wait.completed');
          const absorbed = waits.reduce((n, e) => n + Number(e.detail.transientErrors ?? 0), 0);
          expect(absorbed).toBeGreaterThan(0);
          // The restarted simulator's call log starts empty: only the restore's calls are in it.
          const checked = await checkRun(world, result, {
            outcome: 'COMPLETED',
            storeState: 'CONNECTED',
            aliasesRestored: true,
            accepted: { UpdateAlias: 2 },
          });
          return `${checked} (since the restart); ${absorbed} failed polls absorbed while it was down`;
        } finally {
          await world.close().catch(() => undefined);
          await sim.stop();
        }
      },
    );
  });
});
