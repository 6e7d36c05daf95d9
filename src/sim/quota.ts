/**
 * KMS's request quota for custom key store operations: each of Create, Describe, Connect,
 * Disconnect, Update and Delete CustomKeyStore(s) may be called N times per second (5 by default)
 * per account and Region, shared by every caller of that account in that Region. Modelled as one
 * token bucket per (account, Region, operation) whose capacity and refill rate are both N: a burst
 * of N passes, then N per second. Only requests that reach the quota check take a token; a
 * throttled request takes none.
 */

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private readonly capacity: number;

  constructor(
    private readonly ratePerSecond: number,
    now: number,
  ) {
    // A fractional rate (0.5/s) still admits one request at a time.
    this.capacity = Math.max(1, ratePerSecond);
    this.tokens = this.capacity;
    this.updatedAt = now;
  }

  tryTake(now: number): boolean {
    const elapsed = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class RequestQuota {
  private readonly buckets = new Map<string, TokenBucket>();

  /** `ratePerSecond` 0 means unlimited. */
  constructor(private ratePerSecond: number) {}

  get rate(): number {
    return this.ratePerSecond;
  }

  /** Changes the rate; buckets start full again. */
  setRate(ratePerSecond: number): void {
    this.ratePerSecond = ratePerSecond;
    this.buckets.clear();
  }

  reset(): void {
    this.buckets.clear();
  }

  /**
   * True when the request may proceed. `scope` names whose quota it is (the partition, e.g.
   * `111122223333/us-east-1`); each scope has its own bucket per operation.
   */
  admit(operation: string, now: number, scope = ''): boolean {
    if (this.ratePerSecond <= 0) return true;
    const key = `${scope}|${operation}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.ratePerSecond, now);
      this.buckets.set(key, bucket);
    }
    return bucket.tryTake(now);
  }
}
