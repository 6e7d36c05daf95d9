/**
 * Webhook signing (version 2), the receiving helper's replay protection, the worker's controller
 * configuration, and the redacted summaries of error answers — each attack of the security review
 * replayed against the code, seen refused.
 */
import { describe, expect, it } from 'vitest';
import { WEBHOOK_NONCE_HEADER, WEBHOOK_SIGNATURE_HEADER } from '../../src/domain/traffic';
import { responseSummary } from '../../src/traffic/response-summary';
import {
  WebhookConfigError,
  webhookControllers,
  webhookControllersFromEnvironment,
} from '../../src/traffic/webhook-controllers';
import {
  signWebhookResponse,
  verifyIncomingWebhook,
  WebhookNonceCache,
} from '../../src/traffic/webhook-receiver';
import { signWebhookRequest, verifyWebhookResponse } from '../../src/traffic/webhook-signature';

const SECRET = 'whsec-unit-0f9e8d7c6b5a4938';
const URL_A = 'https://mesh.example.com/keystore-maint';
const NOW = 1_800_000_000;
const body = JSON.stringify({
  action: 'drain',
  customKeyStoreId: 'cks-0123456789abcdef0',
  workflowId: 'w',
  runId: 'r',
});

function reasonOf(check: { ok: boolean; reason?: string }): string {
  return check.ok ? 'ok' : (check.reason ?? '');
}

function captured(method = 'POST', url = URL_A, text = body) {
  return {
    method,
    url,
    body: text,
    headers: { ...signWebhookRequest(SECRET, { method, url, body: text }, NOW) },
  };
}

describe('request signatures (v2)', () => {
  it('a genuine request verifies once; the same request again is a replay', () => {
    const nonces = new WebhookNonceCache();
    const request = captured();
    expect(verifyIncomingWebhook(SECRET, request, nonces, NOW)).toMatchObject({ ok: true });
    expect(verifyIncomingWebhook(SECRET, request, nonces, NOW + 1)).toEqual({
      ok: false,
      reason: 'nonce already used (replay)',
    });
  });

  it.each([
    [
      'another URL (a signature lifted from an attacker-chosen server)',
      { url: 'https://mesh.example.com/other' },
    ],
    ['another port', { url: 'https://mesh.example.com:8443/keystore-maint' }],
    ['another query', { url: `${URL_A}?store=cks-99999999999999999` }],
    ['another method', { method: 'GET' }],
    ['another body', { body: body.replace('drain', 'restore') }],
  ])('is refused when sent with %s', (_name, change) => {
    const request = { ...captured(), ...change };
    expect(verifyIncomingWebhook(SECRET, request, new WebhookNonceCache(), NOW)).toEqual({
      ok: false,
      reason: 'bad signature',
    });
  });

  it('refuses an old timestamp, a missing nonce, a v1 signature and a wrong secret', () => {
    const request = captured();
    const nonces = () => new WebhookNonceCache();
    expect(reasonOf(verifyIncomingWebhook(SECRET, request, nonces(), NOW + 301))).toMatch(/timestamp/);

    const noNonce = { ...request, headers: { ...request.headers, [WEBHOOK_NONCE_HEADER]: undefined } };
    expect(reasonOf(verifyIncomingWebhook(SECRET, noNonce, nonces(), NOW))).toMatch(/nonce/);

    const v1 = { ...request, headers: { ...request.headers, [WEBHOOK_SIGNATURE_HEADER]: 'v1=abc' } };
    expect(reasonOf(verifyIncomingWebhook(SECRET, v1, nonces(), NOW))).toMatch(/version 2/);

    expect(verifyIncomingWebhook('another-secret-0000', request, nonces(), NOW)).toEqual({
      ok: false,
      reason: 'bad signature',
    });
  });

  it('the nonce cache forgets after its window and stays bounded', () => {
    const cache = new WebhookNonceCache(10, 2);
    expect(cache.remember('aaaaaaaaaaaaaaaa', NOW)).toBe(true);
    expect(cache.remember('bbbbbbbbbbbbbbbb', NOW)).toBe(true);
    // Full of live nonces: a new one is refused rather than an old one forgotten early.
    expect(cache.remember('cccccccccccccccc', NOW + 1)).toBe(false);
    expect(cache.remember('aaaaaaaaaaaaaaaa', NOW + 11)).toBe(true);
  });
});

