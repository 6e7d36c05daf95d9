/**
 * A partition of the simulated world: one AWS account in one Region. KMS keeps everything a
 * maintenance run touches per account and Region — custom key stores, keys, aliases, the request
 * quota and the store limit — so the simulator keeps one `SimState` per partition, and every KMS
 * request acts on the partition of its caller's account (from the access key, see iam.ts) and the
 * Region its signature is scoped to.
 *
 * Store ids are the one thing unique across partitions (KMS's are random enough never to clash),
 * so that the control API can find a store by id alone and say where it lives.
 */
import type { ArnContext } from './keys';
import { SimState } from './state';

export interface PartitionId {
  readonly account: string;
  readonly region: string;
}

export class Partition implements PartitionId {
  readonly arn: ArnContext;

  constructor(
    readonly account: string,
    readonly region: string,
    awsPartition: string,
    public state: SimState = new SimState(),
  ) {
    this.arn = { partition: awsPartition, region, account };
  }

  get key(): string {
    return partitionKey(this);
  }
}

export function partitionKey(id: PartitionId): string {
  return `${id.account}/${id.region}`;
}
