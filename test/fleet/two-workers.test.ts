/**
 * The KMS budget per (account, Region, operation) holds for two worker processes together: each
 * takes half of it (`KEYSTORE_MAINT_KMS_WORKERS=2`). Twenty stores in two account-Regions (one
 * the workers' own, one through an assumed role) are started at once, against KMS's real quota of
 * 5 per second per operation; the simulator's call log is the judge.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetClient } from '../../src/fleet-client';
import {
  mutatingAccepted,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { uniqueName } from '../support/temporal';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { customKeyStoreCalls, fleetRequest, peakPerOperation, uniqueFleetName } from './support';

const WORKER_ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '333300000001';
const ROLE = 'KeystoreMaintExecution';

let env: MaintenanceEnv;
const workers: WorkerProcess[] = [];
beforeAll(async () => {
  env = await startMaintenanceEnv({ quotaRps: 5, storeLimit: 10 });
  await env.control.createRole({ Account: OTHER_ACCOUNT, RoleName: ROLE, TrustedAccounts: [WORKER_ACCOUNT] });
});
afterAll(async () => {
  for (const w of workers) await w.kill();
  await env?.close();
});

describe('two worker processes', () => {
  it('keep every (account, Region, operation) within the budget together: no throttling', async () => {
    const own: string[] = [];
    const other: string[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [account, list] of [
        [WORKER_ACCOUNT, own],
        [OTHER_ACCOUNT, other],
      ] as const) {
        const store = await env.control.createStore({
          Account: account,
          CustomKeyStoreType: 'AWS_CLOUDHSM',
          CustomKeyStoreName: `two-${randomUUID().slice(0, 8)}`,
          ConnectionState: 'CONNECTED',
        });
        list.push(store.CustomKeyStoreId);
      }
    }
    const taskQueue = uniqueName('two-workers');
    const auditDir = mkdtempSync(join(tmpdir(), 'two-workers-'));
    for (const n of [1, 2]) {
      workers.push(
        await startWorkerProcess({
          KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
          AWS_ENDPOINT_URL_KMS: env.sim.url,
          AWS_REGION: REGION,
          // One trail for both, as replicas share one (a run's batches may land through either).
          KEYSTORE_MAINT_AUDIT_FILE: join(auditDir, 'audit.jsonl'),
          WORKER_NUMBER: String(n),
          KEYSTORE_MAINT_KMS_BUDGET_RPS: '4',
          KEYSTORE_MAINT_KMS_WORKERS: '2',
        }),
      );
    }
    await env.control.clearCalls();
    const client = new FleetClient(env.temporal.client, taskQueue, REGION);
    const { workflowId } = await client.start(
      fleetRequest({
        locations: [
          { accounts: [WORKER_ACCOUNT], regions: [REGION], namePattern: 'two-*' },
          { accounts: [OTHER_ACCOUNT], regions: [REGION], executionRole: ROLE, namePattern: 'two-*' },
        ],
        maxConcurrency: 20,
      }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.counts.completed).toBe(20);

    const calls = customKeyStoreCalls(await env.control.calls());
    expect(calls.filter((c) => c.outcome === 'ThrottlingException')).toEqual([]);
    const peaks = peakPerOperation(calls);
    for (const [key, peak] of peaks) expect(peak, key).toBeLessThanOrEqual(4);
    // Both account-Regions were busy at once, and the budget was under pressure, not idle.
    expect(peaks.get(`${WORKER_ACCOUNT}/${REGION}/DescribeCustomKeyStores`)).toBeGreaterThanOrEqual(3);
    expect(peaks.get(`${OTHER_ACCOUNT}/${REGION}/DescribeCustomKeyStores`)).toBeGreaterThanOrEqual(3);
    expect(mutatingAccepted(calls)).toHaveLength(40);
    // Both processes did work.
    for (const w of workers) expect(w.child.exitCode).toBeNull();
    for (const id of [...own, ...other])
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  });
});
