/**
 * keystore-maint's package entry for other services: the typed client, the request and result
 * types, and the stable names and failure types.
 */
export {
  createMaintenanceClient,
  MaintenanceClient,
  InvalidMaintenanceRequestError,
  MaintenanceAlreadyRunningError,
  MaintenanceNotFoundError,
  MaintenanceUpdateRejectedError,
  resultFromFailure,
  type MaintenanceClientOptions,
  type RunSummary,
  type StartedRun,
} from './client';
export { TemporalUnreachableError } from './temporal/connection';
export {
  validateMaintenanceRequest,
  type MaintenanceRequest,
  type ResolvedMaintenanceRequest,
} from './domain/request';
export type { MaintenanceResult, MaintenanceStatus, PhaseSpan, DrainRecord, PlanStep } from './domain/status';
export type { AuditEvent } from './domain/audit-event';
export { PHASES, END_STATES, type Phase, type EndState, type RunPhase } from './domain/phases';
export { FAILURE_TYPES } from './domain/errors';
export { DEFAULT_TASK_QUEUE, WORKFLOW_TYPES, SEARCH_ATTRIBUTES, maintenanceWorkflowId } from './domain/names';
export { CONNECTION_ERROR_CODES, describeConnectionError } from './domain/connection-state';
export type {
  ApproveAnswer,
  ExtendWindowArgs,
  EndWindowNowArgs,
  AbortArgs,
  AbortAnswer,
  WindowAnswer,
} from '../workflows/messages';
// For traffic controllers written in TypeScript: verify keystore-maint's webhook requests and
// sign the answers (docs/traffic.md).
export {
  signWebhookResponse,
  verifyIncomingWebhook,
  WebhookNonceCache,
  type IncomingCheck,
} from './traffic/webhook-receiver';
