/**
 * Two worker processes on one machine append to one JSON Lines file at the same time: runs of
 * different stores, and one run that both write (an activity retried on another worker while the
 * first attempt is still running). The file lock and the re-read under it must keep every chain
 * whole and every (workflowId, runId, seq) once.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../src/audit/verify';
import { projectRoot } from '../../src/util/project-root';
import { STORE_A, STORE_B, workflowIdOf } from './support/events';

const dir = mkdtempSync(join(tmpdir(), 'audit-multiprocess-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly result: Promise<Record<string, number>>;
}

function startChild(file: string, plan: unknown): Child {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(projectRoot(), 'test', 'audit', 'support', 'append-child.ts'),
      file,
      JSON.stringify(plan),
    ],
    { cwd: projectRoot(), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const output: string[] = [];
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  lines.on('line', (line) => {
    if (line === 'ready') onReady();
    else output.push(line);
  });
  const result = new Promise<Record<string, number>>((resolve, reject) => {
    child.on('close', (code) => {
      if (code === 0 && output.length > 0)
        resolve(JSON.parse(output[output.length - 1]!) as Record<string, number>);
      else reject(new Error(`append child exited with ${String(code)}:\n${stderr}`));
    });
  });
  // A child that dies before `ready` must fail the test rather than hang it.
  void result.catch(() => onReady());
  return { process: child, ready, result };
}

describe('JSON Lines sink across processes', () => {
  it('keeps every chain whole when two processes append to one file at once', async () => {
    const file = join(dir, 'shared.jsonl');
    const shared = { workflowId: workflowIdOf(STORE_A), runId: 'shared-run', events: 60 };
    const one = startChild(file, [
      { ...shared, batch: 3 },
      { workflowId: workflowIdOf(STORE_A), runId: 'a-own', events: 40, batch: 1 },
    ]);
    const two = startChild(file, [
      { ...shared, batch: 4 },
      { workflowId: workflowIdOf(STORE_B, 'eu-west-1'), runId: 'b-own', events: 40, batch: 2 },
    ]);
    await Promise.all([one.ready, two.ready]);
    one.process.stdin.write('go\n');
    two.process.stdin.write('go\n');
    const [r1, r2] = await Promise.all([one.result, two.result]);

    // Each event stored once: the shared run's 60 events were split between the two writers.
    expect((r1['shared-run'] ?? 0) + (r2['shared-run'] ?? 0)).toBe(60);
    expect(r1['a-own']).toBe(40);
    expect(r2['b-own']).toBe(40);
    const stored = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { runId: string; seq: number });
    expect(stored).toHaveLength(140);
    expect(new Set(stored.map((e) => `${e.runId}:${e.seq}`)).size).toBe(140);
    const report = await verifyAuditFile(file);
    expect(report).toMatchObject({ ok: true, events: 140, runs: 3 });
  });
});
