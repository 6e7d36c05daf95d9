/**
 * Notifications without Temporal (docs/notifications.md): the request's `notify`, the worker's
 * `"notifications"` destinations, the messages each kind is sent, and one delivery attempt
 * against a local receiver (what counts as delivered, what is retried, what is final).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFromFlags } from '../../src/commands/start';
import type { NotificationEvent } from '../../src/domain/notifications';
import { notifyEventFor } from '../../src/domain/notifications';
import { validateMaintenanceRequest } from '../../src/domain/request';
import { GatesConfigError, gatesConfig } from '../../src/gates/config';
import { deliverOnce } from '../../src/notify/deliver';
import { runLink, slackEscape, slackMessage, snsSubject, teamsEscape } from '../../src/notify/messages';
import { classifySnsError, snsClientProvider } from '../../src/notify/sns';
import { startNotificationReceiver, type NotificationReceiver } from '../support/notification-receiver';

const base = {
  customKeyStoreId: 'cks-1234567890abcdef0',
  window: { duration: '1h' },
  reason: 'patch',
  requestedBy: 'ops@example.com',
};

function problems(notify: unknown): readonly string[] {
  const result = validateMaintenanceRequest({ ...base, notify }, Date.now());
  return result.ok ? [] : result.problems;
}

const event: NotificationEvent = {
  eventId: 'keystore-maint/us-east-1/cks-1234567890abcdef0/run-1/7',
  event: 'disconnected',
  at: '2026-11-29T10:00:00.000Z',
  phase: 'IN_WINDOW',
  message: 'maintenance window until 2026-11-29T12:00:00.000Z',
  customKeyStoreId: 'cks-1234567890abcdef0',
  region: 'us-east-1',
  windowEndsAt: '2026-11-29T12:00:00.000Z',
  requestedBy: 'ops@example.com',
  reason: 'rotate <!here> & go',
  dryRun: false,
  workflowId: 'keystore-maint/us-east-1/cks-1234567890abcdef0',
  runId: 'run-1',
};

describe('the request\'s "notify"', () => {
  it('defaults to every step a watcher needs', () => {
    const result = validateMaintenanceRequest({ ...base, notify: { to: ['ops-slack'] } }, Date.now());
    expect(result.ok && result.request.notify).toEqual({
      to: ['ops-slack'],
      events: ['drainStarted', 'disconnected', 'reconnectStarted', 'back', 'ended'],
    });
  });

  it('names the field and the fix for each mistake', () => {
    expect(problems({ to: [] })[0]).toMatch(/^notify\.to: name at least one destination/);
    expect(problems({ to: ['Ops Slack'] })[0]).toMatch(
      /^notify\.to\.0: must be the name of a notification destination/,
    );
    expect(problems({ to: ['a', 'a'] })[0]).toMatch(/^notify\.to: names a destination twice/);
    expect(problems({ to: ['a'], events: ['offline'] })[0]).toMatch(
      /^notify\.events\.0: must be one of "started", "drainStarted"/,
    );
    expect(problems({ to: ['a'], url: 'https://hooks.slack.com/x' })[0]).toMatch(/unknown field\(s\) "url"/);
    expect(problems('ops-slack')[0]).toMatch(/^notify: must be \{"to": \["<destination>"/);
  });

  it('each event belongs to one phase', () => {
    expect(notifyEventFor('IN_WINDOW')).toBe('disconnected');
    expect(notifyEventFor('NEEDS_ATTENTION')).toBe('ended');
    expect(notifyEventFor('WAITING_CONNECTED')).toBeUndefined();
  });

  it('the CLI builds it from --notify and --notify-events', () => {
    const request = requestFromFlags({
      store: 'cks-1234567890abcdef0',
      window: '1h',
      reason: 'patch',
      by: 'ops@example.com',
      notify: ['ops-slack', 'sec-topic'],
      notifyEvents: 'disconnected, ended',
    });
    expect(request.notify).toEqual({ to: ['ops-slack', 'sec-topic'], events: ['disconnected', 'ended'] });
    expect(() =>
      requestFromFlags({ store: 'cks-1', window: '1h', reason: 'x', notifyEvents: 'ended' }),
    ).toThrow(/--notify-events needs --notify/);
  });
});

describe('the worker\'s "notifications"', () => {
  const configOf = (notifications: unknown, extra: Record<string, unknown> = {}, allowHttp = false) =>
    gatesConfig({ notifications, ...extra }, { allowHttp, where: 'gates.json' });

  it('reads every kind, with the events each destination takes', () => {
    const config = configOf(
      {
        slack: { kind: 'slack', urlFile: '/run/secrets/slack' },
        teams: { kind: 'teams', url: 'https://example.webhook.office.com/workflows/1' },
        bus: { kind: 'webhook', url: 'https://events.internal/kms', secretFile: '/s', events: ['ended'] },
        topic: { kind: 'sns', topicArn: 'arn:aws:sns:eu-west-1:111122223333:kms-maint.fifo', timeout: '5s' },
      },
      { temporalUiUrl: 'http://localhost:8233/' },
    ).notifications;
    expect(config.destinationNames).toEqual(['bus', 'slack', 'teams', 'topic']);
    expect(config.destination('bus')?.events).toEqual(['ended']);
    expect(config.destination('topic')).toMatchObject({ kind: 'sns', region: 'eu-west-1', timeoutMs: 5_000 });
    expect(config.temporalUiUrl).toBe('http://localhost:8233');
  });

  it('refuses what cannot work, naming the field', () => {
    const refused = (notifications: unknown, extra: Record<string, unknown> = {}) => {
      try {
        configOf(notifications, extra);
      } catch (err) {
        expect(err).toBeInstanceOf(GatesConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(refused({ a: { kind: 'email', to: 'x' } })).toMatch(
      /notifications\.a\.kind: .*"slack", "teams", "webhook" or "sns"/,
    );
    expect(refused({ a: { kind: 'slack', url: 'https://h', urlFile: '/f' } })).toMatch(
      /exactly one of "url" or "urlFile"/,
    );
    expect(refused({ a: { kind: 'webhook', url: 'http://events.internal/kms' } })).toMatch(
      /notifications\.a\.url: http:\/\/ is not allowed; use https:\/\//,
    );
    expect(refused({ a: { kind: 'sns', topicArn: 'kms-maint' } })).toMatch(/must be an SNS topic ARN/);
    expect(refused({ a: { kind: 'slack', urlFile: '/f', events: ['offline'] } })).toMatch(
      /notifications\.a\.events\.0/,
    );
    expect(refused({ A: { kind: 'slack', urlFile: '/f' } })).toMatch(
      /notifications\.A: names are lower-case/,
    );
    expect(refused({}, { temporalUiUrl: 'temporal' })).toMatch(
      /temporalUiUrl: "temporal" is not an absolute URL/,
    );
  });
});

describe('messages', () => {
  it('escape what a requester wrote, for each format', () => {
    expect(slackEscape('<!channel> & <https://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;https://x|y&gt;');
    expect(teamsEscape('[click](https://x) **bold**')).toBe('\\[click\\]\\(https://x\\) \\*\\*bold\\*\\*');
    const slack = JSON.stringify(slackMessage(event, undefined));
    expect(slack).not.toContain('<!here>');
    expect(slack).not.toContain('"actions"');
  });

  it('an SNS subject is printable ASCII within 100 characters', () => {
    const subject = snsSubject({ ...event, customKeyStoreId: `cks-${'é'.repeat(200)}` });
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  it('links to the run in the Temporal UI, with the ids encoded', () => {
    expect(runLink('https://ui', 'prod', event)).toBe(
      'https://ui/namespaces/prod/workflows/keystore-maint%2Fus-east-1%2Fcks-1234567890abcdef0/run-1/history',
    );
    expect(runLink(undefined, 'prod', event)).toBeUndefined();
  });
});

describe('one delivery attempt', () => {
  let receiver: NotificationReceiver;
  let dir: string;
  beforeAll(async () => {
    receiver = await startNotificationReceiver();
    dir = mkdtempSync(join(tmpdir(), 'keystore-maint-notify-unit-'));
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const attempt = (name: string, spec: Record<string, unknown>, allowHttp = true) => {
    const config = gatesConfig({ notifications: { [name]: spec } }, { allowHttp }).notifications;
    const destination = config.destination(name);
    if (!destination) throw new Error('not configured');
    return deliverOnce(destination, event, {
      config,
      sns: snsClientProvider(),
      namespace: 'default',
      allowHttp,
    });
  };

  it('any 2xx is delivered (Slack 200, a Teams workflow 202)', async () => {
    expect(await attempt('s', { kind: 'slack', url: `${receiver.url}/slack` })).toEqual({
      ok: true,
      receipt: 'HTTP 200',
    });
    expect(await attempt('t', { kind: 'teams', url: `${receiver.url}/teams` })).toEqual({
      ok: true,
      receipt: 'HTTP 202',
    });
  });

  it('a 429 or 5xx is retried; another 4xx is final', async () => {
    receiver.answer('/busy', 503);
    receiver.answer('/slow-down', 429);
    receiver.answer('/revoked', 404);
    expect(await attempt('a', { kind: 'webhook', url: `${receiver.url}/busy` })).toMatchObject({
      ok: false,
      retryable: true,
    });
    expect(await attempt('b', { kind: 'webhook', url: `${receiver.url}/slow-down` })).toMatchObject({
      ok: false,
      retryable: true,
    });
    expect(await attempt('c', { kind: 'slack', url: `${receiver.url}/revoked` })).toMatchObject({
      ok: false,
      retryable: false,
      error: expect.stringMatching(/Slack incoming webhook "c": HTTP 404/) as unknown,
    });
  });

  it('no answer is retried', async () => {
    expect(
      await attempt('d', { kind: 'webhook', url: 'http://127.0.0.1:9/none', timeout: '1s' }),
    ).toMatchObject({
      ok: false,
      retryable: true,
    });
  });

  it('a URL file that is missing is retried (it can be put in place); one holding http:// is refused', async () => {
    const missing = await attempt('e', { kind: 'slack', urlFile: join(dir, 'nope') });
    expect(missing).toMatchObject({ ok: false, retryable: true });
    expect(missing.ok || missing.error).toMatch(/is missing or empty; write the webhook URL there/);
    writeFileSync(join(dir, 'plain'), `${receiver.url}/slack`);
    const plain = await attempt('f', { kind: 'slack', urlFile: join(dir, 'plain') }, false);
    expect(plain).toMatchObject({ ok: false, retryable: false });
    expect(plain.ok || plain.error).toMatch(/holds a http:\/\/ URL; use https:\/\//);
  });

  it('a signed webhook with its secret file missing is never sent unsigned', async () => {
    const before = receiver.received.length;
    const outcome = await attempt('g', {
      kind: 'webhook',
      url: `${receiver.url}/webhook`,
      secretFile: join(dir, 'no-secret'),
    });
    expect(outcome).toMatchObject({ ok: false, retryable: true });
    expect(receiver.received.length).toBe(before);
  });

  it('SNS throttling and server faults are retried; a refusal is final', () => {
    expect(
      classifySnsError({ name: 'ThrottledException', $metadata: { httpStatusCode: 400 } }).retryable,
    ).toBe(true);
    expect(
      classifySnsError({
        name: 'InternalErrorException',
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      }).retryable,
    ).toBe(true);
    expect(classifySnsError(new Error('connect ECONNREFUSED')).retryable).toBe(true);
    expect(
      classifySnsError({ name: 'NotFoundException', $fault: 'client', $metadata: { httpStatusCode: 404 } })
        .retryable,
    ).toBe(false);
    expect(
      classifySnsError({
        name: 'AuthorizationErrorException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }).retryable,
    ).toBe(false);
  });
});
