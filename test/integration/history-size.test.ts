/**
 * The history of a run must not grow with the window's length or with how long KMS takes to
 * connect: waiting happens in heartbeating activities and one durable timer.
 *
 * What is compared is the run's own record — every history event except the workflow-task
 * bookkeeping (WorkflowTaskScheduled/Started/Completed). Audit batches are written in the
 * background, so whether a batch's completion shares a workflow task with the next step depends
 * on timing by design; that adds or saves three bookkeeping events per batch, never per second
 * of window or per poll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** temporal.api.enums.v1.EventType: WORKFLOW_TASK_SCHEDULED, _STARTED, _COMPLETED. */
const WORKFLOW_TASK_BOOKKEEPING = new Set([5, 6, 7]);
import {
  connectedStore,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
beforeAll(async () => {
  env = await startMaintenanceEnv();
});
afterAll(async () => env?.close());

async function historyLength(
  window: string,
  connectDelayMs: number,
): Promise<{ events: number; polls: number }> {
  const id = await connectedStore(env.control, 'AWS_CLOUDHSM', { connectDelayMs });
  const handle = await env.start({
    customKeyStoreId: id,
    window: { duration: window },
    pollInterval: '250ms',
  });
  const result = await outcomeOf(handle);
  expect(result.outcome).toBe('COMPLETED');
  const history = await handle.fetchHistory();
  const own = (history.events ?? []).filter((e) => !WORKFLOW_TASK_BOOKKEEPING.has(Number(e.eventType)));
  const polls = result.events
    .filter((e) => e.action === 'wait.completed')
    .reduce((sum, e) => sum + Number(e.detail.polls), 0);
  return { events: own.length, polls };
}

describe('history size', () => {
  it('is the same for a 2 s and a 20 s window, and for a 1 s and a 10 s connect delay', async () => {
    const [shortWindow, longWindow, fastConnect, slowConnect] = await Promise.all([
      historyLength('2s', 1_000),
      historyLength('20s', 1_000),
      historyLength('2s', 1_000),
      historyLength('2s', 10_000),
    ]);
    expect(longWindow.events).toBe(shortWindow.events);
    expect(slowConnect.events).toBe(fastConnect.events);
    // The slow connect really did poll many more times, inside the one waiting activity.
    expect(slowConnect.polls).toBeGreaterThan(fastConnect.polls + 5);
  });
});
