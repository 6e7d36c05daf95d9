/** The bare workflow with zod imported: what zod's module instance costs each cached run. */
import { condition } from '@temporalio/workflow';
import { z } from 'zod';

export async function keyStoreMaintenance(): Promise<void> {
  void z;
  await condition(() => false);
}
