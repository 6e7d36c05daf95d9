/**
 * Hostile request bodies: nesting thousands of levels deep, bodies over the 1 MiB limit on both
 * APIs, and the call log's bounds on what such bodies can make it keep.
 */
import { DescribeCustomKeyStoresCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { beforeEach, describe, expect, it } from 'vitest';
import { CallLog } from '../../src/sim/call-log';
import { isRecord, kmsError, rawKms, useSimulator } from './helpers';

const h = useSimulator({ quotaRps: 0 });

const MIB = 1024 * 1024;

beforeEach(async () => {
  await h.control.reset();
});

/** `{"a":{"a":…1…}}` or `[[…[]…]]`, `depth` levels deep. */
function nested(kind: 'object' | 'array', depth: number): string {
  return kind === 'object'
    ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** A body of exactly `bytes` bytes: `{"KeyId":"<keyId>","Pad":"xxx…"}`. */
function paddedBody(keyId: string, bytes: number): string {
  const head = `{"KeyId":${JSON.stringify(keyId)},"Pad":"`;
  const tail = '"}';
  return `${head}${'x'.repeat(bytes - head.length - tail.length)}${tail}`;
}

async function controlFetch(path: string, init: RequestInit = {}) {
  const response = await fetch(`${h.sim.url}${path}`, init);
  const json: unknown = await response.json();
  return { status: response.status, json };
}

async function callsText(): Promise<string> {
  const response = await fetch(`${h.sim.url}/_sim/calls`);
  expect(response.status).toBe(200);
  return response.text();
}

describe('deeply nested request bodies', () => {
  it.each(['object', 'array'] as const)(
    'answers a body with an %s nested 10,000 levels deep the KMS way, and keeps serving',
    async (kind) => {
      const deep = nested(kind, 10_000);
      const cases = [
        // An unknown member is ignored, as by KMS: the request succeeds.
        { target: 'DescribeCustomKeyStores', body: `{"a":${deep}}`, type: undefined },
        { target: 'ConnectCustomKeyStore', body: `{"a":${deep}}`, type: 'ValidationException' },
        { target: 'DescribeKey', body: `{"KeyId":${deep}}`, type: 'SerializationException' },
        { target: 'NoSuchOperation', body: `{"a":${deep}}`, type: 'UnknownOperationException' },
      ];
      for (const { target, body, type } of cases) {
        const response = await rawKms(h.sim.url, { target, body });
        if (type === undefined) {
          expect(response.status).toBe(200);
          expect(response.json).toEqual({ CustomKeyStores: [], Truncated: false });
        } else {
          expect(response.status).toBe(400);
          expect(response.json['__type']).toBe(type);
          expect(response.json['message']).toEqual(expect.any(String));
        }
      }

      const text = await callsText();
      expect(text.length).toBeLessThan(4 * 1024);
      const calls = await h.control.calls();
      expect(calls.map((call) => [call.operation, call.outcome])).toEqual(
        cases.map(({ target, type }) => [target, type ?? 'ok']),
      );
      const recorded = JSON.stringify(calls[0]?.params);
      expect(recorded).toContain('<nested too deep: not kept>');
      expect(recorded.length).toBeLessThan(1024);

      const ok = await h.kms.send(new DescribeCustomKeyStoresCommand({}));
      expect(ok.CustomKeyStores).toEqual([]);
    },
  );
});

describe('request bodies over 1 MiB', () => {
  it('are answered 413 RequestEntityTooLargeException on the KMS endpoint, naming the limit', async () => {
    const atLimit = await rawKms(h.sim.url, {
      target: 'DescribeKey',
      body: paddedBody('alias/at-limit', MIB),
    });
    expect(atLimit.json['__type']).toBe('NotFoundException');

    const response = await fetch(h.sim.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        authorization: 'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/kms/aws4_request, Signature=x',
        'x-amz-target': 'TrentService.DescribeKey',
      },
      body: paddedBody('alias/over-limit', MIB + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('x-amzn-errortype')).toBe('RequestEntityTooLargeException');
    const json: unknown = await response.json();
    expect(json).toMatchObject({ __type: 'RequestEntityTooLargeException' });
    expect(isRecord(json) && json['message']).toContain('1048576 bytes (1 MiB)');

    // Before anything else, Authorization included: the body was never kept.
    const unauthenticated = await rawKms(h.sim.url, {
      target: 'DescribeKey',
      body: paddedBody('alias/x', 2 * MIB),
      headers: { authorization: '' },
    });
    expect(unauthenticated.status).toBe(413);
    expect(unauthenticated.json['__type']).toBe('RequestEntityTooLargeException');

    // What the SDK raises: the exception by name, with the status.
    const sdk = await kmsError(
      h.kms.send(new EncryptCommand({ KeyId: 'alias/x', Plaintext: Buffer.alloc(MIB) })),
    );
    expect(sdk).toMatchObject({ name: 'RequestEntityTooLargeException', status: 413 });

    const calls = await h.control.calls();
    expect(calls.map((call) => [call.operation, call.outcome, call.params])).toEqual([
      ['DescribeKey', 'NotFoundException', expect.objectContaining({ KeyId: 'alias/at-limit' })],
      ['DescribeKey', 'RequestEntityTooLargeException', {}],
      ['DescribeKey', 'RequestEntityTooLargeException', {}],
      ['Encrypt', 'RequestEntityTooLargeException', {}],
    ]);
  });

  it('are answered 413 RequestEntityTooLarge by the control API, never read as an empty body', async () => {
    const before = await h.control.config();
    const patch = await controlFetch('/_sim/config', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ quotaRps: 7, pad: 'x'.repeat(MIB) }),
    });
    expect(patch).toMatchObject({ status: 413, json: { error: 'RequestEntityTooLarge' } });
    expect(isRecord(patch.json) && patch.json['message']).toContain('1048576 bytes (1 MiB)');
    expect(await h.control.config()).toEqual(before);

    const fault = await controlFetch('/_sim/faults', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: '*', errorType: 'KMSInternalException', pad: 'x'.repeat(MIB) }),
    });
    expect(fault).toMatchObject({ status: 413, json: { error: 'RequestEntityTooLarge' } });
    expect(await h.control.faults()).toEqual([]);
    expect(await h.control.health()).toEqual({ ok: true });
  });
});

