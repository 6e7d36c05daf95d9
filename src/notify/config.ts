/**
 * The worker's notification destinations (docs/notifications.md), read from `"notifications"` in
 * the gates file (src/gates/config.ts), beside the hooks and HTTP gates: one place for every
 * service the worker may call about a run, one `ALLOW_HTTP` switch.
 *
 *     "notifications": {
 *       "ops-slack":  {"kind": "slack",   "urlFile": "/run/secrets/slack-webhook-url"},
 *       "ops-teams":  {"kind": "teams",   "urlFile": "/run/secrets/teams-workflow-url"},
 *       "change-bus": {"kind": "webhook", "url": "https://events.internal/kms", "secretFile": "…"},
 *       "sec-topic":  {"kind": "sns",     "topicArn": "arn:aws:sns:us-east-1:111122223333:kms-maint"}
 *     },
 *     "temporalUiUrl": "https://temporal.internal"
 *
 * A Slack or Teams webhook URL is itself the credential (whoever has it can post), so it may be
 * given as `urlFile` (read when used, so a rotated URL takes effect without a restart) rather
 * than in the file. Any destination may narrow the events it wants (`"events"`); the request's
 * list is then filtered by it. SNS is reached with the worker's own AWS credentials, in the
 * topic's Region (`AWS_ENDPOINT_URL_SNS` overrides the endpoint).
 */
import { z } from 'zod';
import { durationSchema } from '../domain/duration-schema';
import { fileValue, type ReadWhenUsed } from '../util/read-when-used';
import {
  DEFAULT_NOTIFY_EVENTS,
  notifyEventsSchema,
  type DestinationKind,
  type NotifyEvent,
} from '../domain/notifications';

/** How long one attempt of one delivery may take unless the destination says otherwise. */
export const DEFAULT_NOTIFICATION_TIMEOUT_MS = 10_000;

interface DestinationBase {
  readonly name: string;
  readonly events: readonly NotifyEvent[];
  readonly timeoutMs: number;
}

export type NotificationDestination =
  | (DestinationBase & { readonly kind: 'slack' | 'teams'; readonly url: ReadWhenUsed })
  | (DestinationBase & {
      readonly kind: 'webhook';
      readonly url: ReadWhenUsed;
      /** Signs every request like the traffic webhook (src/traffic/webhook-signature.ts); absent: unsigned. */
      readonly secret: ReadWhenUsed | undefined;
    })
  | (DestinationBase & { readonly kind: 'sns'; readonly topicArn: string; readonly region: string });

export interface NotificationsConfig {
  destination(name: string): NotificationDestination | undefined;
  readonly destinationNames: readonly string[];
  /** The Temporal Web UI's base URL, for links to a run; absent: messages carry the ids only. */
  readonly temporalUiUrl: string | undefined;
}

export const NO_NOTIFICATIONS: NotificationsConfig = {
  destination: () => undefined,
  destinationNames: [],
  temporalUiUrl: undefined,
};

/** An SNS topic ARN; the Region is its fourth part. FIFO topics end in `.fifo`. */
export const SNS_TOPIC_ARN_PATTERN =
  /^arn:aws[a-z-]*:sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):[A-Za-z0-9_-]{1,256}(?:\.fifo)?$/;

const timeout = () => durationSchema({ min: 1_000, max: 60_000 }).optional();
const file = () => z.string().min(1, 'must be a file path').optional();
const events = () => notifyEventsSchema('events').optional();

