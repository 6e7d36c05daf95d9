/**
 * The typed client other services use to start and steer maintenance runs. It talks to Temporal
 * only; it never calls KMS. Connection settings come from the standard Temporal configuration
 * (TOML profile, `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`).
 *
 * Errors a caller can act on are typed:
 * - `InvalidMaintenanceRequestError`: the request is invalid (nothing was started);
 * - `MaintenanceAlreadyRunningError`: another run holds the store's lock (its workflow id inside);
 * - `MaintenanceNotFoundError`: no run with that store id or workflow id;
 * - `MaintenanceUpdateRejectedError`: the run refused an update (e.g. extending past maxWindow);
 * - `TemporalUnreachableError`: Temporal cannot be reached at the configured address.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { FAILURE_TYPES } from './domain/errors';
import { maintenanceWorkflowId, SEARCH_ATTRIBUTES, WORKFLOW_TYPES, DEFAULT_TASK_QUEUE } from './domain/names';
import { isEndState, type RunPhase, END_STATES, PHASES } from './domain/phases';
import {
  ACCOUNT_ID_PATTERN,
  CUSTOM_KEY_STORE_ID_PATTERN,
  validateMaintenanceRequest,
  type MaintenanceRequest,
} from './domain/request';
import type { MaintenanceResult, MaintenanceStatus } from './domain/status';
import { connectClient, temporalSettings, type TemporalSettingsOverrides } from './temporal/connection';
import { DEFAULT_CLIENT_SERVICE_NAME, tracingClientInterceptors, tracingFromEnvironment } from './tracing';
import {
  abortUpdate,
  approveUpdate,
  endWindowNowUpdate,
  extendWindowUpdate,
  statusQuery,
  type AbortAnswer,
  type ApproveAnswer,
  type WindowAnswer,
} from '../workflows/messages';
import type { keyStoreMaintenance } from '../workflows/maintenance';

export class InvalidMaintenanceRequestError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid maintenance request:\n  - ${problems.join('\n  - ')}`);
    this.name = 'InvalidMaintenanceRequestError';
  }
}

/** Thrown by `start` when the store already has a run; `runningWorkflowId` names it. */
export class MaintenanceAlreadyRunningError extends Error {
  constructor(
    readonly runningWorkflowId: string,
    readonly customKeyStoreId: string,
  ) {
    super(
      `a maintenance of ${customKeyStoreId} is already running as workflow ${runningWorkflowId}; wait for it to end (keystore-maint watch ${customKeyStoreId}) or abort it`,
    );
    this.name = 'MaintenanceAlreadyRunningError';
  }
}

export class MaintenanceNotFoundError extends Error {
  constructor(readonly workflowId: string) {
    super(
      `no maintenance run found with workflow id ${workflowId}; check the store id, --region and namespace`,
    );
    this.name = 'MaintenanceNotFoundError';
  }
}

export class MaintenanceUpdateRejectedError extends Error {
  constructor(
    readonly update: string,
    message: string,
  ) {
    super(message);
    this.name = 'MaintenanceUpdateRejectedError';
  }
}

export interface MaintenanceClientOptions extends TemporalSettingsOverrides {
  /** Use this Temporal client instead of connecting from the configuration. */
  readonly client?: Client;
  /** Task queue of the workers (default `KEYSTORE_MAINT_TASK_QUEUE` or `keystore-maintenance`). */
  readonly taskQueue?: string;
  /** Region for requests without one and for store ids (default `AWS_REGION`). */
  readonly region?: string;
  /**
   * The account of the stores named by id, when it is not the worker's own: runs of requests with
   * `"account"` have the account in their workflow id (docs/fleet.md, "Locations").
   */
  readonly account?: string;
}

export interface StartedRun {
  readonly workflowId: string;
  readonly runId: string;
}

export interface RunSummary {
  readonly workflowId: string;
  readonly runId: string;
  readonly customKeyStoreId: string | undefined;
  readonly phase: string | undefined;
  readonly status: string;
  readonly startTime: string;
  readonly closeTime: string | undefined;
}

type MaintenanceHandle = WorkflowHandle<typeof keyStoreMaintenance>;

export class MaintenanceClient {
  constructor(
    readonly temporal: Client,
    private readonly taskQueue: string,
    private readonly region: string | undefined,
    private readonly account?: string,
  ) {}

