/**
 * Notifications (docs/notifications.md): messages to people and systems as a run moves — Slack,
 * Microsoft Teams, a generic signed JSON webhook, Amazon SNS.
 *
 * Glossary:
 * - event: one moment of a run worth telling (`NOTIFY_EVENTS`), tied to entering a phase;
 * - destination: a worker-side target (kind, URL or topic, secret), configured by name under
 *   `"notifications"` in the worker's gates file (src/notify/config.ts). A request names
 *   destinations, never URLs or secrets;
 * - delivery: one event to one destination, retried with backoff in the background. A delivery
 *   never blocks or delays a phase; at the end of the run the run waits, bounded, for the last
 *   ones (the store is back or reported by then).
 *
 * Each event has a stable id (`eventId`: the run and the audit sequence number of the phase
 * change), sent with every attempt, so a receiver can drop the rare duplicate a lost worker
 * causes (a delivery is at least once; retries of one delivery reuse the id).
 */
import { z } from 'zod';
import { GATE_SOURCE_NAME_PATTERN } from './gates';
import type { EndState, RunPhase } from './phases';

/**
 * - `started`: the run began its checks (PREFLIGHT);
 * - `drainStarted`: traffic is being moved off the store (DRAINING);
 * - `disconnected`: the store is confirmed DISCONNECTED, the window is open (IN_WINDOW);
 * - `reconnectStarted`: the window is over, ConnectCustomKeyStore is next (RECONNECTING);
 * - `back`: the store is confirmed CONNECTED, traffic is being restored (RESTORING);
 * - `ended`: every end state — COMPLETED, CANCELLED, FAILED and NEEDS_ATTENTION.
 */
export const NOTIFY_EVENTS = [
  'started',
  'drainStarted',
  'disconnected',
  'reconnectStarted',
  'back',
  'ended',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** What a request and a destination get unless they say otherwise: every step that matters to a watcher. */
export const DEFAULT_NOTIFY_EVENTS: readonly NotifyEvent[] = [
  'drainStarted',
  'disconnected',
  'reconnectStarted',
  'back',
  'ended',
];

/** The event entering `phase` produces, if any. */
export function notifyEventFor(phase: RunPhase): NotifyEvent | undefined {
  switch (phase) {
    case 'PREFLIGHT':
      return 'started';
    case 'DRAINING':
      return 'drainStarted';
    case 'IN_WINDOW':
      return 'disconnected';
    case 'RECONNECTING':
      return 'reconnectStarted';
    case 'RESTORING':
      return 'back';
    case 'COMPLETED':
    case 'CANCELLED':
    case 'FAILED':
    case 'NEEDS_ATTENTION':
      return 'ended';
    default:
      return undefined;
  }
}

/** The most destinations one request may name. */
export const MAX_NOTIFY_DESTINATIONS = 10;

const eventsSchema = (field: string) =>
  z
    .array(
      z.enum(NOTIFY_EVENTS, {
        error: `must be one of ${NOTIFY_EVENTS.map((e) => `"${e}"`).join(', ')}`,
      }),
      { error: `${field} must be a list of event names, e.g. ["disconnected", "ended"]` },
    )
    .min(
      1,
      `name at least one event (or leave "${field}" out for the default: ${DEFAULT_NOTIFY_EVENTS.join(', ')})`,
    )
    .refine((events) => new Set(events).size === events.length, { message: 'names an event twice' });

/** The events list of a request or of a worker-side destination. */
export const notifyEventsSchema = eventsSchema;

/** The request's `notify` member (built per validation, like every request schema). */
export const notifySchema = () =>
  z.strictObject(
    {
      to: z
        .array(
          z
            .string({ error: 'must be the name of a notification destination configured on the worker' })
            .regex(
              GATE_SOURCE_NAME_PATTERN,
              'must be the name of a notification destination configured on the worker ("notifications" in KEYSTORE_MAINT_GATES_FILE; lower-case letters, digits, ".", "_", "-"), e.g. "ops-slack"',
            ),
          { error: 'must be a list of destination names, e.g. ["ops-slack"]' },
        )
        .min(1, 'name at least one destination (or leave "notify" out)')
        .max(MAX_NOTIFY_DESTINATIONS, `at most ${MAX_NOTIFY_DESTINATIONS} destinations`)
        .refine((to) => new Set(to).size === to.length, { message: 'names a destination twice' }),
      events: eventsSchema('notify.events').optional(),
    },
    {
      error: 'must be {"to": ["<destination>", …]} or {"to": […], "events": ["disconnected", "ended", …]}',
    },
  );

export type NotifyInput = z.input<ReturnType<typeof notifySchema>>;

export interface ResolvedNotify {
  readonly to: readonly string[];
  readonly events: readonly NotifyEvent[];
}

export function resolveNotify(input: { to: string[]; events?: NotifyEvent[] | undefined }): ResolvedNotify {
  return { to: [...input.to], events: [...(input.events ?? DEFAULT_NOTIFY_EVENTS)] };
}

/** One event as every destination is told it (the generic webhook's body; SNS's message). */
export interface NotificationEvent {
  /** Stable across retries of the same event: `<workflowId>/<runId>/<seq>` (receivers deduplicate on it). */
  readonly eventId: string;
  readonly event: NotifyEvent;
  /** When the run entered the phase (workflow time). */
  readonly at: string;
  readonly phase: RunPhase;
  readonly outcome?: EndState;
  /** The run's one line for humans at that moment. */
  readonly message: string;
  readonly customKeyStoreId: string;
  readonly storeName?: string;
  readonly storeType?: string;
  readonly region: string;
  readonly account?: string;
  readonly windowEndsAt?: string;
  readonly requestedBy: string;
  readonly reason: string;
  readonly ticket?: string;
  readonly dryRun: boolean;
  readonly workflowId: string;
  readonly runId: string;
}

/** What one delivery came to (the activity's answer). */
export type DeliveryOutcome =
  | {
      readonly delivered: true;
      readonly kind: DestinationKind;
      /** The attempt that got through (1 = the first). */
      readonly attempt: number;
      /** The HTTP status, or SNS's MessageId. */
      readonly receipt: string;
    }
  | { readonly delivered: false; readonly kind: DestinationKind; readonly skipped: string };

export const DESTINATION_KINDS = ['slack', 'teams', 'webhook', 'sns'] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** Failure types of the notification activity. */
export const NOTIFICATION_FAILURE_TYPES = {
  /** An attempt did not get through (no answer, a 5xx, a 429, SNS throttling): retried. */
  notDelivered: 'NotificationNotDelivered',
  /** Another attempt cannot help (no such destination, a 4xx, SNS refusing the topic). */
  undeliverable: 'NotificationUndeliverable',
} as const;

/** What `status.notifications` shows (requests with `notify` only). */
export interface NotificationsStatus {
  readonly sent: number;
  readonly failed: number;
  /** Not wanted by the destination's own `events` filter on the worker. */
  readonly skipped: number;
  /** Deliveries still being tried. */
  readonly pending: number;
  readonly lastProblem?: string;
}
