/**
 * Replay safety: histories recorded from finished runs (test/histories/<generation>/, made by
 * scripts/record-histories.ts) must replay against the current workflow code. A generation is
 * the code that recorded it: `before-interruption-safety` was recorded before the
 * `interruption-safety` patch and replays through the old branches its `patched()` guards keep;
 * `interruption-safety` is the current behaviour. A change that would break running workflows
 * (reordered commands, a removed activity call without `patched`) fails here, before it reaches a
 * worker with runs in flight.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tracedBundlePath, tracingSinks } from '../../src/tracing';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/util/project-root';

const root = join(projectRoot(), 'test', 'histories');
const generations = readdirSync(root, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const files = generations.flatMap((generation) =>
  readdirSync(join(root, generation))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => `${generation}/${f}`),
);

describe('replay of recorded histories', () => {
  it('has the recorded histories of every generation', () => {
    expect(files).toEqual([
      'before-interruption-safety/abort.json',
      'before-interruption-safety/delegated-parent.json',
      'before-interruption-safety/happy-path.json',
      'before-interruption-safety/needs-attention.json',
      'interruption-safety/abort-in-disconnecting.json',
      'interruption-safety/abort.json',
      'interruption-safety/approval-timeout.json',
      'interruption-safety/compensation-after-failure.json',
      'interruption-safety/delegated-parent.json',
      'interruption-safety/fleet.json',
      'interruption-safety/happy-path.json',
      'interruption-safety/needs-attention.json',
    ]);
  });

  // Both bundles a worker may load: the plain one, and the traced one of a worker with tracing on.
  it.each([
    ['the plain bundle', () => inject('workflowBundlePath')],
    ['the traced bundle', () => tracedBundlePath(inject('workflowBundlePath'))],
  ])('replays every recorded history without nondeterminism with %s', async (_name, bundle) => {
    const histories = files.map((file) => {
      const recorded = JSON.parse(readFileSync(join(root, file), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      return { workflowId: recorded.workflowId, history: recorded.history, file };
    });
    const results = [];
    for await (const result of Worker.runReplayHistories(
      {
        workflowBundle: { codePath: bundle() },
        replayName: 'keystore-maint',
        // The traced bundle's interceptors export through this sink, as on every worker.
        sinks: tracingSinks(undefined),
      },
      histories,
    )) {
      results.push(result);
    }
    expect(results).toHaveLength(histories.length);
    for (const result of results) {
      expect(result.error, `${result.workflowId}: ${String(result.error)}`).toBeUndefined();
    }
  });
});
