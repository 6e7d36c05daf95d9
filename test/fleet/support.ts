/** Helpers for the fleet tests: a fleet client on the test environment's task queue, and the call log. */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { CUSTOM_KEY_STORE_OPERATIONS, type SimCall } from '../../src/sim';
import type { FleetRequest, FleetResult, FleetStatus } from '../../src/domain/fleet';
import { FleetClient } from '../../src/fleet-client';
import { peakCallsInAnyWindow } from '../../src/kms/rate-limit';
import { DEFAULT_CONFIRM_SETTLE, REGION, eventually, type MaintenanceEnv } from '../support/maintenance-env';

export function fleetClient(env: MaintenanceEnv): FleetClient {
  return new FleetClient(env.temporal.client, env.taskQueue, REGION);
}

/** A fleet request with short timings. */
export function fleetRequest(overrides: Partial<FleetRequest> = {}): FleetRequest {
  return {
    request: {
      window: { duration: '1s' },
      pollInterval: '200ms',
      timeouts: { disconnect: '2m', connect: '2m' },
      confirmSettle: DEFAULT_CONFIRM_SETTLE,
    },
    requestedBy: 'fleet-tester@example.com',
    reason: 'fleet test',
    ...overrides,
  };
}

export function uniqueFleetName(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

/** Waits until the fleet's status satisfies `predicate`; returns that status. */
export function fleetStatusWhen(
  client: FleetClient,
  workflowId: string,
  predicate: (status: FleetStatus) => boolean,
  what: string,
): Promise<FleetStatus> {
  return eventually(async () => {
    const status = await client.status(workflowId).catch(() => undefined);
    return status && predicate(status) ? status : undefined;
  }, what);
}

export async function fleetResult(client: FleetClient, workflowId: string): Promise<FleetResult> {
  return client.result(workflowId);
}

/** Whether a workflow with this id was ever started. */
export async function everStarted(env: MaintenanceEnv, workflowId: string): Promise<boolean> {
  try {
    await env.temporal.client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

const CKS_OPERATIONS: ReadonlySet<string> = new Set(CUSTOM_KEY_STORE_OPERATIONS);

/** The custom-key-store calls in the simulator's log (the ones the KMS quota counts). */
export function customKeyStoreCalls(calls: readonly SimCall[]): SimCall[] {
  return calls.filter((c) => CKS_OPERATIONS.has(c.operation));
}

/**
 * The most calls of each custom-key-store operation the simulator received in any one second, per
 * account and Region: what KMS's quotas count (each operation has its own).
 */
export function peakPerOperation(calls: readonly SimCall[]): Map<string, number> {
  const times = new Map<string, number[]>();
  for (const c of customKeyStoreCalls(calls)) {
    const key = `${c.account ?? ''}/${c.region ?? ''}/${c.operation}`;
    const list = times.get(key) ?? [];
    list.push(Date.parse(c.at));
    times.set(key, list);
  }
  return new Map([...times].map(([key, at]) => [key, peakCallsInAnyWindow(at)]));
}
