/** The KMS budget's gate and settings (no server: a scaled-down window and simulated latency). */
import { describe, expect, it } from 'vitest';
import {
  KmsBudgetConfigError,
  KmsCallGate,
  kmsBudgetFromEnvironment,
  kmsQueueActivitiesPerSecond,
  peakCallsInAnyWindow,
  workerCallsPerSecond,
} from '../../src/kms/rate-limit';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('KmsCallGate', () => {
  it('keeps calls at the "server" within the limit in any window, whatever the latency', async () => {
    // 4 calls per 200 ms window; each call reaches the server 0-40 ms after it is sent and is
    // answered 0-40 ms later (a stalled event loop or a slow network look the same).
    const gate = new KmsCallGate(4, { windowMs: 200 });
    const arrivals: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 40 }, () =>
        gate.run('us-east-1', async () => {
          await sleep(Math.random() * 40);
          arrivals.push(Date.now());
          await sleep(Math.random() * 40);
        }),
      ),
    );
    const elapsed = Date.now() - started;
    expect(arrivals).toHaveLength(40);
    expect(peakCallsInAnyWindow(arrivals, 200)).toBeLessThanOrEqual(4);
    // ... and not far below it: 10 windows of 200 ms plus the calls' own time.
    expect(elapsed).toBeGreaterThanOrEqual(9 * 200);
    expect(elapsed).toBeLessThan(10 * (200 + 80) + 500);
    expect(gate.snapshot()).toMatchObject({ calls: 40 });
    expect(gate.snapshot().delayed).toBeGreaterThanOrEqual(36);
  });

  it('without latency, calls reach the server in bursts of at most the limit per window', async () => {
    const gate = new KmsCallGate(3, { windowMs: 100 });
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 12 }, () => gate.run('r', () => Promise.resolve(at.push(Date.now())))),
    );
    expect(peakCallsInAnyWindow(at, 100)).toBe(3);
  });

  it('keeps Regions apart: each has its own limit', async () => {
    const gate = new KmsCallGate(2, { windowMs: 10_000 });
    const order: string[] = [];
    const first = ['a', 'a', 'b', 'b'].map((region) =>
      gate.run(region, () => Promise.resolve(order.push(region))),
    );
    await Promise.all(first);
    expect(order).toEqual(['a', 'a', 'b', 'b']);
  });

  it('serves queued one-off calls before queued polls', async () => {
    const gate = new KmsCallGate(1, { windowMs: 50 });
    const order: string[] = [];
    const busy = gate.run('r', () => sleep(10));
    const poll = gate.run('r', () => Promise.resolve(order.push('poll')), { priority: 'poll' });
    const call = gate.run('r', () => Promise.resolve(order.push('call')));
    await Promise.all([busy, poll, call]);
    expect(order).toEqual(['call', 'poll']);
  });

  it('a cancelled wait leaves the queue and does not make its call; the others go on', async () => {
    const gate = new KmsCallGate(1, { windowMs: 100 });
    let made = 0;
    await gate.run('r', () => Promise.resolve(made++));
    const controller = new AbortController();
    const cancelled = gate.run('r', () => Promise.resolve(made++), { signal: controller.signal });
    const next = gate.run('r', () => Promise.resolve(made++));
    controller.abort(new Error('activity cancelled'));
    await expect(cancelled).rejects.toThrow('activity cancelled');
    await next;
    expect(made).toBe(2);
  });

  it('calls whileQueued while a call waits (a waiting activity heartbeats)', async () => {
    const gate = new KmsCallGate(1, { windowMs: 300 });
    await gate.run('r', () => Promise.resolve());
    let beats = 0;
    await gate.run('r', () => Promise.resolve(), { whileQueued: () => beats++, whileQueuedEveryMs: 50 });
    expect(beats).toBeGreaterThanOrEqual(3);
  });

  it('widens the poll spacing with the number of waits in the Region', () => {
    const gate = new KmsCallGate(4);
    expect(gate.pollSpacingMs('r')).toBe(500);
    const ends = Array.from({ length: 12 }, () => gate.beginWait('r'));
    // 12 waits share half of 4 calls per second: each polls every 6 s.
    expect(gate.pollSpacingMs('r')).toBe(6_000);
    expect(gate.pollSpacingMs('other-region')).toBe(500);
    for (const end of ends) end();
    ends[0]?.();
    expect(gate.pollSpacingMs('r')).toBe(500);
  });
});

describe('the KMS budget settings', () => {
  it('defaults to 4 calls per second for one worker', () => {
    const budget = kmsBudgetFromEnvironment({});
    expect(budget).toEqual({ budgetRps: 4, workers: 1 });
    expect(workerCallsPerSecond(budget)).toBe(4);
    // No server-side dispatch rate unless asked for: one rate for all account-Regions would
    // hold a fleet over many of them to the pace of one.
    expect(kmsQueueActivitiesPerSecond(budget)).toBeUndefined();
    expect(kmsQueueActivitiesPerSecond(kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_QUEUE_RPS: '6' }))).toBe(
      6,
    );
  });

  it('splits the budget between workers, and 0 turns it off', () => {
    const two = kmsBudgetFromEnvironment({
      KEYSTORE_MAINT_KMS_BUDGET_RPS: '40',
      KEYSTORE_MAINT_KMS_WORKERS: '3',
    });
    expect(workerCallsPerSecond(two)).toBe(13);
    // The queue's rate (when set) is enforced by the server for all workers together: not split.
    expect(
      kmsQueueActivitiesPerSecond(
        kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_WORKERS: '3', KEYSTORE_MAINT_KMS_QUEUE_RPS: '20' }),
      ),
    ).toBe(20);
    const off = kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_BUDGET_RPS: '0' });
    expect(workerCallsPerSecond(off)).toBe(0);
    expect(kmsQueueActivitiesPerSecond(off)).toBeUndefined();
  });

  it('refuses settings it cannot honour, naming the variable', () => {
    expect(() => kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_BUDGET_RPS: 'fast' })).toThrow(
      /KEYSTORE_MAINT_KMS_BUDGET_RPS="fast" is not a whole number/,
    );
    expect(() => kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_WORKERS: '0' })).toThrow(KmsBudgetConfigError);
    expect(() =>
      kmsBudgetFromEnvironment({ KEYSTORE_MAINT_KMS_BUDGET_RPS: '4', KEYSTORE_MAINT_KMS_WORKERS: '5' }),
    ).toThrow(/cannot be shared by 5 workers/);
  });
});

describe('peakCallsInAnyWindow', () => {
  it('counts the most arrivals in any half-open window', () => {
    expect(peakCallsInAnyWindow([])).toBe(0);
    expect(peakCallsInAnyWindow([0, 999, 1000, 1001, 1999])).toBe(3);
    expect(peakCallsInAnyWindow([0, 1, 2, 999, 1000])).toBe(4);
    expect(peakCallsInAnyWindow([5, 0, 1000, 2000])).toBe(2);
  });
});
