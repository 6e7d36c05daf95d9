/** STS GetCallerIdentity on the simulator's port: the AWS Query protocol, through the real SDK. */
import { DescribeCustomKeyStoresCommand } from '@aws-sdk/client-kms';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { beforeEach, describe, expect, it } from 'vitest';
import { startKmsSimulator } from '../../src/sim';
import { isRecord, kmsError, useSimulator } from './helpers';

const h = useSimulator({ quotaRps: 0 });

beforeEach(async () => {
  await h.control.reset();
});

function stsClient(url: string | undefined, accessKeyId = 'AKIDSIMULATORTEST01', region = 'us-east-1') {
  return new STSClient({
    region,
    ...(url ? { endpoint: url } : {}),
    credentials: { accessKeyId, secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

/** A raw STS Query request, for what the SDK would never send. */
async function rawSts(
  url: string,
  { body, headers = {}, path = '/' }: { body?: string; headers?: Record<string, string>; path?: string },
): Promise<{ status: number; requestId: string | null; contentType: string | null; text: string }> {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }),
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDRAWTEST/20250101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x',
      ...headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  return {
    status: response.status,
    requestId: response.headers.get('x-amzn-requestid'),
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

describe('STS GetCallerIdentity', () => {
  it('answers the real SDK with the account, an IAM user ARN and a user id derived from the key', async () => {
    const sts = stsClient(h.sim.url);
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      expect(out.Account).toBe('111122223333');
      expect(out.Arn).toBe('arn:aws:iam::111122223333:user/simulated');
      expect(out.UserId).toMatch(/^AIDA[A-Z2-7]{17}$/);
      expect(out.$metadata.httpStatusCode).toBe(200);
      expect(out.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

      const again = await sts.send(new GetCallerIdentityCommand({}));
      expect(again.UserId).toBe(out.UserId);
      const other = stsClient(h.sim.url, 'AKIDANOTHERKEY00001');
      expect((await other.send(new GetCallerIdentityCommand({}))).UserId).not.toBe(out.UserId);
      other.destroy();

      const calls = await h.control.calls({ operation: 'GetCallerIdentity' });
      expect(calls).toHaveLength(3);
      expect(calls[0]).toMatchObject({ outcome: 'ok', params: {}, requestId: out.$metadata.requestId });
    } finally {
      sts.destroy();
    }
  });

  it('is reached through the standard AWS_ENDPOINT_URL_STS, on the same port as KMS', async () => {
    const previous = process.env.AWS_ENDPOINT_URL_STS;
    process.env.AWS_ENDPOINT_URL_STS = h.sim.url;
    const sts = stsClient(undefined);
    try {
      expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('111122223333');
      // KMS on the same port is unaffected.
      expect((await h.kms.send(new DescribeCustomKeyStoresCommand({}))).CustomKeyStores).toEqual([]);
    } finally {
      sts.destroy();
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL_STS;
      else process.env.AWS_ENDPOINT_URL_STS = previous;
    }
  });

  it('uses the account and partition of its options', async () => {
    const sim = await startKmsSimulator({ port: 0, account: '444455556666', region: 'cn-north-1' });
    const sts = stsClient(sim.url, 'AKIDSIMULATORTEST01', 'cn-north-1');
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      expect(out.Account).toBe('444455556666');
      expect(out.Arn).toBe('arn:aws-cn:iam::444455556666:user/simulated');
    } finally {
      sts.destroy();
      await sim.stop();
    }
  });

  it('speaks the Query protocol on the wire: form in, XML out', async () => {
    const response = await rawSts(h.sim.url, { body: 'Action=GetCallerIdentity&Version=2011-06-15' });
    expect(response.status).toBe(200);
    expect(response.contentType).toBe('text/xml');
    expect(response.text).toContain(
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
    );
    expect(response.text).toMatch(
      /<GetCallerIdentityResult>\s*<Arn>arn:aws:iam::111122223333:user\/simulated<\/Arn>\s*<UserId>AIDA[A-Z2-7]{17}<\/UserId>\s*<Account>111122223333<\/Account>\s*<\/GetCallerIdentityResult>/,
    );
    expect(response.text).toContain(
      `<ResponseMetadata>\n    <RequestId>${response.requestId ?? ''}</RequestId>\n  </ResponseMetadata>`,
    );
    // A GET with the parameters in the query string is the same request.
    const get = await rawSts(h.sim.url, { path: '/?Action=GetCallerIdentity&Version=2011-06-15' });
    expect(get.status).toBe(200);
    expect(get.text).toContain('<Account>111122223333</Account>');
  });

  it.each([
    [{ authorization: '' }, 'Action=GetCallerIdentity&Version=2011-06-15', 403, 'MissingAuthenticationToken'],
    [
      { authorization: 'AWS4-HMAC-SHA256 Signature=x' },
      'Action=GetCallerIdentity&Version=2011-06-15',
      400,
      'IncompleteSignature',
    ],
    [{}, 'Version=2011-06-15', 400, 'MissingAction'],
    [{}, 'Action=GetSessionToken&Version=2011-06-15', 400, 'InvalidAction'],
    [{}, 'Action=GetCallerIdentity&Version=2010-01-01', 400, 'InvalidAction'],
  ])('refuses %j %s with %i %s, as an ErrorResponse', async (headers, body, status, code) => {
    const response = await rawSts(h.sim.url, { body, headers });
    expect(response.status).toBe(status);
    expect(response.text).toContain('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">');
    expect(response.text).toContain(`<Type>Sender</Type>\n    <Code>${code}</Code>`);
    expect(response.text).toContain(`<RequestId>${response.requestId ?? ''}</RequestId>`);
  });

  it('raises injected faults that name GetCallerIdentity as the SDK exception; `*` faults are for KMS', async () => {
    await h.control.addFault({ operation: '*', errorType: 'KMSInternalException', probability: 1 });
    const sts = stsClient(h.sim.url);
    try {
      expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('111122223333');
      await h.control.clearFaults();

      await h.control.addFault({
        operation: 'GetCallerIdentity',
        errorType: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
      });
      const denied = await kmsError(sts.send(new GetCallerIdentityCommand({})));
      expect(denied).toMatchObject({
        name: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
        status: 403,
      });
      expect(denied.requestId).toMatch(/^[0-9a-f-]{36}$/);
      // Fired once: the next call answers again.
      expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('111122223333');

      await h.control.addFault({ operation: 'GetCallerIdentity', errorType: 'ServiceUnavailable' });
      expect(await kmsError(sts.send(new GetCallerIdentityCommand({})))).toMatchObject({
        name: 'ServiceUnavailable',
        status: 503,
      });
      const calls = await h.control.calls({ operation: 'GetCallerIdentity' });
      expect(calls.map((c) => c.outcome)).toEqual(['ok', 'InvalidClientTokenId', 'ok', 'ServiceUnavailable']);
    } finally {
      sts.destroy();
    }
  });

  it('refuses faults for operations it serves neither for KMS nor STS', async () => {
    const response = await fetch(`${h.sim.url}/_sim/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'GetSessionToken', errorType: 'AccessDenied' }),
    });
    expect(response.status).toBe(400);
    const body: unknown = await response.json();
    expect(isRecord(body) && body['field']).toBe('operation');
  });
});
