/**
 * Notifications on the real dev server (docs/notifications.md), delivered by a real worker to
 * real receivers: a local HTTP receiver that checks Slack's Block Kit and Teams' Adaptive Card
 * shapes and the generic webhook's signature, and Amazon SNS through moto (a third-party SNS
 * emulator) whose HTTP subscription delivers to the same receiver. Ground truth is what the
 * receiver got and the simulator's call log, never the run's own count.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationEvent, NotifyEvent } from '../../src/domain/notifications';
import type { MaintenanceResult } from '../../src/domain/status';
import { WEBHOOK_EVENT_ID_HEADER } from '../../src/domain/traffic';
import { gatesConfig } from '../../src/gates/config';
import { snsClientProvider } from '../../src/notify/sns';
import { verifyWebhookRequest } from '../../src/traffic/webhook-signature';
import { statusQuery } from '../../workflows/messages';
import {
  callsFor,
  connectedStore,
  eventually,
  mutatingAccepted,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { startMoto, type MotoServer } from '../support/moto';
import {
  startNotificationReceiver,
  type NotificationReceiver,
  type Received,
} from '../support/notification-receiver';

const SECRET = 'notification-signing-secret-for-tests-0123';
const UI = 'http://temporal-ui.test:8233';
const DEFAULT_EVENTS: NotifyEvent[] = ['drainStarted', 'disconnected', 'reconnectStarted', 'back', 'ended'];

let env: MaintenanceEnv;
let receiver: NotificationReceiver;
let moto: MotoServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keystore-maint-notify-'));
  receiver = await startNotificationReceiver();
  moto = await startMoto();
  const topicArn = await moto.topicDeliveringTo('kms-maintenance', 'us-east-1', `${receiver.url}/sns`);
  writeFileSync(join(dir, 'slack-url'), `${receiver.url}/slack`);
  writeFileSync(join(dir, 'secret'), SECRET);
  env = await startMaintenanceEnv(
    {},
    {
      gatesConfig: gatesConfig(
        {
          notifications: {
            'ops-slack': { kind: 'slack', urlFile: join(dir, 'slack-url') },
            'ops-teams': { kind: 'teams', url: `${receiver.url}/teams` },
            'change-bus': {
              kind: 'webhook',
              url: `${receiver.url}/webhook`,
              secretFile: join(dir, 'secret'),
            },
            'sec-topic': { kind: 'sns', topicArn },
            'slack-gone': { kind: 'slack', url: `${receiver.url}/gone` },
            'ends-only': { kind: 'webhook', url: `${receiver.url}/ends`, events: ['ended'] },
          },
          temporalUiUrl: UI,
        },
        { allowHttp: true },
      ),
      sns: snsClientProvider({ endpoint: moto.url, credentials: moto.credentials }),
    },
  );
  receiver.answer('/gone', 404);
}, 300_000);

afterAll(async () => {
  await env?.close();
  await moto?.stop();
  await receiver?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The event each request to `path` carried, for one store. */
function eventsAt(path: string, id: string): { request: Received; event: NotificationEvent }[] {
  return receiver.received
    .filter((r) => r.path === path)
    .map((request) => ({ request, event: eventOf(request) }))
    .filter((r) => r.event.customKeyStoreId === id);
}

/** Recovers the event from each kind's message (the generic webhook's and SNS's carry it whole). */
function eventOf(request: Received): NotificationEvent {
  const body = JSON.parse(request.body) as Record<string, unknown>;
  if (request.path === '/sns') return JSON.parse(String(body.Message)) as NotificationEvent;
  if (request.path === '/slack' || request.path === '/gone') {
    const context = (body.blocks as { type: string; elements?: { text: string }[] }[]).find(
      (b) => b.type === 'context',
    );
    return fromIds(context?.elements?.[0]?.text ?? '', request.body);
  }
  if (request.path === '/teams') {
    const card = (body.attachments as { content: { body: { text?: string; isSubtle?: boolean }[] } }[])[0]
      ?.content;
    const line = card?.body.find((b) => b.isSubtle)?.text ?? '';
    return fromIds(line.replace(/\\/g, ''), request.body);
  }
  return body as unknown as NotificationEvent;
}

