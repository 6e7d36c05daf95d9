/**
 * Shared polling: the waits of many runs in one account-Region are served by one paged, unfiltered
 * DescribeCustomKeyStores per poll interval, instead of one filtered call per store per interval.
 * So the polling calls grow with the account-Regions a worker serves, not with its stores (KMS
 * allows ten stores per account-Region, and a fleet over fifty account-Regions would otherwise
 * poll up to 500 times per interval).
 *
 * The rules that make a read trustworthy under eventual consistency still hold per store:
 *
 * - a read asked for at time t is answered only by a listing whose first page was *sent after t*
 *   (never by one already in flight or finished), so a wait that follows an accepted Connect sees
 *   only answers KMS gave after that Connect, exactly as with its own call;
 * - each answer carries the listing's request id, so the run's audit trail still names the KMS
 *   request behind every state it acted on.
 *
 * Cadence: while reads are pending for an account-Region, its listings start at most once per
 * the shortest poll interval among them (the first one at once). A read therefore waits at most
 * one interval, and every waiting run gets one answer per interval from one listing. Listings pass
 * the worker's KMS budget as polls of `DescribeCustomKeyStores` for their account-Region, under the
 * role session `keystore-maint-poller` when a role is assumed.
 *
 * A store missing from the listing is not concluded missing: the caller reads it on its own (a
 * filtered Describe), which says "not found" with KMS's own answer if it truly is. One process
 * shares its listings; worker replicas each poll for their own runs (docs/fleet.md).
 */
import { DescribeCustomKeyStoresCommand, type CustomKeyStoresListEntry } from '@aws-sdk/client-kms';
import { ApplicationFailure } from '@temporalio/common';
import { accountRegionKey, type KmsTarget } from '../src/domain/location';
import type { KmsClientProvider } from '../src/kms/client';
import { kmsFailure } from '../src/kms/errors';
import type { KmsCallGate } from '../src/kms/rate-limit';
import { checkOwnAccount, countedKmsCall, gatedKmsCall, type KmsCallDeps } from './kms-call';

export const POLLER_ROLE_SESSION_NAME = 'keystore-maint-poller';

/** KMS's largest page: ten stores per account-Region fit in one. */
const PAGE_SIZE = 1_000;

export interface SharedRead {
  /** The store's entry, or undefined when the listing did not include it. */
  readonly entry: CustomKeyStoresListEntry | undefined;
  /** The request id of the listing's page that held the entry (or of its first page). */
  readonly requestId: string | undefined;
}

export interface SharedReadOptions {
  /** The reader's poll interval: the cadence of listings is the shortest of the pending readers'. */
  readonly pollIntervalMs: number;
  readonly signal?: AbortSignal;
  /** Called every 2 s while the read waits (the activity's heartbeat). */
  readonly whileWaiting?: () => void;
}

interface Reader {
  readonly customKeyStoreId: string;
  readonly pollIntervalMs: number;
  readonly resolve: (read: SharedRead) => void;
  readonly reject: (err: Error) => void;
}

interface Listing {
  entries: Map<string, { entry: CustomKeyStoresListEntry; requestId: string | undefined }>;
  firstRequestId: string | undefined;
}

class TargetPoller {
  /** Readers who asked after the last listing began; the next listing answers them. */
  pending: Reader[] = [];
  lastStart: number | undefined;
  inFlight = false;
  timer: NodeJS.Timeout | undefined;

  constructor(readonly target: KmsTarget) {}
}

export interface SharedPollerStats {
  /** Listings made (each one or more pages). */
  readonly listings: number;
  /** Reads answered by them. */
  readonly reads: number;
}

export class SharedDescribePoller {
  private readonly pollers = new Map<string, TargetPoller>();
  private stats = { listings: 0, reads: 0 };

  constructor(
    private readonly deps: KmsCallDeps & {
      readonly kms: KmsClientProvider;
      readonly kmsGate?: KmsCallGate | undefined;
    },
    private readonly now: () => number = Date.now,
  ) {}

  snapshot(): SharedPollerStats {
    return { ...this.stats };
  }

