/**
 * Temporal Schedules for recurring maintenance windows ("first Sunday 02:00 Europe/Berlin, 2h").
 *
 * - Overlap policy SKIP: a schedule never starts a run while its previous one is still going,
 *   and the per-store lock (canonical workflow id) refuses a run while any other is going.
 * - A bounded catch-up window (default 15 minutes): after an outage of the Temporal server, a
 *   missed window is not started hours late; an operator triggers it by hand if still wanted.
 * - Scheduled runs start under `keystore-maint-schedule/<scheduleId>-<time>` and take the store's
 *   lock by running the maintenance as a child under `keystore-maint/<region>/<store>`.
 */
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type CalendarSpec,
  type Client,
  type ScheduleDescription,
} from '@temporalio/client';
import { z } from 'zod';
import { DURATION_FORMS, parseDuration } from './domain/duration';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from './domain/names';
import { validateMaintenanceRequest, type MaintenanceRequest } from './domain/request';
import { InvalidMaintenanceRequestError } from './client';

export const DEFAULT_CATCHUP_WINDOW = '15m';
export const SCHEDULE_WORKFLOW_ID_PREFIX = 'keystore-maint-schedule';

export class ScheduleInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleInputError';
  }
}

export class MaintenanceScheduleNotFoundError extends Error {
  constructor(readonly scheduleId: string) {
    super(`no schedule ${scheduleId}; list them with: keystore-maint schedule list`);
    this.name = 'MaintenanceScheduleNotFoundError';
  }
}

export interface MaintenanceScheduleInput {
  readonly scheduleId: string;
  /** The request every run gets; must use `window.duration` (a fixed `until` cannot recur). */
  readonly request: MaintenanceRequest;
  readonly cron?: string;
  /** A Temporal calendar spec, e.g. `{ "dayOfWeek": "SUNDAY", "dayOfMonth": { "start": 1, "end": 7 }, "hour": 2 }`. */
  readonly calendar?: CalendarSpec;
  readonly timezone?: string;
  readonly jitter?: string;
  readonly catchupWindow?: string;
  readonly taskQueue: string;
  readonly note?: string;
}

const rangeOrValue = z.union([
  z.number(),
  z.string(),
  z.strictObject({
    start: z.union([z.number(), z.string()]),
    end: z.union([z.number(), z.string()]).optional(),
    step: z.number().optional(),
  }),
]);
const calendarSchema = z.strictObject({
  second: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  minute: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  hour: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  dayOfMonth: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  month: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  year: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  dayOfWeek: z.union([rangeOrValue, z.array(rangeOrValue)]).optional(),
  comment: z.string().optional(),
});

/** Parses `--calendar` JSON into a calendar spec, naming what is wrong. */
export function parseCalendar(text: string): CalendarSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ScheduleInputError(
      `--calendar must be JSON, e.g. '{"dayOfWeek":"SUNDAY","dayOfMonth":{"start":1,"end":7},"hour":2}' (first Sunday, 02:00)`,
    );
  }
  const parsed = calendarSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(calendar)'}: ${i.message}`);
    throw new ScheduleInputError(
      `--calendar is not a calendar spec (${problems.join('; ')}); fields: second, minute, hour, dayOfMonth, month, year, dayOfWeek, comment`,
    );
  }
  return parsed.data as CalendarSpec;
}

function checkDuration(flag: string, value: string | undefined): void {
  if (value !== undefined && parseDuration(value) === undefined) {
    throw new ScheduleInputError(`${flag}: "${value}" is not a duration; use ${DURATION_FORMS}`);
  }
}

