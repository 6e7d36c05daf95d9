/**
 * The messages a fleet answers, shared by the fleet workflow, the typed fleet client and the CLI.
 * They have the same names as a single run's (`status`, `abort`), so the Temporal UI's query and
 * update forms work the same way on both.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { FleetStatus } from '../src/domain/fleet';

export interface FleetAbortArgs {
  readonly by: string;
  readonly reason: string;
}

export interface FleetAbortAnswer {
  readonly accepted: true;
  /** Runs under way that were cancelled (each undoes its changes before it ends). */
  readonly cancelling: number;
  /** Stores that will not be started. */
  readonly notStarted: number;
}

export const fleetStatusQuery = defineQuery<FleetStatus>('status');
export const fleetAbortUpdate = defineUpdate<FleetAbortAnswer, [FleetAbortArgs]>('abort');
