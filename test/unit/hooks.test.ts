/**
 * Hooks without Temporal (docs/hooks.md): the request's `hooks` schema, the worker's `"hooks"`
 * configuration, and one call of a hook against a local receiver that verifies signatures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HookPayload } from '../../src/domain/hooks';
import { validateMaintenanceRequest } from '../../src/domain/request';
import { GatesConfigError, gatesConfig, gatesConfigFromEnvironment } from '../../src/gates/config';
import { callHook, HOOK_ATTEMPTS } from '../../src/hooks/http-hook';
import { startGateServer, type GateServer } from '../gates/gate-server';

const base = {
  customKeyStoreId: 'cks-1234567890abcdef0',
  window: { duration: '1h' },
  reason: 'patch',
  requestedBy: 'ops@example.com',
};

function problems(hooks: unknown): readonly string[] {
  const result = validateMaintenanceRequest({ ...base, hooks }, Date.now());
  return result.ok ? [] : result.problems;
}

describe('the request\'s "hooks"', () => {
  it('resolves names with fail-closed defaults', () => {
    const result = validateMaintenanceRequest(
      {
        ...base,
        hooks: {
          beforeDrain: { hook: 'change-mgmt' },
          afterRestore: { hook: 'change-mgmt' },
          onNeedsAttention: { hook: 'pager' },
        },
      },
      Date.now(),
    );
    expect(result.ok && result.request.hooks).toEqual({
      beforeDrain: { hook: 'change-mgmt', onNoAnswer: 'veto' },
      afterRestore: { hook: 'change-mgmt', onNoAnswer: 'veto' },
      onNeedsAttention: { hook: 'pager', onNoAnswer: 'veto' },
    });
    const proceed = validateMaintenanceRequest(
      { ...base, hooks: { beforeDrain: { hook: 'change-mgmt', onNoAnswer: 'proceed' } } },
      Date.now(),
    );
    expect(proceed.ok && proceed.request.hooks?.beforeDrain?.onNoAnswer).toBe('proceed');
  });

  it('a request without hooks resolves without them', () => {
    const result = validateMaintenanceRequest(base, Date.now());
    expect(result.ok && 'hooks' in result.request).toBe(false);
  });

  it.each([
    [
      'a URL instead of a name',
      { beforeDrain: { hook: 'https://evil.example/hook' } },
      /^hooks\.beforeDrain\.hook: must be the name of a hook configured on the worker/,
    ],
    [
      'a URL member',
      { beforeDrain: { hook: 'change-mgmt', url: 'https://evil.example' } },
      /^hooks\.beforeDrain: unknown field\(s\) "url"; allowed: hook, onNoAnswer/,
    ],
    [
      'an unknown point',
      { beforeDisconnect: { hook: 'change-mgmt' } },
      /^hooks: unknown field\(s\) "beforeDisconnect"; allowed: beforeDrain, afterRestore, onNeedsAttention/,
    ],
    [
      'onNoAnswer at an after point',
      { afterRestore: { hook: 'change-mgmt', onNoAnswer: 'proceed' } },
      /^hooks\.afterRestore: unknown field\(s\) "onNoAnswer"; allowed: hook/,
    ],
    [
      'an unknown onNoAnswer',
      { beforeDrain: { hook: 'change-mgmt', onNoAnswer: 'ignore' } },
      /^hooks\.beforeDrain\.onNoAnswer: must be "veto" \(the default/,
    ],
    ['no point at all', {}, /^hooks: name at least one point/],
    ['a string', 'change-mgmt', /^hooks: /],
  ])('refuses %s, naming the field and the fix', (_what, hooks, message) => {
    expect(problems(hooks)[0]).toMatch(message);
  });
});

describe('the worker\'s "hooks" configuration', () => {
  it('reads each hook with its timeout and secret file', () => {
    const config = gatesConfig({
      hooks: {
        'change-mgmt': {
          url: 'https://change.internal/hook?src=kms',
          secretFile: '/run/secrets/x',
          timeout: '5s',
        },
        pager: { url: 'https://pager.internal/hook' },
      },
    });
    expect(config.hookNames).toEqual(['change-mgmt', 'pager']);
    expect(config.hook('change-mgmt')).toMatchObject({
      name: 'change-mgmt',
      url: 'https://change.internal/hook?src=kms',
      timeoutMs: 5_000,
    });
    expect(config.hook('change-mgmt')?.secret?.source).toBe('file /run/secrets/x');
    expect(config.hook('pager')).toMatchObject({ timeoutMs: 10_000, secret: undefined });
    expect(config.hook('nope')).toBeUndefined();
    // Hooks and HTTP gates are separate name spaces.
    expect(config.http('pager')).toBeUndefined();
  });

  it.each([
    [
      { hooks: { pager: { url: 'http://pager.internal/hook' } } },
      /hooks\.pager\.url: http:\/\/ is not allowed; use https:\/\//,
    ],
    [
      { hooks: { pager: { url: 'https://u:p@pager.internal/' } } },
      /hooks\.pager\.url: a URL must not carry credentials/,
    ],
    [{ hooks: { Pager: { url: 'https://pager.internal/' } } }, /hooks\.Pager: names are lower-case letters/],
    [{ hooks: { pager: { url: 'https://pager.internal/', timeout: '5m' } } }, /hooks\.pager\.timeout: /],
    [{ hooks: { pager: { url: 'https://pager.internal/', secret: 'x' } } }, /hooks\.pager: .*"secret"/],
  ])('refuses %j with the field and the fix', (config, message) => {
    expect(() => gatesConfig(config, { where: 'KEYSTORE_MAINT_GATES' })).toThrow(GatesConfigError);
    expect(() => gatesConfig(config, { where: 'KEYSTORE_MAINT_GATES' })).toThrow(message);
  });

  it('comes from KEYSTORE_MAINT_GATES like the gates', () => {
    const config = gatesConfigFromEnvironment({
      KEYSTORE_MAINT_GATES: JSON.stringify({ hooks: { pager: { url: 'http://127.0.0.1:1/p' } } }),
      KEYSTORE_MAINT_GATES_ALLOW_HTTP: '1',
    });
    expect(config.hookNames).toEqual(['pager']);
  });
});

describe('calling a hook', () => {
  const secret = 'unit-hook-secret-0123456789abcdef';
  let dir: string;
  let server: GateServer;
  const payload: HookPayload = {
    point: 'beforeDrain',
    workflowId: 'keystore-maint/us-east-1/cks-1234567890abcdef0',
    runId: 'run-1',
    customKeyStoreId: 'cks-1234567890abcdef0',
    region: 'us-east-1',
    requestedBy: 'ops@example.com',
    reason: 'patch',
    phase: 'PREFLIGHT',
    message: 'about to drain',
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keystore-maint-hook-unit-'));
    writeFileSync(join(dir, 'secret'), secret);
    writeFileSync(join(dir, 'other'), 'another-secret-entirely-0123456789');
    server = await startGateServer({ secret, path: '/hook' });
  });
  afterEach(() => {
    server.received.length = 0;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (secretFile = 'secret', timeout = '1s') =>
    gatesConfig(
      { hooks: { cm: { url: server.url, secretFile: join(dir, secretFile), timeout } } },
      { allowHttp: true },
    );

  it('sends the payload signed and reads a signed answer', async () => {
    server.answer = () => ({ body: { allow: false, reason: 'freeze', ticket: 'CHG-1' } });
    const outcome = await callHook(config(), 'beforeDrain', 'cm', payload);
    expect(outcome).toMatchObject({
      answered: true,
      allow: false,
      reason: 'freeze',
      ticket: 'CHG-1',
      attempts: 1,
    });
    expect(server.received[0]?.signatureOk).toBe(true);
    expect(JSON.parse(server.received[0]?.body ?? '{}')).toEqual(payload);
  });

  it('does not believe an answer signed with another secret, and does not ask again', async () => {
    server.answer = () => ({ body: { allow: true } });
    const outcome = await callHook(config('other'), 'beforeDrain', 'cm', payload);
    expect(outcome).toMatchObject({ answered: false, attempts: 1 });
    expect(outcome.error).toMatch(/the answer is not believed: .*signature does not match/);
  });

  it('asks again after a 5xx, within the timeout', async () => {
    server.answer = (_request, index) =>
      index === 0 ? { status: 503, body: 'busy' } : { body: { allow: true } };
    const outcome = await callHook(config(), 'beforeDrain', 'cm', payload);
    expect(outcome).toMatchObject({ answered: true, allow: true, attempts: 2 });
  });

  it('stops after its attempts and never exceeds its timeout', async () => {
    server.answer = () => ({ status: 500, body: 'down' });
    const outcome = await callHook(config('secret', '3s'), 'afterRestore', 'cm', {
      ...payload,
      point: 'afterRestore',
    });
    expect(outcome).toMatchObject({ answered: false, attempts: HOOK_ATTEMPTS, status: 500 });
    server.answer = () => ({ body: { allow: true }, delayMs: 5_000 });
    const started = Date.now();
    const slow = await callHook(config(), 'beforeDrain', 'cm', payload);
    // 1 s timeout; the bound leaves room for a loaded machine, far below the 5 s answer.
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(slow).toMatchObject({ answered: false, error: 'no answer within 1 s' });
  });

  it('a 4xx is not asked again; an answer without "allow" is no answer at beforeDrain only', async () => {
    server.answer = () => ({ status: 403, body: 'no' });
    expect(await callHook(config(), 'beforeDrain', 'cm', payload)).toMatchObject({
      answered: false,
      attempts: 1,
    });
    server.answer = () => ({ body: { ticket: 'CHG-2' } });
    const before = await callHook(config(), 'beforeDrain', 'cm', payload);
    expect(before.answered).toBe(false);
    expect(before.error).toMatch(/the answer is not \{"allow": true\|false/);
    const after = await callHook(config(), 'afterRestore', 'cm', { ...payload, point: 'afterRestore' });
    expect(after).toMatchObject({ answered: true, ticket: 'CHG-2' });
    expect(after.allow).toBeUndefined();
  });

  it('keeps secrets and control characters out of what it records', async () => {
    server.answer = () => ({
      body: {
        allow: true,
        reason: 'ok\u001b[31m token=abcdefghijklmnop1234 and more',
        ticket: 'Bearer abcdefghijklmnopqrstuvwxyz012345',
      },
    });
    const outcome = await callHook(config(), 'beforeDrain', 'cm', payload);
    expect(outcome.answered).toBe(true);
    expect(outcome.reason).not.toContain('abcdefghijklmnop1234');
    expect(outcome.reason).not.toContain('\u001b');
    expect(outcome.ticket).not.toContain('abcdefghijklmnopqrstuvwxyz');
  });

  it('an unknown hook, or a missing secret file, is no answer and sends nothing', async () => {
    const unknown = await callHook(config(), 'beforeDrain', 'nope', payload);
    expect(unknown.error).toMatch(/hook "nope" is not one this worker may call \(configured: cm\)/);
    const missing = await callHook(config('absent'), 'beforeDrain', 'cm', payload);
    expect(missing.error).toMatch(/no signing secret for hook "cm": file .*absent is missing or empty/);
    expect(server.received).toHaveLength(0);
  });
});