describe('answer signatures', () => {
  it("binds the request's nonce, the status and the body", () => {
    const nonce = 'n0123456789abcdef';
    const text = '{"state":"drained"}';
    const signature = signWebhookResponse(SECRET, nonce, 200, text)[WEBHOOK_SIGNATURE_HEADER];
    expect(verifyWebhookResponse(SECRET, nonce, { status: 200, body: text, signature })).toEqual({
      ok: true,
    });
    // A forger on the path without the secret, an old answer replayed to a new poll, a changed body.
    expect(verifyWebhookResponse(SECRET, nonce, { status: 200, body: text, signature: undefined }).ok).toBe(
      false,
    );
    expect(
      verifyWebhookResponse(SECRET, 'n-other-poll-00000', { status: 200, body: text, signature }).ok,
    ).toBe(false);
    expect(
      verifyWebhookResponse(SECRET, nonce, { status: 200, body: '{"state":"pending"}', signature }).ok,
    ).toBe(false);
  });
});

describe("the worker's controller configuration", () => {
  const env = { KEYSTORE_MAINT_WEBHOOK_SECRET_MESH: SECRET };

  it('binds each controller to its URL and its own secret', () => {
    const controllers = webhookControllers(
      { controllers: { mesh: { url: URL_A, secretEnv: 'KEYSTORE_MAINT_WEBHOOK_SECRET_MESH' } } },
      { env },
    );
    expect(controllers.names).toEqual(['mesh']);
    expect(controllers.get('mesh')).toMatchObject({ url: URL_A, statusUrl: `${URL_A}/status` });
    expect(controllers.get('mesh')?.secret()).toBe(SECRET);
    expect(controllers.get('elsewhere')).toBeUndefined();
    expect(controllers.byUrl(URL_A)?.name).toBe('mesh');
    expect(controllers.byUrl('http://169.254.169.254/latest/meta-data')).toBeUndefined();
  });

  it.each([
    [
      'plain http without the development flag',
      { url: 'http://mesh.internal/x', secretEnv: 'KEYSTORE_MAINT_WEBHOOK_SECRET_MESH' },
      /https:\/\/.*KEYSTORE_MAINT_WEBHOOK_ALLOW_HTTP/,
    ],
    [
      'credentials in the URL',
      { url: 'https://user:pw@mesh.internal/x', secretEnv: 'KEYSTORE_MAINT_WEBHOOK_SECRET_MESH' },
      /must not carry credentials/,
    ],
    ['no secret', { url: URL_A }, /exactly one of "secretFile" or "secretEnv"/],
    [
      'a secret variable outside the prefix',
      { url: URL_A, secretEnv: 'AWS_SECRET_ACCESS_KEY' },
      /KEYSTORE_MAINT_WEBHOOK_SECRET/,
    ],
  ])('refuses %s, naming the field', (_name, controller, message) => {
    expect(() => webhookControllers({ controllers: { mesh: controller } }, { env })).toThrow(message);
  });

  it('reads the environment: inline JSON or a file, not both; http only with the flag', () => {
    const inline = JSON.stringify({
      controllers: { mesh: { url: 'http://127.0.0.1:1/x', secretEnv: 'KEYSTORE_MAINT_WEBHOOK_SECRET_MESH' } },
    });
    expect(() => webhookControllersFromEnvironment({ KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: inline })).toThrow(
      WebhookConfigError,
    );
    expect(
      webhookControllersFromEnvironment({
        KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: inline,
        KEYSTORE_MAINT_WEBHOOK_ALLOW_HTTP: '1',
      }).names,
    ).toEqual(['mesh']);
    expect(() =>
      webhookControllersFromEnvironment({
        KEYSTORE_MAINT_WEBHOOK_CONTROLLERS: inline,
        KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE: '/x',
      }),
    ).toThrow(/not both/);
    expect(webhookControllersFromEnvironment({}).names).toEqual([]);
  });
});

describe('summaries of error answers', () => {
  it.each([
    ['a password pair', 'internal error: connect failed with db_password=hunter2 host=db', 'hunter2'],
    ['a JSON secret member', '{"error":"boom","apiKey":"sk-live-123456"}', 'sk-live-123456'],
    [
      'a bearer token',
      'upstream said Authorization: Bearer abcdefghijklmnopqrstuvwxyz',
      'abcdefghijklmnopqrstuvwxyz',
    ],
    ['a URL with a password', 'cannot reach postgres://app:s3cret@db:5432/x', 's3cret'],
  ])('never carry %s', (_name, text, secret) => {
    const summary = responseSummary(text);
    expect(summary).not.toContain(secret);
    expect(summary).toContain('[REDACTED]');
  });

  it('keep one bounded line without control characters', () => {
    const summary = responseSummary(`first\u001b[31m line ${'x'.repeat(500)}\nsecond line`);
    expect(summary.length).toBeLessThanOrEqual(120);
    expect([...summary].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(summary).not.toContain('second line');
  });
});
