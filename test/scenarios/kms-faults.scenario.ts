/**
 * KMS misbehaves: bursts of ThrottlingException and KMSInternalException, latency spikes,
 * eventual-consistency lag of several poll intervals, transient and permanent FAILED codes, and
 * AccessDeniedException on Connect.
 */
import { describe, expect, it } from 'vitest';
import { scenario } from './report';
import { checkRun, HAPPY_ACCEPTED, scenarioWorld, type ScenarioWorld } from './support';

async function run(world: ScenarioWorld, overrides: Parameters<ScenarioWorld['request']>[0] = {}) {
  await world.startWorker();
  await world.client.start(world.request(overrides));
  return world.client.result(world.storeId);
}

describe('KMS faults', () => {
  it.concurrent('throttling and internal-error bursts', async () => {
    await scenario(
      'KMS faults',
      'bursts: 2× ThrottlingException and 1× KMSInternalException on Describe, Disconnect and Connect',
      'absorbed by retries; COMPLETED; each mutation once',
      async () => {
        const world = await scenarioWorld();
        try {
          for (const operation of [
            'DescribeCustomKeyStores',
            'DisconnectCustomKeyStore',
            'ConnectCustomKeyStore',
          ]) {
            await world.control.addFault({ operation, errorType: 'ThrottlingException', count: 2 });
            await world.control.addFault({ operation, errorType: 'KMSInternalException', count: 1 });
          }
          const result = await run(world);
          const refused = (await world.control.calls()).filter((c) => c.outcome !== 'ok').length;
          expect(refused).toBe(9);
          return `${await checkRun(world, result, { outcome: 'COMPLETED', storeState: 'CONNECTED', aliasesRestored: true, accepted: HAPPY_ACCEPTED })}; ${refused} faulted calls absorbed`;
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('latency spikes', async () => {
    await scenario(
      'KMS faults',
      'latency spikes: +3 s on Disconnect, Connect and two Describe calls',
      'COMPLETED; no duplicate mutation',
      async () => {
        const world = await scenarioWorld();
        try {
          for (const operation of ['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']) {
            await world.control.addFault({ operation, latencyMs: 3_000, count: 1 });
          }
          await world.control.addFault({ operation: 'DescribeCustomKeyStores', latencyMs: 3_000, count: 2 });
          const result = await run(world);
          return checkRun(world, result, {
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

  it.concurrent('eventual-consistency lag', async () => {
    await scenario(
      'KMS faults',
      'eventual consistency: Describe shows the previous state for 2 s (10 poll intervals)',
      'the waits see stale states and keep polling; COMPLETED',
      async () => {
        const world = await scenarioWorld({ store: { consistencyLagMs: 2_000 } });
        try {
          // The confirmation must span more than the lag (docs/architecture.md).
          const result = await run(world, { confirmSettle: '2500ms' });
          const waits = result.events.filter((e) => e.action === 'wait.completed');
          const polls = waits.map((e) => Number(e.detail.polls));
          expect(Math.min(...polls)).toBeGreaterThan(3);
          // Each wait outlasted the lag: the stale reads were seen and not believed.
          for (const wait of waits) expect(Number(wait.detail.elapsedMs)).toBeGreaterThanOrEqual(2_000);
          return `${await checkRun(world, result, { outcome: 'COMPLETED', storeState: 'CONNECTED', aliasesRestored: true, accepted: HAPPY_ACCEPTED })}; polls per wait ${polls.join(', ')}`;
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('transient FAILED codes', async () => {
    await scenario(
      'KMS faults',
      'transient FAILED: NETWORK_ERRORS, then XKS_PROXY_TIMED_OUT, then success (external store)',
      'disconnect-then-connect retries; COMPLETED after 3 connects',
      async () => {
        const world = await scenarioWorld({ store: { CustomKeyStoreType: 'EXTERNAL_KEY_STORE' } });
        try {
          await world.control.patchStore(world.storeId, {
            connectOutcome: { failWith: 'NETWORK_ERRORS', times: 1 },
          });
          await world.startWorker();
          await world.client.start(world.request());
          // Arm the second failure once the first connect attempt has used up the first.
          for (let i = 0; i < 600; i++) {
            const status = await world.client.getStatus(world.storeId);
            if (status.connectAttempts >= 1 && status.store.connectionErrorCode === 'NETWORK_ERRORS') break;
            await new Promise((r) => setTimeout(r, 50));
          }
          await world.control.patchStore(world.storeId, {
            connectOutcome: { failWith: 'XKS_PROXY_TIMED_OUT', times: 1 },
          });
          const result = await world.client.result(world.storeId);
          expect(result.connectAttempts).toBe(3);
          return checkRun(world, result, {
            outcome: 'COMPLETED',
            storeState: 'CONNECTED',
            aliasesRestored: true,
            accepted: { DisconnectCustomKeyStore: 3, ConnectCustomKeyStore: 3, UpdateAlias: 4 },
          });
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('permanent FAILED code', async () => {
    await scenario(
      'KMS faults',
      'permanent FAILED: INVALID_CREDENTIALS on every connect (CloudHSM)',
      'NEEDS_ATTENTION after 1 connect; code and meaning in the result; store FAILED; aliases stay on the fallback',
      async () => {
        const world = await scenarioWorld();
        try {
          await world.control.patchStore(world.storeId, {
            connectOutcome: { failWith: 'INVALID_CREDENTIALS', times: 10 },
          });
          const result = await run(world);
          expect(result.connectionError?.code).toBe('INVALID_CREDENTIALS');
          expect(result.message).toMatch(/kmsuser password/);
          return `${await checkRun(world, result, {
            outcome: 'NEEDS_ATTENTION',
            storeState: 'FAILED',
            aliasesRestored: false,
            accepted: { DisconnectCustomKeyStore: 1, ConnectCustomKeyStore: 1, UpdateAlias: 2 },
          })}; ${result.connectionError?.code}`;
        } finally {
          await world.close();
        }
      },
    );
  });

  it.concurrent('AccessDeniedException on Connect', async () => {
    await scenario(
      'KMS faults',
      'AccessDeniedException on every ConnectCustomKeyStore',
      'NEEDS_ATTENTION naming kms:ConnectCustomKeyStore; store stays DISCONNECTED; traffic stays drained',
      async () => {
        const world = await scenarioWorld();
        try {
          await world.control.addFault({
            operation: 'ConnectCustomKeyStore',
            errorType: 'AccessDeniedException',
            count: 50,
          });
          const result = await run(world);
          expect(result.message).toContain('kms:ConnectCustomKeyStore');
          return `${await checkRun(world, result, {
            outcome: 'NEEDS_ATTENTION',
            storeState: 'DISCONNECTED',
            aliasesRestored: false,
            accepted: { DisconnectCustomKeyStore: 1, UpdateAlias: 2 },
          })}; message names kms:ConnectCustomKeyStore`;
        } finally {
          await world.close();
        }
      },
    );
  });
});
