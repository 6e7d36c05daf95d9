/**
 * The request quota: N requests per second for each custom key store operation (token bucket with
 * capacity and refill N), ThrottlingException above it, only requests that reach the quota check
 * counting, and throttled requests taking no token.
 */
import {
  ConnectCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { kmsError, rawKms, useSimulator, waitFor } from './helpers';

// The default quota (5 per second) is what is under test.
const h = useSimulator({ connectDelayMs: 0, consistencyLagMs: 0 });

beforeEach(async () => {
  await h.control.reset();
});

async function burst(
  count: number,
  call: () => Promise<unknown>,
): Promise<{ ok: number; throttled: number }> {
  const results = await Promise.allSettled(Array.from({ length: count }, call));
  let ok = 0;
  let throttled = 0;
  for (const result of results) {
    if (result.status === 'fulfilled') ok += 1;
    else if (result.reason instanceof Error && result.reason.name === 'ThrottlingException') throttled += 1;
    else throw result.reason;
  }
  return { ok, throttled };
}

const describeAll = () => h.kms.send(new DescribeCustomKeyStoresCommand({}));

describe('request quota', () => {
  it('admits 5 DescribeCustomKeyStores at once by default and throttles the rest', async () => {
    const started = Date.now();
    const { ok, throttled } = await burst(20, describeAll);
    const elapsed = Date.now() - started;
    // Five tokens, plus whatever refilled (5 per second) while the burst was in flight.
    expect(ok).toBeGreaterThanOrEqual(5);
    expect(ok).toBeLessThanOrEqual(5 + Math.floor((elapsed * 5) / 1000));
    expect(throttled).toBe(20 - ok);
    const logged = await h.control.calls({ operation: 'DescribeCustomKeyStores' });
    expect(logged.filter((call) => call.outcome === 'ThrottlingException')).toHaveLength(throttled);
  });

  it('keeps a separate bucket per operation and does not limit other operations', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    expect((await burst(10, describeAll)).throttled).toBeGreaterThan(0);
    await h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    const keys = await Promise.allSettled(
      Array.from({ length: 20 }, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/missing' }))),
    );
    expect(
      keys.every(
        (r) => r.status === 'rejected' && r.reason instanceof Error && r.reason.name === 'NotFoundException',
      ),
    ).toBe(true);
  });

  it('refills at the quota rate, and throttled requests take no token', async () => {
    await h.control.patchConfig({ quotaRps: 1 });
    await describeAll();
    const throttledAt = Date.now();
    expect(await kmsError(describeAll())).toMatchObject({ name: 'ThrottlingException', status: 400 });
    // Polling hammers the quota; were throttled requests charged, the next success would recede.
    await waitFor(
      () =>
        describeAll().then(
          () => true,
          () => false,
        ),
      (ok) => ok,
      { timeoutMs: 5000, intervalMs: 25 },
    );
    const waited = Date.now() - throttledAt;
    expect(waited).toBeGreaterThanOrEqual(850);
    // Had each throttled poll cost a token, dozens of polls would have pushed this to tens of seconds.
    expect(waited).toBeLessThan(2500);
  });

  it('counts only requests that reach the quota check', async () => {
    await h.control.patchConfig({ quotaRps: 2 });
    for (let i = 0; i < 5; i++) {
      const refused = await rawKms(h.sim.url, {
        target: 'DescribeCustomKeyStores',
        body: '{}',
        headers: { authorization: '' },
      });
      expect(refused.json['__type']).toBe('MissingAuthenticationTokenException');
      const malformed = await rawKms(h.sim.url, { target: 'DescribeCustomKeyStores', body: '{' });
      expect(malformed.json['__type']).toBe('SerializationException');
    }
    expect(await burst(2, describeAll)).toEqual({ ok: 2, throttled: 0 });
  });

  it('is configurable at runtime, 0 meaning unlimited', async () => {
    const config = await h.control.patchConfig({ quotaRps: 0 });
    expect(config.quotaRps).toBe(0);
    expect(await burst(30, describeAll)).toEqual({ ok: 30, throttled: 0 });
  });
});