  /**
   * The canonical workflow id for a store id (with the client's Region, and the store's account
   * when it is not the worker's own) or a workflow id as is.
   */
  workflowIdFor(storeIdOrWorkflowId: string, region?: string, account?: string): string {
    if (!CUSTOM_KEY_STORE_ID_PATTERN.test(storeIdOrWorkflowId)) return storeIdOrWorkflowId;
    const r = region ?? this.region;
    if (!r) {
      throw new InvalidMaintenanceRequestError([
        `region: needed to find the run of ${storeIdOrWorkflowId}; set AWS_REGION or pass a region (--region)`,
      ]);
    }
    const a = account ?? this.account;
    if (a !== undefined && !ACCOUNT_ID_PATTERN.test(a)) {
      throw new InvalidMaintenanceRequestError([
        `account: "${a}" is not a 12-digit AWS account id; give the account that owns ${storeIdOrWorkflowId} (--account 111122223333)`,
      ]);
    }
    return maintenanceWorkflowId(r, storeIdOrWorkflowId, a);
  }

  /** Validates and starts a run under the store's canonical workflow id (one run per store). */
  async start(request: MaintenanceRequest): Promise<StartedRun> {
    const validation = validateMaintenanceRequest(request, Date.now());
    if (!validation.ok) throw new InvalidMaintenanceRequestError(validation.problems);
    const region = validation.request.region ?? this.region;
    if (!region) {
      throw new InvalidMaintenanceRequestError([
        'region: the request names no region and AWS_REGION is not set; add "region": "us-east-1" (for example)',
      ]);
    }
    const workflowId = maintenanceWorkflowId(
      region,
      validation.request.customKeyStoreId,
      validation.request.location.account,
    );
    try {
      const handle = await this.temporal.workflow.start<typeof keyStoreMaintenance>(
        WORKFLOW_TYPES.maintenance,
        {
          taskQueue: this.taskQueue,
          workflowId,
          args: [{ ...request, region }],
          workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: validation.request.customKeyStoreId },
            { key: SEARCH_ATTRIBUTES.phase, value: 'PREFLIGHT' },
          ],
          memo: { requestedBy: validation.request.requestedBy, reason: validation.request.reason },
        },
      );
      return { workflowId, runId: handle.firstExecutionRunId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new MaintenanceAlreadyRunningError(workflowId, validation.request.customKeyStoreId);
      }
      throw err;
    }
  }

  private handle(storeIdOrWorkflowId: string): MaintenanceHandle {
    return this.temporal.workflow.getHandle<typeof keyStoreMaintenance>(
      this.workflowIdFor(storeIdOrWorkflowId),
    );
  }

  /** The run's status: the `status` query, or (for a closed run with no worker) its result. */
  async getStatus(storeIdOrWorkflowId: string): Promise<MaintenanceStatus> {
    const handle = this.handle(storeIdOrWorkflowId);
    const description = await this.describe(handle);
    if (description.status.name !== 'RUNNING') {
      const result = await this.closedResult(handle).catch(() => undefined);
      if (result) return result;
    }
    return handle.query(statusQuery);
  }

  private async describe(handle: MaintenanceHandle) {
    try {
      return await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new MaintenanceNotFoundError(handle.workflowId);
      throw err;
    }
  }

  /** Waits for the run to end and returns its result, whatever the end state. */
  async result(storeIdOrWorkflowId: string): Promise<MaintenanceResult> {
    const handle = this.handle(storeIdOrWorkflowId);
    await this.describe(handle);
    return this.closedResult(handle);
  }

  private async closedResult(handle: MaintenanceHandle): Promise<MaintenanceResult> {
    try {
      return await handle.result();
    } catch (err) {
      const fromFailure = resultFromFailure(err);
      if (fromFailure) return fromFailure;
      // Cancelled runs and failures without details (e.g. invalid input): the query still knows.
      const status = await handle.query(statusQuery).catch(() => undefined);
      if (status?.outcome) return { ...status, outcome: status.outcome };
      throw err;
    }
  }

  approve(storeIdOrWorkflowId: string, args: { by: string }): Promise<ApproveAnswer> {
    return this.update('approve', () =>
      this.handle(storeIdOrWorkflowId).executeUpdate(approveUpdate, { args: [args] }),
    );
  }

  extendWindow(storeIdOrWorkflowId: string, args: { by: string; duration: string }): Promise<WindowAnswer> {
    return this.update('extendWindow', () =>
      this.handle(storeIdOrWorkflowId).executeUpdate(extendWindowUpdate, { args: [args] }),
    );
  }

  /** `force`: connect now although the readiness probes say not ready (only while the run waits for them). */
  endWindowNow(storeIdOrWorkflowId: string, args: { by: string; force?: boolean }): Promise<WindowAnswer> {
    return this.update('endWindowNow', () =>
      this.handle(storeIdOrWorkflowId).executeUpdate(endWindowNowUpdate, { args: [args] }),
    );
  }

  abort(storeIdOrWorkflowId: string, args: { by: string; reason: string }): Promise<AbortAnswer> {
    return this.update('abort', () =>
      this.handle(storeIdOrWorkflowId).executeUpdate(abortUpdate, { args: [args] }),
    );
  }

  private async update<T>(name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new MaintenanceNotFoundError(err.workflowId ?? '');
      if (err instanceof WorkflowUpdateFailedError) {
        throw new MaintenanceUpdateRejectedError(name, innermostMessage(err));
      }
      const message = err instanceof Error ? err.message : String(err);
      if (/workflow execution already completed/i.test(message)) {
        throw new MaintenanceUpdateRejectedError(name, `${name}: the run has already ended`);
      }
      throw err;
    }
  }

  /** Maintenance runs, newest first, optionally only those in one phase or end state. */
  async list(
    options: { phase?: RunPhase; customKeyStoreId?: string; limit?: number } = {},
  ): Promise<RunSummary[]> {
    const clauses = [`WorkflowType = '${WORKFLOW_TYPES.maintenance}'`];
    if (options.phase) {
      if (![...PHASES, ...END_STATES].includes(options.phase)) {
        throw new InvalidMaintenanceRequestError([
          `phase: "${options.phase}" is not a phase; use one of ${[...PHASES, ...END_STATES].join(', ')}`,
        ]);
      }
      clauses.push(`${SEARCH_ATTRIBUTES.phase.name} = '${options.phase}'`);
    }
    if (options.customKeyStoreId) {
      if (!CUSTOM_KEY_STORE_ID_PATTERN.test(options.customKeyStoreId)) {
        throw new InvalidMaintenanceRequestError([
          `store: "${options.customKeyStoreId}" is not a custom key store id`,
        ]);
      }
      clauses.push(`${SEARCH_ATTRIBUTES.customKeyStoreId.name} = '${options.customKeyStoreId}'`);
    }
    const runs: RunSummary[] = [];
    for await (const wf of this.temporal.workflow.list({ query: clauses.join(' AND '), pageSize: 100 })) {
      runs.push({
        workflowId: wf.workflowId,
        runId: wf.runId,
        customKeyStoreId: wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.customKeyStoreId),
        phase: wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.phase),
        status: wf.status.name,
        startTime: wf.startTime.toISOString(),
        closeTime: wf.closeTime?.toISOString(),
      });
      if (runs.length >= (options.limit ?? 100)) break;
    }
    return runs;
  }
}

