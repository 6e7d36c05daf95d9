/**
 * What each destination kind is sent for one event (docs/notifications.md): a Slack Block Kit
 * message, a Microsoft Teams Adaptive Card (the envelope a Teams "workflow" webhook takes), and
 * for the generic webhook and SNS the event itself as JSON.
 *
 * Every text a requester wrote (reason, ticket, requestedBy) is escaped for the format it lands
 * in, so a reason cannot mention `@channel`, forge a link or break the card: whoever can start a
 * run must not be able to post arbitrary content to an operations channel.
 */
import type { NotificationEvent, NotifyEvent } from '../domain/notifications';

/** The heading of each event, with the store id appended. */
const HEADLINE: Record<NotifyEvent, string> = {
  started: 'Maintenance run started for',
  drainStarted: 'Draining traffic from',
  disconnected: 'Key store disconnected:',
  reconnectStarted: 'Reconnecting key store',
  back: 'Key store back (CONNECTED):',
  ended: 'Maintenance ended for',
};

export function headline(event: NotificationEvent): string {
  const ended = event.event === 'ended' && event.outcome ? ` ${event.outcome}` : '';
  const dry = event.dryRun ? ' (dry run)' : '';
  return `${HEADLINE[event.event]} ${event.customKeyStoreId}${ended}${dry}`;
}

/** The Temporal Web UI's page of the run, when the worker knows the UI's address. */
export function runLink(
  uiBase: string | undefined,
  namespace: string,
  event: NotificationEvent,
): string | undefined {
  if (uiBase === undefined) return undefined;
  const path = [namespace, event.workflowId, event.runId].map(encodeURIComponent);
  return `${uiBase}/namespaces/${path[0]}/workflows/${path[1]}/${path[2]}/history`;
}

/** The facts every message shows, in order, as label and plain text. */
export function facts(event: NotificationEvent): [string, string][] {
  const rows: [string, string][] = [
    ['Store', event.storeName ? `${event.customKeyStoreId} (${event.storeName})` : event.customKeyStoreId],
    ['Account / Region', `${event.account ?? 'worker account'} / ${event.region}`],
    ['Phase', event.outcome ?? event.phase],
    ['Window ends', event.windowEndsAt ?? '—'],
    ['Who', event.requestedBy],
    ['Why', event.ticket ? `${event.reason} (ticket ${event.ticket})` : event.reason],
  ];
  return rows;
}

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack allows 150 characters in a header and 2,000 in a field; longer text is cut, never refused. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
}

export function slackMessage(event: NotificationEvent, link: string | undefined): SlackMessage {
  const title = headline(event);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(title, 150), emoji: false } },
    {
      type: 'section',
      fields: facts(event).map(([label, value]) => ({
        type: 'mrkdwn',
        text: cut(`*${label}*\n${slackEscape(value)}`, 2000),
      })),
    },
    { type: 'section', text: { type: 'mrkdwn', text: cut(slackEscape(event.message), 3000) } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cut(
            slackEscape(`workflow ${event.workflowId} · run ${event.runId} · event ${event.eventId}`),
            2000,
          ),
        },
      ],
    },
  ];
  if (link) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Open the run in Temporal' },
          url: link,
          action_id: 'open-run',
        },
      ],
    });
  }
  // `text` is what notifications and clients without blocks show.
  return { text: slackEscape(`${title}: ${event.message}`), blocks };
}

/**
 * Adaptive Cards render a subset of Markdown in TextBlocks; facts and plain lines are escaped so
 * that a reason reads as written.
 */
export function teamsEscape(text: string): string {
  return text.replace(/([\\`*_{}[\]()#+\-.!<>|~])/g, '\\$1');
}

export function teamsMessage(event: NotificationEvent, link: string | undefined): Record<string, unknown> {
  const card: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      { type: 'TextBlock', size: 'Medium', weight: 'Bolder', wrap: true, text: teamsEscape(headline(event)) },
      {
        type: 'FactSet',
        facts: facts(event).map(([title, value]) => ({ title, value: teamsEscape(value) })),
      },
      { type: 'TextBlock', wrap: true, text: teamsEscape(event.message) },
      {
        type: 'TextBlock',
        wrap: true,
        isSubtle: true,
        size: 'Small',
        text: teamsEscape(`workflow ${event.workflowId} · run ${event.runId} · event ${event.eventId}`),
      },
    ],
    ...(link ? { actions: [{ type: 'Action.OpenUrl', title: 'Open the run in Temporal', url: link }] } : {}),
  };
  return {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  };
}

/** The generic webhook's body and SNS's message: the event, and the link when there is one. */
export function eventDocument(event: NotificationEvent, link: string | undefined): Record<string, unknown> {
  return { ...event, ...(link ? { runUrl: link } : {}) };
}

/**
 * SNS's subject: printable ASCII, at most 100 characters, no line breaks (Publish refuses
 * anything else), so anything outside that range becomes "?".
 */
export function snsSubject(event: NotificationEvent): string {
  const ascii = `keystore-maint: ${headline(event)}`.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}
