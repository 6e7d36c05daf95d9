/** A workflow that only waits: the floor of what a cached run can cost. */
import { condition } from '@temporalio/workflow';

export async function keyStoreMaintenance(): Promise<void> {
  await condition(() => false);
}
