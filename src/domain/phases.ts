/**
 * The phases of one maintenance run, in order, and the four ways a run ends. The current one is
 * the `MaintenancePhase` search attribute, so runs can be filtered by it in the Temporal UI.
 */
export const PHASES = [
  'PREFLIGHT',
  'AWAITING_APPROVAL',
  'DRAINING',
  'DISCONNECTING',
  'WAITING_DISCONNECTED',
  'IN_WINDOW',
  'RECONNECTING',
  'WAITING_CONNECTED',
  'VERIFYING',
  'RESTORING',
] as const;
export type Phase = (typeof PHASES)[number];

/**
 * - `COMPLETED`: the store is connected and traffic is back (or, for a dry run, the plan is valid);
 * - `CANCELLED`: stopped on request or by an approval timeout, with everything it changed undone;
 * - `FAILED`: refused or failed, with everything it changed undone;
 * - `NEEDS_ATTENTION`: the store did not come back; traffic stays drained and an operator must act.
 */
export const END_STATES = ['COMPLETED', 'CANCELLED', 'FAILED', 'NEEDS_ATTENTION'] as const;
export type EndState = (typeof END_STATES)[number];

export type RunPhase = Phase | EndState;

export function isEndState(value: string): value is EndState {
  return (END_STATES as readonly string[]).includes(value);
}