/** The message of the innermost cause: what the workflow itself said, not the client's wrapping. */
export function innermostMessage(err: unknown): string {
  let node: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (node instanceof Error && node.cause) {
    node = node.cause;
    if (node instanceof Error) message = node.message;
  }
  return message;
}

/** A failed run's result travels as the failure's details (types MaintenanceFailed, NeedsAttention). */
export function resultFromFailure(err: unknown): MaintenanceResult | undefined {
  let node: unknown = err;
  while (node && typeof node === 'object') {
    const failure = node as { type?: string; details?: unknown[]; cause?: unknown };
    if (
      (failure.type === FAILURE_TYPES.maintenanceFailed || failure.type === FAILURE_TYPES.needsAttention) &&
      failure.details?.[0] &&
      typeof failure.details[0] === 'object'
    ) {
      const result = failure.details[0] as MaintenanceResult;
      if (isEndState(result.outcome)) return result;
    }
    node = failure.cause;
  }
  return undefined;
}

/** Connects with the standard Temporal configuration (or uses `options.client`). */
export async function createMaintenanceClient(
  options: MaintenanceClientOptions = {},
): Promise<MaintenanceClient> {
  const env = options.env ?? process.env;
  // With OTEL_EXPORTER_OTLP_ENDPOINT set, a run's trace starts here, at StartWorkflow. A client
  // passed in keeps its own interceptors.
  const tracing = options.client ? undefined : tracingFromEnvironment(DEFAULT_CLIENT_SERVICE_NAME, env);
  const temporal =
    options.client ??
    (await connectClient(
      temporalSettings(options),
      tracing ? { workflow: tracingClientInterceptors() } : undefined,
    ));
  const taskQueue = options.taskQueue ?? (env.KEYSTORE_MAINT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE);
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  return new MaintenanceClient(temporal, taskQueue, region, options.account);
}
