/**
 * The typed client for fleets (docs/fleet.md): start a fleet, read its status, abort it, wait for
 * its result. Like the maintenance client it talks to Temporal only, never to KMS.
 *
 * Errors a caller can act on are typed:
 * - `InvalidFleetRequestError`: the request is invalid (nothing was started);
 * - `FleetAlreadyRunningError`: a fleet with that workflow id is running;
 * - `FleetNotFoundError`: no fleet with that workflow id;
 * - `FleetUpdateRejectedError`: the fleet refused the update (e.g. aborted twice).
 */
import { randomBytes } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { innermostMessage } from './client';
import {
  FLEET_FAILURE_TYPES,
  FLEET_OUTCOMES,
  fleetWorkflowId,
  LOCATIONS_FLEET_SCOPE,
  validateFleetRequest,
  type FleetRequest,
  type FleetResult,
  type FleetStatus,
} from './domain/fleet';
import { DEFAULT_TASK_QUEUE, WORKFLOW_TYPES } from './domain/names';
import type { MaintenanceStatus } from './domain/status';
import { fleetAbortUpdate, fleetStatusQuery, type FleetAbortAnswer } from '../workflows/fleet-messages';
import type { keyStoreFleetMaintenance } from '../workflows/fleet';
import { statusQuery } from '../workflows/messages';

export class InvalidFleetRequestError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid fleet request:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidFleetRequestError';
  }
}

export class FleetAlreadyRunningError extends Error {
  constructor(readonly workflowId: string) {
    super(`a fleet with workflow id ${workflowId} is already running; choose another --id or wait for it`);
    this.name = 'FleetAlreadyRunningError';
  }
}

export class FleetNotFoundError extends Error {
  constructor(readonly workflowId: string) {
    super(`no fleet found with workflow id ${workflowId}; check the id and the namespace`);
    this.name = 'FleetNotFoundError';
  }
}

export class FleetUpdateRejectedError extends Error {
  constructor(
    readonly update: string,
    message: string,
  ) {
    super(message);
    this.name = 'FleetUpdateRejectedError';
  }
}

export interface StartedFleet {
  readonly workflowId: string;
  readonly runId: string;
}

type FleetHandle = WorkflowHandle<typeof keyStoreFleetMaintenance>;

/** A fleet's status with, for each running store, the phase its own run reports. */
export interface FleetStatusWithPhases extends FleetStatus {
  readonly phases: Readonly<Record<string, string>>;
}

export class FleetClient {
  constructor(
    readonly temporal: Client,
    private readonly taskQueue: string = DEFAULT_TASK_QUEUE,
    private readonly region?: string,
  ) {}

  /**
   * Validates and starts a fleet. The workflow id defaults to
   * `keystore-maint-fleet/<region>/<UTC time>-<random>` (`keystore-maint-fleet/locations/…` for a
   * fleet over `locations`); give `workflowId` (or `name`) to choose it.
   */
  async start(
    request: FleetRequest,
    options: { workflowId?: string; name?: string } = {},
  ): Promise<StartedFleet> {
    const validation = validateFleetRequest(request, Date.now());
    if (!validation.ok) throw new InvalidFleetRequestError(validation.problems);
    const locations = validation.request.selection.kind === 'locations';
    const region = locations ? undefined : (validation.request.region ?? this.region);
    if (!locations && !region) {
      throw new InvalidFleetRequestError([
        'region: the request names no region and AWS_REGION is not set; add "region": "us-east-1" (for example)',
      ]);
    }
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const workflowId =
      options.workflowId ??
      fleetWorkflowId(
        region ?? LOCATIONS_FLEET_SCOPE,
        options.name ?? `${stamp}-${randomBytes(3).toString('hex')}`,
      );
    try {
      const handle = await this.temporal.workflow.start<typeof keyStoreFleetMaintenance>(
        WORKFLOW_TYPES.fleet,
        {
          taskQueue: this.taskQueue,
          workflowId,
          args: [region !== undefined ? { ...request, region } : request],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          memo: { requestedBy: validation.request.requestedBy, reason: validation.request.reason },
        },
      );
      return { workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new FleetAlreadyRunningError(workflowId);
      throw err;
    }
  }

  private handle(workflowId: string): FleetHandle {
    return this.temporal.workflow.getHandle<typeof keyStoreFleetMaintenance>(workflowId);
  }

  /** The fleet's status (the `status` query; it covers every continue-as-new run). */
  async status(workflowId: string): Promise<FleetStatus> {
    const handle = this.handle(workflowId);
    try {
      return await handle.query(fleetStatusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new FleetNotFoundError(workflowId);
      throw err;
    }
  }

  /** The status plus the phase of each running store's own run (one query per running store). */
  async statusWithPhases(workflowId: string): Promise<FleetStatusWithPhases> {
    const status = await this.status(workflowId);
    const running = status.stores.filter((s) => s.state === 'RUNNING');
    const phases: Record<string, string> = {};
    await Promise.all(
      running.map(async (store) => {
        const child = await this.temporal.workflow
          .getHandle(store.workflowId)
          .query(statusQuery)
          .catch(() => undefined as MaintenanceStatus | undefined);
        if (child) phases[store.customKeyStoreId] = child.outcome ?? child.phase;
      }),
    );
    return { ...status, phases };
  }

  /** Aborts the fleet: running runs are cancelled (each undoes its changes), no more start. */
  async abort(workflowId: string, args: { by: string; reason: string }): Promise<FleetAbortAnswer> {
    try {
      return await this.handle(workflowId).executeUpdate(fleetAbortUpdate, { args: [args] });
    } catch (err) {
      // An update to a closed workflow is answered "not found: workflow execution already completed".
      if (/workflow execution already completed/i.test(err instanceof Error ? err.message : String(err))) {
        throw new FleetUpdateRejectedError('abort', 'abort: the fleet has already ended');
      }
      if (err instanceof WorkflowNotFoundError) throw new FleetNotFoundError(workflowId);
      if (err instanceof WorkflowUpdateFailedError) {
        throw new FleetUpdateRejectedError('abort', innermostMessage(err));
      }
      throw err;
    }
  }

  /** Waits for the fleet to end and returns its result, whatever the outcome. */
  async result(workflowId: string): Promise<FleetResult> {
    const handle = this.handle(workflowId);
    try {
      return await handle.result();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new FleetNotFoundError(workflowId);
      const fromFailure = fleetResultFromFailure(err);
      if (fromFailure) return fromFailure;
      // A cancelled fleet: its status still knows how every store ended.
      const status = await handle.query(fleetStatusQuery).catch(() => undefined);
      if (status?.outcome) return { ...status, outcome: status.outcome };
      throw err;
    }
  }
}

/** A fleet in which a store failed fails with type FleetRunsFailed, its result in the details. */
export function fleetResultFromFailure(err: unknown): FleetResult | undefined {
  let node: unknown = err;
  while (node && typeof node === 'object') {
    const failure = node as { type?: string; details?: unknown[]; cause?: unknown };
    const detail = failure.details?.[0] as { outcome?: string } | undefined;
    if (
      failure.type === FLEET_FAILURE_TYPES.runsFailed &&
      detail &&
      typeof detail.outcome === 'string' &&
      (FLEET_OUTCOMES as readonly string[]).includes(detail.outcome)
    ) {
      return detail as FleetResult;
    }
    node = failure.cause;
  }
  return undefined;
}
