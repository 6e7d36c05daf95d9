/**
 * Records the event histories of finished runs into test/histories/<generation>/, for the replay
 * test. A generation is the workflow code that recorded it; histories of older generations are
 * never re-recorded — the point of the replay test is that they still replay against the current
 * code (the `patched()` guards in workflows/patches.ts keep them deterministic).
 *
 *   npx tsx scripts/record-histories.ts                 # lists the cases
 *   npx tsx scripts/record-histories.ts <case> ...      # records them into the current generation
 *   npx tsx scripts/record-histories.ts all
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { WORKFLOW_TYPES } from '../src/domain/names';
import type { MaintenanceRequest } from '../src/domain/request';
import { FleetClient } from '../src/fleet-client';
import { LOCAL_REGION, startLocalStack, type LocalStack } from '../src/local-stack';
import { projectRoot } from '../src/util/project-root';
import { statusQuery } from '../workflows/messages';

/** The generation new recordings go to: the code since the interruption-safety patch. */
export const CURRENT_GENERATION = 'interruption-safety';

/** Stack traces name the recording machine's paths; replay does not need them. */
function withoutStackTraces(key: string, value: unknown): unknown {
  return key === 'stackTrace' ? '' : value;
}

type Recorder = (stack: LocalStack, tools: Tools) => Promise<string>;

interface Tools {
  readonly store: (extra?: Record<string, unknown>) => Promise<string>;
  readonly request: (customKeyStoreId: string, extra?: Partial<MaintenanceRequest>) => MaintenanceRequest;
}

const CASES: Readonly<Record<string, Recorder>> = {
  'happy-path': async ({ client }, { store, request }) => {
    const id = await store();
    const started = await client.start(request(id, { approval: { required: true, timeout: '1m' } }));
    await waitForPhase(client.temporal, started.workflowId, 'AWAITING_APPROVAL');
    await client.approve(id, { by: 'approver' });
    await client.result(id);
    return started.workflowId;
  },
  abort: async ({ client }, { store, request }) => {
    const id = await store();
    const started = await client.start(request(id, { window: { duration: '10m' } }));
    await waitForPhase(client.temporal, started.workflowId, 'IN_WINDOW');
    await client.extendWindow(id, { by: 'operator', duration: '5m' });
    await client.abort(id, { by: 'operator', reason: 'recorded abort' });
    await client.result(id);
    return started.workflowId;
  },
  'abort-in-disconnecting': async ({ client, control }, { store, request }) => {
    const id = await store();
    await control.addFault({ operation: 'DisconnectCustomKeyStore', latencyMs: 2_000, count: 1 });
    const started = await client.start(request(id, { window: { duration: '10m' } }));
    await waitForPhase(client.temporal, started.workflowId, 'DISCONNECTING');
    await client.abort(id, { by: 'operator', reason: 'recorded abort while the disconnect is in flight' });
    await client.result(id);
    return started.workflowId;
  },
  'approval-timeout': async ({ client }, { store, request }) => {
    const id = await store();
    const started = await client.start(request(id, { approval: { required: true, timeout: '2s' } }));
    await client.result(id);
    return started.workflowId;
  },
  'compensation-after-failure': async ({ client, control }, { store, request }) => {
    const id = await store();
    const started = await client.start(request(id, { drain: { provider: 'none', settle: '2s' } }));
    await waitForPhase(client.temporal, started.workflowId, 'DRAINING');
    // The disconnect step's read is denied once: the run fails in DISCONNECTING, and compensation
    // brings the store back (it may be offline: the step's outcome is not known).
    await control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'AccessDeniedException',
      count: 1,
    });
    await client.result(id);
    return started.workflowId;
  },
  'needs-attention': async ({ client, control }, { store, request }) => {
    const id = await store();
    await control.patchStore(id, { connectOutcome: { failWith: 'USER_LOGGED_IN', times: 3 } });
    const started = await client.start(request(id));
    await client.result(id);
    return started.workflowId;
  },
  'delegated-parent': async ({ client, taskQueue }, { store, request }) => {
    const id = await store();
    const parentId = `recorded-ui-start-${id}`;
    const handle = await client.temporal.workflow.start(WORKFLOW_TYPES.maintenance, {
      taskQueue,
      workflowId: parentId,
      args: [request(id)],
    });
    await handle.result();
    return parentId;
  },
  fleet: async ({ client, taskQueue }, { store }) => {
    const stores = [await store(), await store()];
    const fleets = new FleetClient(client.temporal, taskQueue, LOCAL_REGION);
    const { workflowId } = await fleets.start(
      {
        stores,
        maxConcurrency: 2,
        request: { window: { duration: '1s' }, pollInterval: '200ms', confirmSettle: '1500ms' },
        requestedBy: 'recorder',
        reason: 'recorded for the replay test',
      },
      { name: 'recorded-fleet' },
    );
    await fleets.result(workflowId);
    return workflowId;
  },
};

async function main(): Promise<void> {
  const names = process.argv.slice(2).flatMap((n) => (n === 'all' ? Object.keys(CASES) : [n]));
  if (names.length === 0) {
    console.log(
      `cases: ${Object.keys(CASES).join(', ')} (or "all"); they go to test/histories/${CURRENT_GENERATION}/`,
    );
    return;
  }
  const unknown = names.filter((n) => !CASES[n]);
  if (unknown.length)
    throw new Error(`unknown case(s): ${unknown.join(', ')}; known: ${Object.keys(CASES).join(', ')}`);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const out = join(projectRoot(), 'test', 'histories', CURRENT_GENERATION);
  mkdirSync(out, { recursive: true });
  const stack = await startLocalStack({
    devServer: { uiPort: false },
    simulator: { connectDelayMs: 300, disconnectDelayMs: 200, consistencyLagMs: 1_000 },
    auditFile: join(mkdtempSync(join(tmpdir(), 'record-histories-')), 'audit.jsonl'),
  });
  const tools: Tools = {
    store: async (extra = {}) =>
      (
        await stack.control.createStore({
          CustomKeyStoreType: 'AWS_CLOUDHSM',
          ConnectionState: 'CONNECTED',
          ...extra,
        })
      ).CustomKeyStoreId,
    request: (customKeyStoreId, extra = {}) => ({
      customKeyStoreId,
      window: { duration: '1s' },
      reason: 'recorded for the replay test',
      requestedBy: 'recorder',
      pollInterval: '200ms',
      confirmSettle: '1500ms',
      ...extra,
    }),
  };
  try {
    for (const name of names) {
      const recorder = CASES[name];
      if (!recorder) continue;
      const workflowId = await recorder(stack, tools);
      const history = await stack.client.temporal.workflow.getHandle(workflowId).fetchHistory();
      writeFileSync(
        join(out, `${name}.json`),
        `${JSON.stringify({ workflowId, history: JSON.parse(historyToJSON(history)) as unknown }, withoutStackTraces, 1)}\n`,
      );
      console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
    }
  } finally {
    await stack.stop();
  }
}

async function waitForPhase(temporal: Client, workflowId: string, phase: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const status = await temporal.workflow.getHandle(workflowId).query(statusQuery);
    if (status.phase === phase) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} never reached ${phase}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