  /** The store's entry from the next listing of its account-Region that starts after this call. */
  read(target: KmsTarget, customKeyStoreId: string, options: SharedReadOptions): Promise<SharedRead> {
    const key = pollerKey(target);
    let poller = this.pollers.get(key);
    if (!poller) {
      poller = new TargetPoller({
        region: target.region,
        ...(target.account !== undefined ? { account: target.account } : {}),
        ...(target.executionRole !== undefined ? { executionRole: target.executionRole } : {}),
        ...(target.externalId !== undefined ? { externalId: target.externalId } : {}),
      });
      this.pollers.set(key, poller);
    }
    const p = poller;
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return new Promise<SharedRead>((resolve, reject) => {
      let ticker: NodeJS.Timeout | undefined;
      const settle = () => {
        if (ticker) clearInterval(ticker);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const reader: Reader = {
        customKeyStoreId,
        pollIntervalMs: options.pollIntervalMs,
        resolve: (read) => {
          settle();
          resolve(read);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = () => {
        p.pending = p.pending.filter((r) => r !== reader);
        if (!p.pending.length && p.timer) {
          // Nobody is left to answer: no listing is due.
          clearTimeout(p.timer);
          p.timer = undefined;
        }
        reader.reject(abortReason(options.signal));
        this.forgetIfIdle(key, p);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.whileWaiting) ticker = setInterval(options.whileWaiting, 2_000);
      p.pending.push(reader);
      this.schedule(key, p);
    });
  }

  private schedule(key: string, poller: TargetPoller): void {
    if (poller.inFlight || poller.timer || !poller.pending.length) return;
    const cadence = Math.min(...poller.pending.map((r) => r.pollIntervalMs));
    const due = poller.lastStart === undefined ? 0 : poller.lastStart + cadence - this.now();
    poller.timer = setTimeout(
      () => {
        poller.timer = undefined;
        void this.list(key, poller);
      },
      Math.max(0, due),
    );
  }

  private async list(key: string, poller: TargetPoller): Promise<void> {
    const readers = poller.pending;
    poller.pending = [];
    if (!readers.length) return this.forgetIfIdle(key, poller);
    poller.inFlight = true;
    // Readers who ask from now on were not covered by this listing: they wait for the next.
    poller.lastStart = this.now();
    try {
      const listing = await this.fetchListing(poller.target);
      this.stats.listings++;
      for (const reader of readers) {
        this.stats.reads++;
        const found = listing.entries.get(reader.customKeyStoreId);
        reader.resolve({
          entry: found?.entry,
          requestId: found?.requestId ?? listing.firstRequestId,
        });
      }
    } catch (err) {
      const failure = kmsFailureOrSelf(err);
      for (const reader of readers) reader.reject(failure);
    } finally {
      poller.inFlight = false;
      this.schedule(key, poller);
      this.forgetIfIdle(key, poller);
    }
  }

  private async fetchListing(target: KmsTarget): Promise<Listing> {
    await checkOwnAccount(this.deps, target);
    const kms = this.deps.kms(target, POLLER_ROLE_SESSION_NAME);
    const listing: Listing = { entries: new Map(), firstRequestId: undefined };
    let marker: string | undefined;
    do {
      const send = () =>
        kms.send(
          new DescribeCustomKeyStoresCommand({ Limit: PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }),
        );
      const page = this.deps.kmsGate
        ? await gatedKmsCall(this.deps.kmsGate, this.deps.metrics, target, 'DescribeCustomKeyStores', send, {
            priority: 'poll',
          })
        : await countedKmsCall(this.deps.metrics, 'DescribeCustomKeyStores', send, target.region);
      const requestId = page.$metadata.requestId;
      listing.firstRequestId ??= requestId;
      for (const entry of page.CustomKeyStores ?? []) {
        if (entry.CustomKeyStoreId) listing.entries.set(entry.CustomKeyStoreId, { entry, requestId });
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return listing;
  }

  private forgetIfIdle(key: string, poller: TargetPoller): void {
    if (!poller.inFlight && !poller.timer && !poller.pending.length && this.pollers.get(key) === poller) {
      // Keep the last start: a reader that comes back at once still waits for the cadence.
      if (poller.lastStart === undefined || this.now() - poller.lastStart > 10 * 60_000)
        this.pollers.delete(key);
    }
  }
}

function pollerKey(target: KmsTarget): string {
  return `${accountRegionKey(target)}|${target.executionRole ?? ''}|${target.externalId ?? ''}`;
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('the read was cancelled');
}

function kmsFailureOrSelf(err: unknown): Error {
  // checkOwnAccount already throws the typed failure; KMS and STS errors are classified here.
  if (err instanceof ApplicationFailure) return err;
  return kmsFailure(err, { operation: 'DescribeCustomKeyStores' });
}