/** The schema of one destination (the gates file's `"notifications"` values). */
export const destinationSchema = () =>
  z.discriminatedUnion(
    'kind',
    [
      z
        .strictObject({
          kind: z.enum(['slack', 'teams']),
          url: z.string().optional(),
          urlFile: file(),
          events: events(),
          timeout: timeout(),
        })
        .refine((d) => (d.url === undefined) !== (d.urlFile === undefined), {
          message: 'give exactly one of "url" or "urlFile" (the webhook URL is a secret: prefer "urlFile")',
        }),
      z.strictObject({
        kind: z.literal('webhook'),
        url: z.string(),
        secretFile: file(),
        events: events(),
        timeout: timeout(),
      }),
      z.strictObject({
        kind: z.literal('sns'),
        topicArn: z
          .string()
          .regex(
            SNS_TOPIC_ARN_PATTERN,
            'must be an SNS topic ARN, e.g. "arn:aws:sns:us-east-1:111122223333:kms-maintenance"',
          ),
        events: events(),
        timeout: timeout(),
      }),
    ],
    { error: 'must have "kind": "slack", "teams", "webhook" or "sns"' },
  );

export type DestinationSpec = z.output<ReturnType<typeof destinationSchema>>;

function inlineValue(value: string, source: string): ReadWhenUsed {
  return { read: () => value, source };
}

/**
 * Builds the destinations from the parsed file. `checkUrl` is the gates file's rule (https only
 * unless allowed, no credentials or fragment); it throws with the field named.
 */
export function notificationsConfig(
  specs: Readonly<Record<string, DestinationSpec>>,
  temporalUiUrl: string | undefined,
  checkUrl: (value: string, field: string) => URL,
): NotificationsConfig {
  const destinations = new Map<string, NotificationDestination>();
  for (const [name, spec] of Object.entries(specs)) {
    const base = {
      name,
      events: spec.events ?? DEFAULT_NOTIFY_EVENTS,
      timeoutMs: spec.timeout ?? DEFAULT_NOTIFICATION_TIMEOUT_MS,
    };
    const field = `notifications.${name}`;
    switch (spec.kind) {
      case 'slack':
      case 'teams': {
        const url =
          spec.url !== undefined
            ? inlineValue(checkUrl(spec.url, `${field}.url`).toString(), `${field}.url`)
            : fileValue(spec.urlFile ?? '');
        destinations.set(name, { ...base, kind: spec.kind, url });
        break;
      }
      case 'webhook':
        destinations.set(name, {
          ...base,
          kind: 'webhook',
          url: inlineValue(checkUrl(spec.url, `${field}.url`).toString(), `${field}.url`),
          secret: spec.secretFile === undefined ? undefined : fileValue(spec.secretFile),
        });
        break;
      case 'sns': {
        const region = SNS_TOPIC_ARN_PATTERN.exec(spec.topicArn)?.[1] ?? '';
        destinations.set(name, { ...base, kind: 'sns', topicArn: spec.topicArn, region });
        break;
      }
    }
  }
  return {
    destination: (n) => destinations.get(n),
    destinationNames: [...destinations.keys()].sort(),
    temporalUiUrl: temporalUiUrl === undefined ? undefined : uiBase(temporalUiUrl),
  };
}

/**
 * The Temporal Web UI's base: only a link in a message (nothing is sent there), so plain http is
 * fine (the dev server's UI is http://localhost:8233).
 */
function uiBase(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new NotificationsConfigError(
      `temporalUiUrl: "${value}" is not an absolute URL; e.g. "https://temporal.internal"`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new NotificationsConfigError(
      `temporalUiUrl: must be an http:// or https:// URL of the Temporal Web UI`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new NotificationsConfigError(
      "temporalUiUrl: give the UI's base URL, without credentials, query or fragment",
    );
  }
  return url.toString().replace(/\/+$/, '');
}

/** The notification part of the worker's gates file is unusable; the message names the field. */
export class NotificationsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotificationsConfigError';
  }
}

/** The destination kinds, for messages. */
export function describeDestination(d: NotificationDestination): string {
  const kinds: Record<DestinationKind, string> = {
    slack: 'Slack incoming webhook',
    teams: 'Microsoft Teams workflow webhook',
    webhook: 'signed JSON webhook',
    sns: 'Amazon SNS topic',
  };
  return `${kinds[d.kind]} "${d.name}"`;
}
