/**
 * A rolling upgrade mid-window on the rehearsal cluster (docs/operations.md, "Upgrading
 * workers"). Version A is the workflow code just before the change guarded by
 * `PATCHES.finalReadAfterRestore` (built from git, the commit before the one that introduced it);
 * version B is the built package. Runs start on A — one ends there, one is left in its window —
 * then A is replaced by B on the same task queue, the open run finishes on B, a new run starts on
 * B, and every history replays on B without nondeterminism. Without the patched() guard, the run
 * that finished on A no longer replays on B (checked by hand: see docs/operations.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MaintenanceClient } from '../../src/client';
import type { MaintenanceRequest } from '../../src/domain/request';
import { projectRoot } from '../../src/util/project-root';
import { PATCHES } from '../../workflows/patches';
import { eventually } from '../support/maintenance-env';
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
let dir: string;
let bundleA: string;
let versionA: string;
const workers: WorkerProcess[] = [];

/** The commit before the one that introduced the patch: the code a running fleet was deployed with. */
function commitBefore(patchId: string): string {
  const root = projectRoot();
  const introduced = execFileSync(
    'git',
    ['log', '--format=%H', '-S', patchId, '--', 'workflows/patches.ts'],
    { cwd: root, encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .pop();
  if (!introduced) {
    throw new Error(
      `no commit introduces ${patchId} in workflows/patches.ts: the rehearsal needs the git history (not a shallow clone)`,
    );
  }
  return execFileSync('git', ['rev-parse', `${introduced}^`], { cwd: root, encoding: 'utf8' }).trim();
}

/** Version A's workflow bundle, built from that commit's sources with today's dependencies. */
async function bundleAt(commit: string): Promise<string> {
  const root = projectRoot();
  const tree = join(dir, 'version-a');
  execFileSync(
    'bash',
    [
      '-c',
      `mkdir -p "${tree}" && git archive ${commit} workflows activities src package.json | tar -x -C "${tree}"`,
    ],
    {
      cwd: root,
    },
  );
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const { code } = await bundleWorkflowCode({ workflowsPath: join(tree, 'workflows', 'index.ts') });
  const path = join(dir, 'workflow-bundle-a.js');
  writeFileSync(path, code);
  return path;
}

function request(store: string, window: string): MaintenanceRequest {
  return rehearsalRequest(store, window, 'rolling upgrade rehearsal');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rehearsal-upgrade-'));
  versionA = commitBefore(PATCHES.finalReadAfterRestore);
  bundleA = await bundleAt(versionA);
  cluster = await connectCluster();
  sim = await startSim();
});

afterAll(async () => {
  for (const w of workers) await w.kill('SIGTERM');
  await sim?.stop();
  await cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function store(): Promise<string> {
  return rehearsalStore(sim, 'upgrade');
}

describe('a rolling upgrade of the workers mid-window', () => {
  it('finishes runs started on version A on version B, and every history replays on B', async () => {
    const taskQueue = uniqueQueue('upgrade');
    const client = new MaintenanceClient(cluster.client, taskQueue, REGION);
    const a = await startWorker({
      name: `version-a-${versionA.slice(0, 8)}`,
      taskQueue,
      sim,
      bundle: bundleA,
    });
    workers.push(a);

    // On A: one run from start to end, one left in its window.
    const endedOnA = await store();
    await client.start(request(endedOnA, '1s'));
    expect((await client.result(endedOnA)).outcome).toBe('COMPLETED');
    const spanning = await store();
    await client.start(request(spanning, '20s'));
    await eventually(
      async () => (await client.getStatus(spanning)).phase === 'IN_WINDOW',
      'IN_WINDOW on A',
      60_000,
    );

    // Deploy B: A is stopped as a rollout stops it (SIGTERM, graceful), B takes the queue.
    await a.kill('SIGTERM');
    workers.push(await startWorker({ name: 'version-b', taskQueue, sim }));
    const spanned = await client.result(spanning);
    expect(spanned.outcome).toBe('COMPLETED');
    const startedOnB = await store();
    await client.start(request(startedOnB, '1s'));
    const onB = await client.result(startedOnB);
    expect(onB.outcome).toBe('COMPLETED');

    // Ground truth: each store went down once and came back.
    for (const id of [endedOnA, spanning, startedOnB]) {
      await expectWentDownOnce(sim.control, id);
    }

    // The runs A started keep A's behaviour; the run B started has the change.
    const histories = [];
    for (const id of [endedOnA, spanning, startedOnB]) {
      const handle = cluster.client.workflow.getHandle(client.workflowIdFor(id));
      const history = await handle.fetchHistory();
      // The patch markers' payloads name the patch ids the run recorded.
      const recorded = (history.events ?? [])
        .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
        .flatMap((e) =>
          Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((payloads) =>
            (payloads.payloads ?? []).map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')),
          ),
        );
      histories.push({
        workflowId: handle.workflowId,
        history,
        hasPatch: recorded.some((text) => text.includes(PATCHES.finalReadAfterRestore)),
        // Every run, on A or B, records the older patches: the markers were read correctly.
        hasOlder: recorded.some((text) => text.includes(PATCHES.interruptionSafety)),
      });
    }
    // Every history replays on B's bundle: no nondeterminism.
    const results = [];
    for await (const result of Worker.runReplayHistories(
      {
        workflowBundle: { codePath: join(projectRoot(), 'dist', 'workflow-bundle.js') },
        replayName: 'version-b',
      },
      histories.map(({ workflowId, history }) => ({ workflowId, history })),
    ))
      results.push(result);
    expect(results).toHaveLength(3);
    for (const result of results)
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();

    expect(histories.map((h) => h.hasOlder)).toEqual([true, true, true]);
    expect(histories.map((h) => h.hasPatch)).toEqual([false, false, true]);
    const finalReads = (events: readonly { phase: string; action: string }[]) =>
      events.filter((e) => e.action === 'kms.describe' && ['RESTORING', 'VERIFYING'].includes(e.phase))
        .length;
    expect(finalReads(onB.events)).toBeGreaterThan(finalReads(spanned.events));
  });
});
