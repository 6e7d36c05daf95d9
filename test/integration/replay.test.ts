/**
 * Replay safety: histories recorded from finished runs (test/histories/, made by
 * scripts/record-histories.ts) must replay against the current workflow code. A change that
 * would break running workflows (reordered commands, a removed activity call without `patched`)
 * fails here, before it reaches a worker with runs in flight.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../src/util/project-root';

const dir = join(projectRoot(), 'test', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of recorded histories', () => {
  it('has the recorded histories', () => {
    expect(files.sort()).toEqual([
      'abort.json',
      'delegated-parent.json',
      'happy-path.json',
      'needs-attention.json',
    ]);
  });

  it('replays every recorded history without nondeterminism', async () => {
    const histories = files.map((file) => {
      const recorded = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      return { workflowId: recorded.workflowId, history: recorded.history };
    });
    const results = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: inject('workflowBundlePath') }, replayName: 'keystore-maint' },
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