/** Slack and Teams messages name the event only by id and headline: enough to count them. */
function fromIds(line: string, body: string): NotificationEvent {
  const eventId = /event (\S+)/.exec(line)?.[1] ?? '';
  const store = /(cks-[0-9a-f]+)/.exec(body)?.[1] ?? '';
  return { eventId, customKeyStoreId: store } as NotificationEvent;
}

/** The events received, sorted: deliveries run side by side, so two close phases may swap. */
function kindsOf(items: { event: NotificationEvent }[]): string[] {
  return items.map((i) => i.event.event).sort();
}

const SORTED_DEFAULT = [...DEFAULT_EVENTS].sort();

function once(items: { event: NotificationEvent }[]): boolean {
  return new Set(items.map((i) => i.event.eventId)).size === items.length;
}

describe('notifications', () => {
  it('tells Slack, Teams, a signed webhook and SNS every default step of a run, each once', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      ...env.request(id),
      reason: 'patch the proxy <!channel> <https://evil.example|click here> & more',
      ticket: 'CHG-42',
      notify: { to: ['ops-slack', 'ops-teams', 'change-bus', 'sec-topic'] },
    });
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');

    // The generic webhook: the event itself, signed like the traffic webhook, its id in a header.
    const hooks = eventsAt('/webhook', id);
    expect(kindsOf(hooks)).toEqual(SORTED_DEFAULT);
    expect(once(hooks)).toBe(true);
    for (const { request, event } of hooks) {
      const check = verifyWebhookRequest(SECRET, {
        method: 'POST',
        url: `${receiver.url}/webhook`,
        body: request.body,
        headers: {
          signature: request.headers['x-keystore-maint-signature'] as string,
          timestamp: request.headers['x-keystore-maint-timestamp'] as string,
          nonce: request.headers['x-keystore-maint-nonce'] as string,
        },
      });
      expect(check).toEqual({ ok: true });
      expect(request.headers[WEBHOOK_EVENT_ID_HEADER]).toBe(event.eventId);
      expect(event.eventId.startsWith(`${result.workflowId}/${result.runId}/`)).toBe(true);
    }
    const disconnected = hooks.find((h) => h.event.event === 'disconnected')?.event;
    expect(disconnected).toMatchObject({
      phase: 'IN_WINDOW',
      customKeyStoreId: id,
      region: 'us-east-1',
      requestedBy: 'tester@example.com',
      ticket: 'CHG-42',
      workflowId: result.workflowId,
      runId: result.runId,
    });
    expect(disconnected?.windowEndsAt).toBe(result.window.endsAt);
    const runUrl = `${UI}/namespaces/${env.temporal.namespace}/workflows/${encodeURIComponent(result.workflowId)}/${result.runId}/history`;
    expect((disconnected as unknown as { runUrl: string }).runUrl).toBe(runUrl);
    expect(hooks.find((h) => h.event.event === 'ended')?.event).toMatchObject({
      outcome: 'COMPLETED',
      phase: 'COMPLETED',
    });

    // Slack: a Block Kit message whose requester-written text cannot mention or link.
    const slack = receiver.received.filter((r) => r.path === '/slack' && r.body.includes(id));
    expect(slack).toHaveLength(DEFAULT_EVENTS.length);
    const message = JSON.parse(
      slack.find((s) => s.body.includes('Key store disconnected'))?.body ?? '{}',
    ) as {
      text: string;
      blocks: {
        type: string;
        text?: { type: string; text: string };
        fields?: { type: string; text: string }[];
        elements?: { type: string; url?: string; text?: unknown }[];
      }[];
    };
    expect(message.text).toContain(`Key store disconnected: ${id}`);
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context', 'actions']);
    expect(message.blocks[0]?.text).toEqual({
      type: 'plain_text',
      text: `Key store disconnected: ${id}`,
      emoji: false,
    });
    const fields = message.blocks[1]?.fields ?? [];
    expect(fields.length).toBeLessThanOrEqual(10);
    expect(fields.every((f) => f.type === 'mrkdwn' && f.text.length <= 2000)).toBe(true);
    const why = fields.find((f) => f.text.startsWith('*Why*'))?.text ?? '';
    expect(why).toContain(
      '&lt;!channel&gt; &lt;https://evil.example|click here&gt; &amp; more (ticket CHG-42)',
    );
    expect(slack.map((s) => s.body).join('')).not.toContain('<!channel>');
    expect(fields.map((f) => f.text.split('\n')[0])).toEqual([
      '*Store*',
      '*Account / Region*',
      '*Phase*',
      '*Window ends*',
      '*Who*',
      '*Why*',
    ]);
    expect(message.blocks[4]?.elements?.[0]).toMatchObject({ type: 'button', url: runUrl });

    // Teams: the Adaptive Card envelope a workflow webhook takes.
    const teams = receiver.received.filter((r) => r.path === '/teams' && r.body.includes(id));
    expect(teams).toHaveLength(DEFAULT_EVENTS.length);
    const envelope = JSON.parse(teams[0]?.body ?? '{}') as {
      type: string;
      attachments: {
        contentType: string;
        content: {
          type: string;
          version: string;
          body: { type: string }[];
          actions: { type: string; url: string }[];
        };
      }[];
    };
    expect(envelope.type).toBe('message');
    expect(envelope.attachments).toHaveLength(1);
    expect(envelope.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(envelope.attachments[0]?.content).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(envelope.attachments[0]?.content.body.map((b) => b.type)).toContain('FactSet');
    expect(envelope.attachments[0]?.content.actions[0]).toEqual({
      type: 'Action.OpenUrl',
      title: 'Open the run in Temporal',
      url: runUrl,
    });

    // SNS: what moto's HTTP subscription delivered (SNS's own envelope around the event).
    const sns = await eventually(() => {
      const got = eventsAt('/sns', id);
      return Promise.resolve(got.length >= DEFAULT_EVENTS.length ? got : undefined);
    }, 'SNS to deliver every event');
    expect(kindsOf(sns)).toEqual(SORTED_DEFAULT);
    expect(once(sns)).toBe(true);
    const drained = sns.find((s) => s.event.event === 'drainStarted');
    const snsEnvelope = JSON.parse(drained?.request.body ?? '{}') as { Type: string; Subject: string };
    expect(snsEnvelope.Type).toBe('Notification');
    expect(snsEnvelope.Subject).toBe(`keystore-maint: Draining traffic from ${id}`);

    // The run's own account agrees with the receivers, and the audit trail has each delivery.
    expect(result.notifications).toEqual({ sent: 20, failed: 0, skipped: 0, pending: 0 });
    const sent = result.events.filter((e) => e.action === 'notification.sent');
    expect(sent).toHaveLength(20);
    const stored = env.audit.events.filter(
      (e) => e.workflowId === result.workflowId && e.action === 'notification.sent',
    );
    expect(stored).toHaveLength(20);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  }, 120_000);

  it('a receiver that is down gets every notification once it is back, and no phase waited for it', async () => {
    await receiver.down();
    try {
      const id = await connectedStore(env.control);
      const handle = await env.start({
        ...env.request(id, { window: { duration: '2s' } }),
        notify: { to: ['change-bus', 'ops-slack'] },
      });
      // The run goes through every phase to its end while nothing can be delivered.
      const ended = await eventually(
        async () => {
          const status = await handle.query(statusQuery);
          return status.phase === 'COMPLETED' ? status : undefined;
        },
        'the run to reach COMPLETED with the receiver down',
        90_000,
      );
      const downUntil = Date.now();
      expect(ended.trafficRestored).toBe(true);
      expect(ended.notifications?.pending).toBeGreaterThan(0);
      expect(receiver.received.filter((r) => r.body.includes(id))).toEqual([]);
      // Ground truth: the store went down and came back while the receiver was unreachable.
      const calls = mutatingAccepted(await callsFor(env.control, id));
      expect(calls.map((c) => c.operation)).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);
      expect(calls.every((c) => Date.parse(c.at) < downUntil)).toBe(true);
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
      // The phases took as long as without notifications: the window (2 s) plus KMS's own steps,
      // far less than the first retries of a delivery would have added had any phase waited.
      const disconnectAt = Date.parse(calls[0]?.at ?? '');
      const connectAt = Date.parse(calls[1]?.at ?? '');
      expect(connectAt - disconnectAt).toBeLessThan(15_000);

      await receiver.up();
      const result = await outcomeOf(handle);
      expect(result.outcome).toBe('COMPLETED');
      for (const path of ['/webhook', '/slack']) {
        const got = eventsAt(path, id);
        expect(got.map((g) => g.request.at).every((at) => at >= receiver.upSince)).toBe(true);
        expect(got).toHaveLength(DEFAULT_EVENTS.length);
        expect(once(got)).toBe(true);
      }
      expect(kindsOf(eventsAt('/webhook', id))).toEqual(SORTED_DEFAULT);
      expect(result.notifications).toMatchObject({ sent: 10, failed: 0, pending: 0 });
      const attempts = result.events
        .filter((e) => e.action === 'notification.sent')
        .map((e) => (e.detail as { attempt: number }).attempt);
      expect(Math.max(...attempts)).toBeGreaterThan(1);
    } finally {
      await receiver.up();
    }
  }, 240_000);

  it('a destination that refuses is tried once, audited as failed, and changes nothing else', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        notify: { to: ['slack-gone', 'ends-only'], events: ['disconnected', 'ended'] },
      }),
    );
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    // One request per event to the refusing URL: a 404 is not retried.
    expect(receiver.received.filter((r) => r.path === '/gone' && r.body.includes(id))).toHaveLength(2);
    const failed = result.events.filter((e) => e.action === 'notification.failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ outcome: 'failed', error: { type: 'NotificationUndeliverable' } });
    expect(failed[0]?.error?.message).toMatch(/HTTP 404/);
    // The worker-side filter: "ends-only" takes only `ended`.
    expect(kindsOf(eventsAt('/ends', id))).toEqual(['ended']);
    expect(result.notifications).toMatchObject({ sent: 1, failed: 2, skipped: 1, pending: 0 });
    expect(result.notifications?.lastProblem).toMatch(/"slack-gone".*HTTP 404/);
  }, 120_000);

  it('a cancelled run still tells its end', async () => {
    const id = await connectedStore(env.control);
    const handle = await env.start({
      ...env.request(id, { window: { duration: '5m' } }),
      notify: { to: ['change-bus'] },
    });
    await eventually(
      async () => (await handle.query(statusQuery)).phase === 'IN_WINDOW',
      'IN_WINDOW',
      60_000,
    );
    await handle.cancel();
    // A cancelled workflow has no result; its last status is the report.
    await expect(handle.result()).rejects.toThrow(/cancel/i);
    const result = await handle.query(statusQuery);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.notifications).toMatchObject({ failed: 0, pending: 0 });
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const got = eventsAt('/webhook', id);
    expect(got.find((g) => g.event.event === 'ended')?.event).toMatchObject({ outcome: 'CANCELLED' });
    expect(once(got)).toBe(true);
  }, 120_000);

  it('a destination the worker does not know refuses the run before anything is touched', async () => {
    const id = await connectedStore(env.control);
    const result: MaintenanceResult = await outcomeOf(
      await env.start({ ...env.request(id), notify: { to: ['ops-slak'] } }),
    );
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(
      /notify\.to: "ops-slak" is not a notification destination of this worker; configured: /,
    );
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
    expect(receiver.received.filter((r) => r.body.includes(id))).toEqual([]);
  }, 60_000);
});
