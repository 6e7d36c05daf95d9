/**
 * The worker is a real child process, killed with SIGKILL in each phase and restarted after a
 * pause. Each phase is held open long enough to be hit (a latency fault on the phase's KMS call,
 * a slow state transition, or the window itself). The run must complete with the store
 * CONNECTED, the aliases restored exactly, the audit chain whole, and each mutation made once.
 */
import { describe, it } from 'vitest';
import { scenario } from './report';
import { checkRun, HAPPY_ACCEPTED, scenarioWorld, waitForPhase, type ScenarioWorld } from './support';

interface Hold {
  readonly phase: string;
  /** Makes the phase last a few seconds. */
  readonly arrange: (world: ScenarioWorld) => Promise<void>;
  readonly store?: Record<string, unknown>;
  readonly window?: string;
}

const slow = (operation: string) => async (world: ScenarioWorld) => {
  await world.control.addFault({ operation, latencyMs: 4_000, count: 1 });
};

const HOLDS: readonly Hold[] = [
  { phase: 'DRAINING', arrange: slow('UpdateAlias') },
  { phase: 'DISCONNECTING', arrange: slow('DisconnectCustomKeyStore') },
  { phase: 'WAITING_DISCONNECTED', arrange: () => Promise.resolve(), store: { disconnectDelayMs: 5_000 } },
  { phase: 'IN_WINDOW', arrange: () => Promise.resolve(), window: '6s' },
  { phase: 'RECONNECTING', arrange: slow('ConnectCustomKeyStore') },
  { phase: 'WAITING_CONNECTED', arrange: () => Promise.resolve(), store: { connectDelayMs: 5_000 } },
  { phase: 'VERIFYING', arrange: slow('GenerateDataKey') },
  // The drain's UpdateAlias calls come first; the latency fault is armed once the window runs.
  { phase: 'RESTORING', arrange: () => Promise.resolve(), window: '3s' },
];

describe('worker crash', () => {
  for (const hold of HOLDS) {
    it.concurrent(`SIGKILL in ${hold.phase}`, async () => {
      await scenario(
        'worker crash',
        `worker SIGKILLed in ${hold.phase}, restarted after 1 s`,
        'COMPLETED; store CONNECTED; aliases restored exactly; audit chain whole; each mutation once',
        async () => {
          const world = await scenarioWorld({ store: hold.store ?? {} });
          try {
            await world.startWorker();
            await hold.arrange(world);
            await world.client.start(world.request(hold.window ? { window: { duration: hold.window } } : {}));
            if (hold.phase === 'RESTORING') {
              await waitForPhase(world, 'IN_WINDOW');
              await world.control.addFault({ operation: 'UpdateAlias', latencyMs: 4_000, count: 1 });
            }
            await waitForPhase(world, hold.phase);
            await world.worker?.kill('SIGKILL');
            await new Promise((r) => setTimeout(r, 1_000));
            await world.startWorker();
            const result = await world.client.result(world.storeId);
            return await checkRun(world, result, {
              outcome: 'COMPLETED',
              storeState: 'CONNECTED',
              aliasesRestored: true,
              accepted: HAPPY_ACCEPTED,
            });
          } finally {
            await world.close();
          }
        },
      );
    });
  }
});
