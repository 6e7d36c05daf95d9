/**
 * keystore-maint on a production-shaped Temporal cluster (PostgreSQL persistence, SQL visibility),
 * with two worker replicas started from the built package: a maintenance and a fleet complete
 * within the shared KMS budget, a schedule fires, a worker killed mid-run is replaced by the other,
 * and the Temporal server restarted mid-window loses nothing. The simulator's state and call log
 * are the judge, never a run's own report.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceRequest } from '../../src/domain/request';
import type { MaintenanceStatus } from '../../src/domain/status';
import { MaintenanceClient } from '../../src/client';
import { FleetClient } from '../../src/fleet-client';
import { createMaintenanceSchedule } from '../../src/schedules';
import { projectRoot } from '../../src/util/project-root';
import { customKeyStoreCalls, fleetRequest, peakPerOperation, uniqueFleetName } from '../fleet/support';
import { callsFor, eventually, mutatingAccepted } from '../support/maintenance-env';
import {
  REGION,
  connectCluster,
  expectWentDownOnce,
  rehearsalRequest,
  rehearsalStore,
  startSim,
  startWorker,
  uniqueQueue,
  type Cluster,
  type Sim,
  type WorkerProcess,
} from './support';

let cluster: Cluster;
let sim: Sim;
let taskQueue: string;
let maintenance: MaintenanceClient;
const workers: WorkerProcess[] = [];

function request(store: string, window = '1s'): MaintenanceRequest {
  return rehearsalRequest(store, window);
}

function store(prefix = 'reh'): Promise<string> {
  return rehearsalStore(sim, prefix);
}

async function phaseOf(id: string): Promise<MaintenanceStatus['phase'] | undefined> {
  try {
    return (await maintenance.getStatus(id)).phase;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  cluster = await connectCluster();
  sim = await startSim();
  taskQueue = uniqueQueue('rehearsal');
  maintenance = new MaintenanceClient(cluster.client, taskQueue, REGION);
  for (const name of ['replica-1', 'replica-2']) workers.push(await startWorker({ name, taskQueue, sim }));
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  await sim?.stop();
  await cluster?.close();
});

describe('the rehearsal cluster', () => {
  it('completes a maintenance and a fleet, both replicas within one KMS budget', async () => {
    const one = await store();
    await maintenance.start(request(one));
    const result = await maintenance.result(one);
    expect(result.outcome).toBe('COMPLETED');
    await expectWentDownOnce(sim.control, one);
    // SQL visibility: the run is found by the project's search attributes.
    const listed = [];
    for await (const run of cluster.client.workflow.list({
      query: `KmsCustomKeyStoreId = '${one}' AND MaintenancePhase = 'COMPLETED'`,
    }))
      listed.push(run.workflowId);
    expect(listed).toEqual([result.workflowId]);

    const prefix = `fleet${randomUUID().slice(0, 4)}`;
    const stores = [];
    for (let i = 0; i < 10; i++) stores.push(await store(prefix));
    await sim.control.clearCalls();
    const fleets = new FleetClient(cluster.client, taskQueue, REGION);
    const { workflowId } = await fleets.start(
      fleetRequest({
        locations: [{ accounts: ['111122223333'], regions: [REGION], namePattern: `${prefix}-*` }],
        maxConcurrency: 10,
      }),
      { name: uniqueFleetName() },
    );
    const fleet = await fleets.result(workflowId);
    expect(fleet.outcome).toBe('COMPLETED');
    expect(fleet.counts.completed).toBe(10);
    for (const id of stores) expect((await sim.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const calls = customKeyStoreCalls(await sim.control.calls());
    expect(calls.filter((c) => c.outcome === 'ThrottlingException')).toEqual([]);
    for (const [key, peak] of peakPerOperation(calls)) expect(peak, key).toBeLessThanOrEqual(4);
    expect(mutatingAccepted(calls)).toHaveLength(20);
    for (const w of workers) expect(w.child.exitCode, w.name).toBeNull();
  });

  it('a schedule fires and its run completes', async () => {
    const id = await store();
    const scheduleId = `rehearsal-${randomUUID().slice(0, 8)}`;
    await createMaintenanceSchedule(cluster.client, {
      scheduleId,
      // A schedule fires without a client's default Region: the request carries it.
      request: { ...request(id), region: REGION },
      // Every 10 seconds, so the test sees it fire without a trigger.
      calendar: {
        second: { start: 0, end: 59, step: 10 },
        minute: { start: 0, end: 59 },
        hour: { start: 0, end: 23 },
      },
      taskQueue,
    });
    try {
      await eventually(
        async () =>
          mutatingAccepted(await callsFor(sim.control, id)).length === 2 &&
          (await phaseOf(id)) === 'COMPLETED',
        'the scheduled run to disconnect, reconnect and complete',
        120_000,
      );
      expect((await sim.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    } finally {
      await cluster.client.schedule.getHandle(scheduleId).delete();
    }
  });

  it('one replica killed mid-run: the other finishes the run', async () => {
    const id = await store();
    await maintenance.start(request(id, '8s'));
    await eventually(async () => (await phaseOf(id)) === 'IN_WINDOW', 'IN_WINDOW', 60_000);
    const victim = workers.shift();
    await victim?.kill('SIGKILL');
    const result = await maintenance.result(id);
    expect(result.outcome).toBe('COMPLETED');
    await expectWentDownOnce(sim.control, id);
    // Back to two replicas for what follows.
    workers.push(await startWorker({ name: 'replica-3', taskQueue, sim }));
  });

  it('the Temporal server restarted mid-window: the run completes', async () => {
    const id = await store();
    await maintenance.start(request(id, '10s'));
    await eventually(async () => (await phaseOf(id)) === 'IN_WINDOW', 'IN_WINDOW', 60_000);
    execFileSync('bash', ['scripts/production-rehearsal.sh', 'restart-server'], {
      cwd: projectRoot(),
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 120_000,
    });
    const result = await eventually(
      async () => {
        try {
          return await maintenance.result(id);
        } catch {
          return undefined;
        }
      },
      'the run to end after the restart',
      180_000,
    );
    expect(result.outcome).toBe('COMPLETED');
    await expectWentDownOnce(sim.control, id);
    for (const w of workers) expect(w.child.exitCode, w.name).toBeNull();
  });
});