export async function createMaintenanceSchedule(
  client: Client,
  input: MaintenanceScheduleInput,
): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(input.scheduleId)) {
    throw new ScheduleInputError(
      `schedule id "${input.scheduleId}" may use letters, digits, ".", "_" and "-" (e.g. payments-hsm-monthly)`,
    );
  }
  if ((input.cron === undefined) === (input.calendar === undefined)) {
    throw new ScheduleInputError('give exactly one of --cron or --calendar');
  }
  checkDuration('--jitter', input.jitter);
  checkDuration('--catchup-window', input.catchupWindow);
  const validation = validateMaintenanceRequest(input.request, Date.now());
  if (!validation.ok) throw new InvalidMaintenanceRequestError(validation.problems);
  if ('untilMs' in validation.request.window) {
    throw new ScheduleInputError('a schedule needs --window <duration>; a fixed --until cannot recur');
  }
  if (!validation.request.region) {
    throw new ScheduleInputError("a schedule needs the store's Region: pass --region or set AWS_REGION");
  }
  await client.schedule.create({
    scheduleId: input.scheduleId,
    spec: {
      ...(input.cron ? { cronExpressions: [input.cron] } : {}),
      ...(input.calendar ? { calendars: [input.calendar] } : {}),
      ...(input.timezone ? { timezone: input.timezone } : {}),
      ...(input.jitter ? { jitter: parseDuration(input.jitter) } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: WORKFLOW_TYPES.maintenance,
      taskQueue: input.taskQueue,
      workflowId: `${SCHEDULE_WORKFLOW_ID_PREFIX}/${input.scheduleId}`,
      args: [input.request],
      typedSearchAttributes: [
        { key: SEARCH_ATTRIBUTES.customKeyStoreId, value: validation.request.customKeyStoreId },
      ],
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: parseDuration(input.catchupWindow ?? DEFAULT_CATCHUP_WINDOW) ?? 15 * 60_000,
    },
    state: {
      note:
        input.note ?? `keystore-maint: ${validation.request.customKeyStoreId} — ${validation.request.reason}`,
    },
    memo: {
      customKeyStoreId: validation.request.customKeyStoreId,
      ...(input.cron ? { cron: input.cron } : {}),
    },
  });
}

export interface MaintenanceScheduleView {
  readonly scheduleId: string;
  readonly paused: boolean;
  readonly note: string | undefined;
  readonly customKeyStoreId: string | undefined;
  readonly spec: {
    readonly cron: readonly string[];
    readonly calendars: readonly unknown[];
    readonly timezone: string | undefined;
  };
  readonly nextStartTimes: readonly string[];
  readonly recentRuns: readonly { readonly scheduledAt: string; readonly workflowId: string }[];
  readonly request: unknown;
}

function view(scheduleId: string, d: ScheduleDescription): MaintenanceScheduleView {
  const action = d.action.type === 'startWorkflow' ? d.action : undefined;
  const request: unknown = action?.args?.[0];
  const storeId: unknown =
    typeof request === 'object' && request !== null
      ? (request as Record<string, unknown>).customKeyStoreId
      : undefined;
  return {
    scheduleId,
    paused: d.state.paused,
    note: d.state.note,
    customKeyStoreId: typeof storeId === 'string' ? storeId : undefined,
    spec: {
      // The server turns cron expressions into calendars; the original is kept in the memo.
      cron: typeof d.memo?.cron === 'string' ? [d.memo.cron] : [],
      calendars: d.spec.calendars ?? [],
      timezone: d.spec.timezone,
    },
    nextStartTimes: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt.toISOString(),
      workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : '',
    })),
    request,
  };
}

async function describeOrNotFound(client: Client, scheduleId: string): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new MaintenanceScheduleNotFoundError(scheduleId);
    throw err;
  }
}

export async function describeMaintenanceSchedule(
  client: Client,
  scheduleId: string,
): Promise<MaintenanceScheduleView> {
  return view(scheduleId, await describeOrNotFound(client, scheduleId));
}

export async function listMaintenanceSchedules(client: Client): Promise<MaintenanceScheduleView[]> {
  const views: MaintenanceScheduleView[] = [];
  for await (const summary of client.schedule.list()) {
    const action = summary.action;
    if (action?.type !== 'startWorkflow' || action.workflowType !== WORKFLOW_TYPES.maintenance) continue;
    views.push(view(summary.scheduleId, await describeOrNotFound(client, summary.scheduleId)));
  }
  return views;
}

export async function pauseMaintenanceSchedule(
  client: Client,
  scheduleId: string,
  note: string,
): Promise<void> {
  await describeOrNotFound(client, scheduleId);
  await client.schedule.getHandle(scheduleId).pause(note);
}

export async function unpauseMaintenanceSchedule(
  client: Client,
  scheduleId: string,
  note: string,
): Promise<void> {
  await describeOrNotFound(client, scheduleId);
  await client.schedule.getHandle(scheduleId).unpause(note);
}

/** Starts a run now, with the schedule's overlap policy (SKIP: nothing if one is running). */
export async function triggerMaintenanceSchedule(client: Client, scheduleId: string): Promise<void> {
  await describeOrNotFound(client, scheduleId);
  await client.schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
}

export async function deleteMaintenanceSchedule(client: Client, scheduleId: string): Promise<void> {
  await describeOrNotFound(client, scheduleId);
  await client.schedule.getHandle(scheduleId).delete();
}
