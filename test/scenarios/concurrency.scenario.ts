/**
 * Concurrency: many starts for one store take one lock; many stores at once under the real
 * quota (5 requests per second per custom key store operation) all finish.
 */
import { describe, expect, it } from 'vitest';
import { MaintenanceAlreadyRunningError } from '../../src/client';
import { scenario } from './report';
import { scenarioWorld } from './support';

describe('concurrency', () => {
  it('20 simultaneous starts for one store', async () => {
    await scenario(
      'concurrency',
      '20 simultaneous starts for one store',
      'exactly one run; 19 refused with the running workflow id',
      async () => {
        const world = await scenarioWorld();
        try {
          await world.startWorker();
          const starts = await Promise.allSettled(
            Array.from({ length: 20 }, () => world.client.start(world.request())),
          );
          const started = starts.filter((s) => s.status === 'fulfilled');
          const refused = starts.filter(
            (s) => s.status === 'rejected' && s.reason instanceof MaintenanceAlreadyRunningError,
          );
          expect(started).toHaveLength(1);
          expect(refused).toHaveLength(19);
          const result = await world.client.result(world.storeId);
          expect(result.outcome).toBe('COMPLETED');
          const disconnects = (await world.control.calls()).filter(
            (c) => c.operation === 'DisconnectCustomKeyStore' && c.outcome === 'ok',
          );
          expect(disconnects).toHaveLength(1);
          return `1 run (COMPLETED), 19 refused with MaintenanceAlreadyRunningError; 1 accepted Disconnect`;
        } finally {
          await world.close();
        }
      },
    );
  });

  it('30 stores at once under the 5 rps quota', async () => {
    await scenario(
      'concurrency',
      '30 stores maintained at once, simulator quota 5 requests/second per operation',
      'every run COMPLETED; throttled calls absorbed; none fails because of throttling',
      async () => {
        const world = await scenarioWorld({ sim: { quotaRps: 5 } });
        try {
          await world.startWorker();
          const ids = [];
          for (let i = 0; i < 30; i++) {
            ids.push(
              (
                await world.control.createStore({
                  CustomKeyStoreType: 'AWS_CLOUDHSM',
                  ConnectionState: 'CONNECTED',
                })
              ).CustomKeyStoreId,
            );
          }
          await Promise.all(
            ids.map((id) =>
              world.client.start({
                ...world.request(),
                customKeyStoreId: id,
                pollInterval: '1s',
                canaryKeyId: undefined,
                drain: { provider: 'none' },
              }),
            ),
          );
          const results = await Promise.all(ids.map((id) => world.client.result(id)));
          const outcomes = results.map((r) => r.outcome);
          expect(outcomes.filter((o) => o !== 'COMPLETED')).toEqual([]);
          const calls = await world.control.calls();
          const throttled = calls.filter((c) => c.outcome === 'ThrottlingException').length;
          const perSecond = new Map<string, number>();
          for (const c of calls) {
            const key = `${c.operation}@${c.at.slice(0, 19)}`;
            perSecond.set(key, (perSecond.get(key) ?? 0) + (c.outcome === 'ok' ? 1 : 0));
          }
          const peak = Math.max(...perSecond.values());
          expect(peak).toBeLessThanOrEqual(5 * 2); // token bucket: capacity 5 plus 5 refilled within a clock second
          return `30 of 30 COMPLETED; ${throttled} throttled calls absorbed; peak accepted per operation per second ${peak}`;
        } finally {
          await world.close();
        }
      },
    );
  });
});
