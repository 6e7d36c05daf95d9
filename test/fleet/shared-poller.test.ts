/**
 * The shared poller's eventual-consistency rule, against the simulator through the real SDK: a read
 * is answered only by a listing sent after it was asked for, never by one already in flight; reads
 * asked together share one listing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedDescribePoller } from '../../activities/shared-poller';
import { kmsClientProvider } from '../../src/kms/client';
import { SimulatorControl, startKmsSimulator, type RunningSimulator } from '../../src/sim';
import { isListing, TEST_CREDENTIALS } from '../support/maintenance-env';

const REGION = 'us-east-1';
let sim: RunningSimulator;
let control: SimulatorControl;
beforeAll(async () => {
  sim = await startKmsSimulator({ port: 0, region: REGION, consistencyLagMs: 0, quotaRps: 0 });
  control = new SimulatorControl(sim.url);
});
afterAll(async () => sim?.stop());

function poller(): SharedDescribePoller {
  return new SharedDescribePoller({
    kms: kmsClientProvider({ endpoint: sim.url, credentials: TEST_CREDENTIALS }),
  });
}

describe('SharedDescribePoller', () => {
  it('answers a read asked while a listing is in flight with the next listing, not that one', async () => {
    const store = await control.createStore({
      CustomKeyStoreType: 'AWS_CLOUDHSM',
      ConnectionState: 'CONNECTED',
    });
    const id = store.CustomKeyStoreId;
    await control.clearCalls();
    // The first listing reads the store at once and answers 800 ms later.
    await control.addFault({ operation: 'DescribeCustomKeyStores', latencyMs: 800, when: 'after', count: 1 });
    const shared = poller();
    const first = shared.read({ region: REGION }, id, { pollIntervalMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The store changes while that listing is under way; a read asked now must see the change.
    await control.patchStore(id, { ConnectionState: 'DISCONNECTED' });
    const second = await shared.read({ region: REGION }, id, { pollIntervalMs: 50 });
    const firstAnswer = await first;
    expect(firstAnswer.entry?.ConnectionState).toBe('CONNECTED');
    expect(second.entry?.ConnectionState).toBe('DISCONNECTED');
    expect(second.requestId).not.toBe(firstAnswer.requestId);
    const listings = (await control.calls()).filter(isListing);
    expect(listings.map((c) => c.requestId)).toEqual([firstAnswer.requestId, second.requestId]);
  });

  it('serves reads asked together with one listing, and leaves a store it does not list to its caller', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', ConnectionState: 'CONNECTED' }))
          .CustomKeyStoreId,
      );
    }
    await control.clearCalls();
    const shared = poller();
    const answers = await Promise.all(
      [...ids, 'cks-00000000000000000'].map((id) =>
        shared.read({ region: REGION }, id, { pollIntervalMs: 1_000 }),
      ),
    );
    expect(answers.slice(0, 5).map((a) => a.entry?.ConnectionState)).toEqual(ids.map(() => 'CONNECTED'));
    expect(answers[5]?.entry).toBeUndefined();
    expect(new Set(answers.map((a) => a.requestId)).size).toBe(1);
    expect((await control.calls()).filter(isListing)).toHaveLength(1);
    expect(shared.snapshot()).toEqual({ listings: 1, reads: 6 });
  });

  it('gives up a read whose activity was cancelled, without a listing for it', async () => {
    const shared = poller();
    // A listing just ran: the next one is due only after the interval.
    await shared.read({ region: REGION }, 'cks-00000000000000001', { pollIntervalMs: 60_000 });
    await control.clearCalls();
    const controller = new AbortController();
    const read = shared.read({ region: REGION }, 'cks-00000000000000001', {
      pollIntervalMs: 60_000,
      signal: controller.signal,
    });
    controller.abort(new Error('cancelled'));
    await expect(read).rejects.toThrow('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await control.calls()).filter(isListing)).toHaveLength(0);
  });
});
