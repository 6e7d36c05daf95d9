/**
 * Everything the simulator must remember across a restart: custom key stores (with their pending
 * transitions and connection history), keys (with their secrets), aliases, and the CloudHSM
 * clusters of the account and Region. Faults, the call log and quota buckets are deliberately not
 * part of it: they describe one session, not the account.
 */
import type { ClusterRecord } from './cloudhsm-clusters';
import type { AliasRecord, KeyRecord, StoreRecord } from './model';

export class SimState {
  readonly stores = new Map<string, StoreRecord>();
  readonly keys = new Map<string, KeyRecord>();
  readonly aliases = new Map<string, AliasRecord>();
  /** CloudHSM v2 clusters by id (DescribeClusters, and what a CloudHSM key store connects to). */
  readonly clusters = new Map<string, ClusterRecord>();
  /** Source of creation-order numbers for paging; never reused. */
  nextSeq = 1;

  takeSeq(): number {
    return this.nextSeq++;
  }

  get isEmpty(): boolean {
    return (
      this.stores.size === 0 && this.keys.size === 0 && this.aliases.size === 0 && this.clusters.size === 0
    );
  }

  clear(): void {
    this.stores.clear();
    this.keys.clear();
    this.aliases.clear();
    this.clusters.clear();
    this.nextSeq = 1;
  }

  storesInOrder(): StoreRecord[] {
    return [...this.stores.values()].sort((a, b) => a.seq - b.seq);
  }

  keysInOrder(): KeyRecord[] {
    return [...this.keys.values()].sort((a, b) => a.seq - b.seq);
  }

  aliasesInOrder(): AliasRecord[] {
    return [...this.aliases.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  keysInStore(storeId: string): KeyRecord[] {
    return this.keysInOrder().filter((key) => key.customKeyStoreId === storeId);
  }
}