describe('call log bounds', () => {
  it('keeps a small, bounded copy of each request however large its body', async () => {
    const size = MIB - 64;
    const bodies = [
      // One huge string.
      (i: number) => paddedBody(`alias/big-${i}`, size),
      // Very many small members.
      (i: number) => {
        const members: string[] = [`"KeyId":"alias/big-${i}"`];
        let length = members[0]?.length ?? 0;
        for (let n = 0; length < size - 32; n++) {
          const member = `"m${n}":${n}`;
          members.push(member);
          length += member.length + 1;
        }
        return `{${members.join(',')}}`;
      },
      // One very long array.
      (i: number) => {
        const head = `{"KeyId":"alias/big-${i}","Pad":[`;
        const count = Math.floor((size - head.length - 2) / 2);
        return `${head}${Array.from({ length: count }, () => '1').join(',')}]}`;
      },
    ];
    const answers: string[] = [];
    for (let i = 0; i < 50; i++) {
      const body = bodies[i % bodies.length]?.(i) ?? '{}';
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MIB);
      expect(Buffer.byteLength(body)).toBeGreaterThan(MIB - 1024);
      const response = await rawKms(h.sim.url, { target: 'DescribeKey', body });
      answers.push(String(response.json['__type']));
    }
    expect([...new Set(answers)]).toEqual(['NotFoundException']);

    // 50 MiB in; the whole log answers in under 300 KiB (at most about 5 KiB per entry).
    const text = await callsText();
    expect(text.length).toBeLessThan(300 * 1024);
    const calls = await h.control.calls();
    expect(calls).toHaveLength(50);
    calls.forEach((call, i) => {
      expect(call).toMatchObject({ operation: 'DescribeKey', outcome: answers[i] });
      expect(call.params['KeyId']).toBe(`alias/big-${i}`);
      expect(JSON.stringify(call.params).length).toBeLessThan(5 * 1024);
    });
    expect(calls[0]?.params['Pad']).toMatch(/^x{100}\.\.\.<truncated: \d{7} characters>$/);
    expect(calls[1]?.params['<omitted>']).toMatch(/^\d+ more members$/);
    const array = calls[2]?.params['Pad'];
    expect(Array.isArray(array) ? array.at(-1) : array).toMatch(/^<omitted: \d+ more elements>$/);
    expect(calls[1]?.params['m0']).toBe(0);
  });

  it('records ordinary requests unchanged', async () => {
    const credential = { AccessKeyId: 'ABCDEFGHIJKLMNOPQRST', RawSecretAccessKey: 's'.repeat(43) };
    const params = {
      CustomKeyStoreName: 'n'.repeat(256),
      CustomKeyStoreType: 'EXTERNAL_KEY_STORE',
      XksProxyUriEndpoint: 'https://unchanged.example.com',
      XksProxyUriPath: '/kms/xks/v1',
      XksProxyConnectivity: 'PUBLIC_ENDPOINT',
      XksProxyAuthenticationCredential: credential,
    };
    await rawKms(h.sim.url, { target: 'CreateCustomKeyStore', body: JSON.stringify(params) });
    const [call] = await h.control.calls();
    expect(call?.params).toEqual({
      ...params,
      XksProxyAuthenticationCredential: { ...credential, RawSecretAccessKey: '<redacted>' },
    });
  });

  it('drops the oldest entries once the whole log would exceed its size in characters', () => {
    const log = new CallLog(50_000, 20_000);
    for (let i = 0; i < 100; i++) {
      log.record({
        at: new Date(0).toISOString(),
        operation: 'DescribeKey',
        params: { KeyId: `alias/${i}`, Pad: 'x'.repeat(900) },
        outcome: 'NotFoundException',
        requestId: String(i),
      });
    }
    const kept = log.list();
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(20_000);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.at(-1)?.requestId).toBe('99');
    expect(kept.map((call) => Number(call.requestId))).toEqual(
      Array.from({ length: kept.length }, (_, i) => 100 - kept.length + i),
    );
  });
});
