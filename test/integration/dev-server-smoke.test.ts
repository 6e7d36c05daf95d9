/** The foundation: a real Worker runs real workflows on the real dev server started by globalSetup. */
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../src/domain/names';
import { connectTestTemporal, uniqueName, type TestTemporal } from '../support/temporal';

describe('Temporal dev server smoke test', () => {
  let temporal: TestTemporal;
  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });
  afterAll(async () => temporal.close());

  async function withWorker<T>(taskQueue: string, fn: () => Promise<T>): Promise<T> {
    const worker = await Worker.create({
      connection: temporal.nativeConnection,
      namespace: temporal.namespace,
      taskQueue,
      workflowsPath: join(__dirname, '..', 'fixtures', 'smoke-workflows.ts'),
      activities: { greet: (name: string) => Promise.resolve(`hello ${name}`) },
    });
    return worker.runUntil(fn);
  }

  it('runs a workflow and an activity on a real worker', async () => {
    const taskQueue = uniqueName('smoke');
    const result = await withWorker(taskQueue, () =>
      temporal.client.workflow.execute<(name: string) => Promise<string>>('smokeGreeting', {
        taskQueue,
        workflowId: uniqueName('smoke-greeting'),
        args: ['keystore-maint'],
      }),
    );
    expect(result).toBe('hello keystore-maint from smokeGreeting');
  });

  it('finds a run by the search attributes it upserted', async () => {
    const taskQueue = uniqueName('smoke-sa');
    const storeId = `cks-${Date.now().toString(16).padStart(17, '0').slice(-17)}`;
    const workflowId = uniqueName('smoke-search');
    await withWorker(taskQueue, () =>
      temporal.client.workflow.execute('smokeSearchAttributes', { taskQueue, workflowId, args: [storeId] }),
    );
    const query = `${SEARCH_ATTRIBUTES.customKeyStoreId.name} = '${storeId}' AND ${SEARCH_ATTRIBUTES.phase.name} = 'PREFLIGHT'`;
    // Visibility is eventually consistent: wait on the observable state, bounded.
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const wf of temporal.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(found).toEqual([workflowId]);
  });
});
