/**
 * Records the event histories of finished runs (happy path, abort, NEEDS_ATTENTION, a run
 * delegated from a non-canonical id) into test/histories/, for the replay test. Re-record only
 * on purpose: the point of the replay test is that histories recorded by an older version still
 * replay against the current workflow code.
 *
 *   npx tsx scripts/record-histories.ts
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { WORKFLOW_TYPES } from '../src/domain/names';
import { startLocalStack } from '../src/local-stack';
import { projectRoot } from '../src/util/project-root';
import { statusQuery } from '../workflows/messages';

/** Stack traces name the recording machine's paths; replay does not need them. */
function withoutStackTraces(key: string, value: unknown): unknown {
  return key === 'stackTrace' ? '' : value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const out = join(projectRoot(), 'test', 'histories');
  mkdirSync(out, { recursive: true });
  const stack = await startLocalStack({
    devServer: { uiPort: false },
    simulator: { connectDelayMs: 300, disconnectDelayMs: 200, consistencyLagMs: 0 },
    auditFile: join(mkdtempSync(join(tmpdir(), 'record-histories-')), 'audit.jsonl'),
  });
  const { client, control } = stack;
  const base = { reason: 'recorded for the replay test', requestedBy: 'recorder', pollInterval: '200ms' };
  const store = async (extra: Record<string, unknown> = {}) =>
    (
      await control.createStore({
        CustomKeyStoreType: 'AWS_CLOUDHSM',
        ConnectionState: 'CONNECTED',
        ...extra,
      })
    ).CustomKeyStoreId;
  const save = async (name: string, workflowId: string) => {
    const history = await client.temporal.workflow.getHandle(workflowId).fetchHistory();
    writeFileSync(
      join(out, `${name}.json`),
      `${JSON.stringify({ workflowId, history: JSON.parse(historyToJSON(history)) as unknown }, withoutStackTraces, 1)}\n`,
    );
    console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
  };
  try {
    const happy = await store();
    const started = await client.start({
      ...base,
      customKeyStoreId: happy,
      window: { duration: '1s' },
      approval: { required: true, timeout: '1m' },
    });
    await waitForPhase(client.temporal, started.workflowId, 'AWAITING_APPROVAL');
    await client.approve(happy, { by: 'approver' });
    await client.result(happy);
    await save('happy-path', started.workflowId);

    const aborted = await store();
    const abortRun = await client.start({ ...base, customKeyStoreId: aborted, window: { duration: '10m' } });
    await waitForPhase(client.temporal, abortRun.workflowId, 'IN_WINDOW');
    await client.extendWindow(aborted, { by: 'operator', duration: '5m' });
    await client.abort(aborted, { by: 'operator', reason: 'recorded abort' });
    await client.result(aborted);
    await save('abort', abortRun.workflowId);

    const failing = await store();
    await control.patchStore(failing, { connectOutcome: { failWith: 'USER_LOGGED_IN', times: 3 } });
    const failRun = await client.start({ ...base, customKeyStoreId: failing, window: { duration: '1s' } });
    await client.result(failing);
    await save('needs-attention', failRun.workflowId);

    const delegated = await store();
    const parentId = `recorded-ui-start-${delegated}`;
    const handle = await client.temporal.workflow.start(WORKFLOW_TYPES.maintenance, {
      taskQueue: stack.taskQueue,
      workflowId: parentId,
      args: [{ ...base, customKeyStoreId: delegated, window: { duration: '1s' } }],
    });
    await handle.result();
    await save('delegated-parent', parentId);
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
