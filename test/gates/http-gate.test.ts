/**
 * The HTTP gate against a local server: open, closed with a reason, and every answer that must
 * block (a 500, a redirect, a body that is not the contract, no answer in time); signed requests
 * and answers with a secret file, and a missing or mismatched secret blocking (fail closed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { gatesConfig } from '../../src/gates/config';
import { checkHttpGate, type HttpGateRequest } from '../../src/gates/http-gate';
import { startGateServer, type GateServer } from './gate-server';

const REQUEST: HttpGateRequest = {
  customKeyStoreId: 'cks-1234567890abcdef0',
  workflowId: 'keystore-maint/us-east-1/cks-1234567890abcdef0',
  runId: 'run-1',
  region: 'us-east-1',
};

const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-http-gate-'));
const servers: GateServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function gate(options: { secret?: string; secretFile?: string; timeout?: string } = {}) {
  const server = await startGateServer(options.secret !== undefined ? { secret: options.secret } : {});
  servers.push(server);
  const config = gatesConfig(
    {
      http: {
        freeze: {
          url: server.url,
          ...(options.secretFile ? { secretFile: options.secretFile } : {}),
          ...(options.timeout ? { timeout: options.timeout } : {}),
        },
      },
    },
    { allowHttp: true },
  );
  return { server, check: () => checkHttpGate(config, 'freeze', REQUEST) };
}

describe('the HTTP gate', () => {
  it('POSTs the store and run and is open when the service says so', async () => {
    const { server, check } = await gate();
    server.answer = () => ({ body: { open: true } });
    expect(await check()).toMatchObject({ kind: 'http', name: 'freeze', open: true, reason: 'open' });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.method).toBe('POST');
    expect(JSON.parse(server.received[0]?.body ?? '{}')).toEqual({ gate: 'freeze', ...REQUEST });
  });

  it('is blocked with the service’s reason when it says closed', async () => {
    const { server, check } = await gate();
    server.answer = () => ({ body: { open: false, reason: 'change freeze until Monday 06:00 UTC' } });
    const result = await check();
    expect(result).toMatchObject({
      open: false,
      reason: 'closed: change freeze until Monday 06:00 UTC',
      evidence: { status: 200, open: false, reason: 'change freeze until Monday 06:00 UTC' },
    });
    expect(result.error).toBeUndefined();
  });

  it.each([
    [
      'a 500',
      { status: 500, body: 'database down' },
      /^cannot be checked: answered HTTP 500 \(database down\)$/,
    ],
    [
      'a redirect',
      { status: 302, body: '', headers: { location: 'https://elsewhere' } },
      /a redirect\); redirects are never followed/,
    ],
    [
      'a body that is not the contract',
      { body: { status: 'green' } },
      /the answer is not \{"open": true\|false/,
    ],
    ['a 200 that is not JSON', { body: 'OK' }, /the answer is not \{"open"/],
  ])('is blocked by %s', async (_what, answer, reason) => {
    const { server, check } = await gate();
    server.answer = () => answer;
    const result = await check();
    expect(result.open).toBe(false);
    expect(result.reason).toMatch(reason);
  });

  it('is blocked when no answer comes within its timeout', async () => {
    const { server, check } = await gate({ timeout: '1s' });
    server.answer = () => ({ body: { open: true }, delayMs: 3_000 });
    const started = Date.now();
    const result = await check();
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(result).toMatchObject({ open: false, reason: 'cannot be checked: no answer within 1 s' });
  });

  it('is blocked by a gate the worker does not have', async () => {
    const result = await checkHttpGate(gatesConfig({}), 'freeze', REQUEST);
    expect(result.open).toBe(false);
    expect(result.reason).toMatch(/HTTP gate "freeze" is not one this worker may ask \(none is configured/);
  });
});

describe('signed HTTP gates', () => {
  const secret = 'gate-secret-0123456789abcdef';

  it('signs the request and believes a signed answer', async () => {
    const secretFile = join(dir, 'secret-ok');
    writeFileSync(secretFile, `${secret}\n`);
    const { server, check } = await gate({ secret, secretFile });
    server.answer = () => ({ body: { open: true } });
    expect(await check()).toMatchObject({ open: true });
    expect(server.received[0]?.signatureOk).toBe(true);
  });

  it('does not believe an unsigned answer, nor one signed with another secret', async () => {
    const secretFile = join(dir, 'secret-unsigned');
    writeFileSync(secretFile, secret);
    const { server, check } = await gate({ secret, secretFile });
    server.answer = () => ({ body: { open: true }, sign: false });
    const unsigned = await check();
    expect(unsigned.open).toBe(false);
    expect(unsigned.reason).toMatch(/the answer is not believed: the answer is not signed/);

    const other = await gate({ secret: 'another-secret-0123456789', secretFile });
    other.server.answer = () => ({ body: { open: true } });
    const mismatched = await other.check();
    expect(mismatched.open).toBe(false);
    expect(other.server.received[0]?.signatureOk).toBe(false);
    expect(mismatched.reason).toMatch(/signature does not match/);
  });

  it('is blocked without asking when its secret file is missing or empty', async () => {
    const secretFile = join(dir, 'secret-missing');
    const { server, check } = await gate({ secret, secretFile });
    const missing = await check();
    expect(missing.open).toBe(false);
    expect(missing.reason).toContain(
      `no signing secret for HTTP gate "freeze": file ${secretFile} is missing or empty`,
    );
    writeFileSync(secretFile, '  \n');
    expect((await check()).open).toBe(false);
    expect(server.received).toHaveLength(0);
    expect(JSON.stringify(missing)).not.toContain(secret);
  });
});
