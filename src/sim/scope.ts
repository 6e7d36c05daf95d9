/**
 * What a KMS operation sees: one partition (account and Region) of the simulator, plus the
 * simulator services it needs (time, persistence, timers, timings, the store limit). Operations
 * are written against this, never against the whole simulator, so that no operation can reach
 * another account's or Region's stores, keys or aliases.
 */
import type { EffectiveTimings } from './config';
import type { ConnectReadiness } from './connect-readiness';
import type { Caller } from './iam';
import type { ArnContext } from './keys';
import type { KeyRecord, StoreRecord } from './model';
import type { SimState } from './state';

export interface KeyInput {
  keyId?: string | undefined;
  description?: string | undefined;
  enabled?: boolean | undefined;
  store?: StoreRecord | undefined;
  xksKeyId?: string | undefined;
}

export interface KmsScope {
  /** The partition's stores, keys and aliases. */
  readonly state: SimState;
  /** The partition's account and Region, for ARNs. */
  readonly arn: ArnContext;
  /** Custom key stores allowed in the partition; 0 = unlimited. */
  readonly storeLimit: number;
  /** The caller, when the request came through the KMS endpoint. */
  readonly caller?: Caller | undefined;
  now(): number;
  persist(): void;
  /** After a store's connection state changed: arms its timer and saves. */
  storeChanged(store: StoreRecord): void;
  storeRemoved(storeId: string): void;
  timingsOf(store: StoreRecord): EffectiveTimings;
  storeOfKey(key: KeyRecord): StoreRecord | undefined;
  createKeyRecord(input: KeyInput): KeyRecord;
  /** A store id unused in every partition. */
  newStoreId(): string;
  /** Decides a connect of one of the partition's stores when it comes due. */
  readonly readiness: ConnectReadiness;
}
