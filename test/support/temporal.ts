/** Connecting a test file to the run's shared dev server, with names no other test uses. */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';

export interface TestTemporal {
  readonly client: Client;
  readonly nativeConnection: NativeConnection;
  readonly address: string;
  readonly namespace: string;
  close(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TestTemporal> {
  const address = inject('temporalAddress');
  const namespace = inject('temporalNamespace');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection, namespace }),
    nativeConnection,
    address,
    namespace,
    close: async () => {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** A name unique to this test, for task queues and workflow ids. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
