/** Injected faults: count, probability, latency, wildcard, their place in the order of checks. */
import {
  ConnectCustomKeyStoreCommand,
  DescribeCustomKeyStoresCommand,
  DescribeKeyCommand,
} from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { SimulatorControlError } from '../../src/sim';
import { kmsError, rawKms, useSimulator } from './helpers';

const h = useSimulator({ connectDelayMs: 0, consistencyLagMs: 0, quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

const describeAll = () => h.kms.send(new DescribeCustomKeyStoresCommand({}));

async function outcomes(count: number, call: () => Promise<unknown>): Promise<string[]> {
  const results: string[] = [];
  for (let i = 0; i < count; i++) {
    results.push(
      await call().then(
        () => 'ok',
        (err: unknown) => (err instanceof Error ? err.name : String(err)),
      ),
    );
  }
  return results;
}

describe('fault injection', () => {
  it('fires on the next `count` matching requests, and the refused call changes nothing', async () => {
    const store = await h.control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'DISCONNECTED',
    });
    await h.control.addFault({
      operation: 'ConnectCustomKeyStore',
      errorType: 'KMSInternalException',
      count: 2,
    });
    const connect = () =>
      h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    expect(await outcomes(2, connect)).toEqual(['KMSInternalException', 'KMSInternalException']);
    expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('DISCONNECTED');
    expect(await outcomes(1, connect)).toEqual(['ok']);
    expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
    expect(await h.control.faults()).toEqual([]);
  });

  it('`when: after` lets the operation take effect, then answers the error: a lost answer', async () => {
    const store = await h.control.createStore({
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      ConnectionState: 'DISCONNECTED',
    });
    await h.control.addFault({
      operation: 'ConnectCustomKeyStore',
      errorType: 'KMSInternalException',
      when: 'after',
      latencyMs: 300,
    });
    const connect = () =>
      h.kms.send(new ConnectCustomKeyStoreCommand({ CustomKeyStoreId: store.CustomKeyStoreId }));
    const started = Date.now();
    expect(await outcomes(1, connect)).toEqual(['KMSInternalException']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // KMS acted although the caller heard an error.
    expect((await h.control.getStore(store.CustomKeyStoreId)).ConnectionState).toBe('CONNECTED');
    const calls = await h.control.calls({ operation: 'ConnectCustomKeyStore' });
    expect(calls.map((c) => c.outcome)).toEqual(['KMSInternalException']);
    await expect(
      h.control.addFault({
        operation: 'ConnectCustomKeyStore',
        errorType: 'KMSInternalException',
        when: 'later' as 'after',
      }),
    ).rejects.toThrow(/when/);
  });

  it('fires once when neither count nor probability is given, only on its operation', async () => {
    await h.control.addFault({ operation: 'DescribeCustomKeyStores', errorType: 'ThrottlingException' });
    expect(await outcomes(1, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })))).toEqual([
      'NotFoundException',
    ]);
    expect(await outcomes(3, describeAll)).toEqual(['ThrottlingException', 'ok', 'ok']);
  });

  it('fires with a probability until cleared; 0 never fires; with a count, at most count times', async () => {
    await h.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'KMSInternalException',
      probability: 1,
    });
    await h.control.addFault({ operation: 'DescribeKey', errorType: 'KMSInternalException', probability: 0 });
    expect(await outcomes(5, describeAll)).toEqual(Array<string>(5).fill('KMSInternalException'));
    expect(await outcomes(3, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })))).toEqual(
      Array<string>(3).fill('NotFoundException'),
    );
    await h.control.clearFaults();
    expect(await outcomes(1, describeAll)).toEqual(['ok']);

    await h.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'ThrottlingException',
      probability: 1,
      count: 2,
    });
    expect(await outcomes(4, describeAll)).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      'ok',
      'ok',
    ]);
  });

  it('fires on roughly the chosen share of requests', async () => {
    await h.control.addFault({
      operation: 'DescribeKey',
      errorType: 'KMSInternalException',
      probability: 0.5,
    });
    const results = await outcomes(200, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })));
    const fired = results.filter((r) => r === 'KMSInternalException').length;
    // Binomial(200, 0.5): outside 60..140 has a probability far below one in a billion.
    expect(fired).toBeGreaterThan(60);
    expect(fired).toBeLessThan(140);
    expect(results.filter((r) => r === 'NotFoundException')).toHaveLength(200 - fired);
  });

  it('adds latency, with an error or alone (a latency-only fault fires once by default)', async () => {
    await h.control.addFault({
      operation: 'DescribeCustomKeyStores',
      errorType: 'DependencyTimeoutException',
      latencyMs: 200,
      message: 'slow and broken',
    });
    let started = Date.now();
    const error = await kmsError(describeAll());
    expect(error).toMatchObject({
      name: 'DependencyTimeoutException',
      status: 503,
      message: 'slow and broken',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    await h.control.addFault({ operation: 'DescribeCustomKeyStores', latencyMs: 200 });
    started = Date.now();
    await describeAll();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(await h.control.faults()).toEqual([]);
  });

  it('matches every operation with *', async () => {
    await h.control.addFault({ operation: '*', errorType: 'AccessDeniedException', count: 2 });
    expect(await outcomes(1, describeAll)).toEqual(['AccessDeniedException']);
    expect(await outcomes(1, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })))).toEqual([
      'AccessDeniedException',
    ]);
    expect(await outcomes(1, describeAll)).toEqual(['ok']);
  });

  it('comes after authentication, parsing and the operation check, and before validation', async () => {
    await h.control.addFault({ operation: '*', errorType: 'KMSInternalException' });
    const unauthenticated = await rawKms(h.sim.url, {
      target: 'DescribeCustomKeyStores',
      body: '{}',
      headers: { authorization: '' },
    });
    expect(unauthenticated.json['__type']).toBe('MissingAuthenticationTokenException');
    expect((await rawKms(h.sim.url, { target: 'DescribeCustomKeyStores', body: '{' })).json['__type']).toBe(
      'SerializationException',
    );
    expect((await rawKms(h.sim.url, { target: 'NoSuchThing', body: '{}' })).json['__type']).toBe(
      'UnknownOperationException',
    );
    // Still armed: an invalid request now meets the fault before its validation.
    const invalid = await kmsError(h.kms.send(new DescribeCustomKeyStoresCommand({ Limit: 0 })));
    expect(invalid.name).toBe('KMSInternalException');
  });

  it('lists faults with what remains, and removes one by id', async () => {
    const a = await h.control.createFault({
      operation: 'DescribeKey',
      errorType: 'KMSInternalException',
      count: 3,
    });
    const b = await h.control.createFault({
      operation: 'Encrypt',
      errorType: 'KeyUnavailableException',
      probability: 0.1,
    });
    expect(a).toMatchObject({ remaining: 3, fired: 0 });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.remaining).toBeUndefined();
    await outcomes(1, () => h.kms.send(new DescribeKeyCommand({ KeyId: 'alias/x' })));
    expect((await h.control.faults()).map((f) => [f.id, f.remaining])).toEqual([
      [a.id, 2],
      [b.id, undefined],
    ]);
    await h.control.removeFault(a.id);
    expect((await h.control.faults()).map((f) => f.id)).toEqual([b.id]);
    await expect(h.control.removeFault(a.id)).rejects.toMatchObject({ status: 404 });
  });

  it.each([
    ['operation', { operation: 'FrobnicateKey', errorType: 'KMSInternalException' }],
    ['errorType', { operation: 'Encrypt', errorType: 'not an exception' }],
    ['errorType', { operation: 'Encrypt' }],
    ['probability', { operation: 'Encrypt', errorType: 'KMSInternalException', probability: 1.5 }],
    ['count', { operation: 'Encrypt', errorType: 'KMSInternalException', count: 0 }],
    ['latencyMs', { operation: 'Encrypt', latencyMs: -1 }],
    ['colour', { operation: 'Encrypt', errorType: 'KMSInternalException', colour: 'red' }],
  ])('refuses a malformed fault with a 400 naming %s', async (field, fault) => {
    const error = await h.control.addFault(fault).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SimulatorControlError);
    expect(error).toMatchObject({ status: 400, field });
  });
});
