/**
 * STS AssumeRole and temporary credentials, through the real `@aws-sdk/client-sts`,
 * `@aws-sdk/credential-providers`' `fromTemporaryCredentials` and `@aws-sdk/client-kms`: the
 * session acts in the role's account, and KMS and STS refuse its key without its token or after
 * its expiration with the errors AWS gives.
 */
import { DescribeCustomKeyStoresCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type Credentials,
} from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { kmsError, useSimulator } from './helpers';

const DEFAULT_ACCOUNT = '111122223333';
const TARGET = '444455556666';
const ROLE_ARN = `arn:aws:iam::${TARGET}:role/ops/maintainer`;

const h = useSimulator({ quotaRps: 0 });
const clients: { destroy(): void }[] = [];
afterAll(() => clients.forEach((client) => client.destroy()));

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

function sts(credentials: Creds = { accessKeyId: 'AKIDCALLER0000000001', secretAccessKey: 'x' }): STSClient {
  const client = new STSClient({ region: 'us-east-1', endpoint: h.sim.url, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

function kms(credentials: Creds): KMSClient {
  const client = new KMSClient({ region: 'us-east-1', endpoint: h.sim.url, credentials, maxAttempts: 1 });
  clients.push(client);
  return client;
}

function temporary(credentials: Credentials | undefined): Required<Creds> {
  return {
    accessKeyId: credentials?.AccessKeyId ?? '',
    secretAccessKey: credentials?.SecretAccessKey ?? '',
    sessionToken: credentials?.SessionToken ?? '',
  };
}

const assume = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]> = {}, client = sts()) =>
  client.send(new AssumeRoleCommand({ RoleArn: ROLE_ARN, RoleSessionName: 'run-42', ...input }));

beforeEach(async () => {
  await h.control.reset();
  await h.control.createRole({ Account: TARGET, RoleName: 'maintainer', Path: '/ops/' });
});

describe('AssumeRole', () => {
  it('issues temporary credentials that act as the role session in the role’s account', async () => {
    const role = (await h.control.roles())[0];
    const started = Date.now();
    const out = await assume();
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(out.Credentials?.SecretAccessKey).toBeTruthy();
    expect(out.Credentials?.SessionToken).toBeTruthy();
    const finished = Date.now();
    // An hour from when STS answered: between the call's start and its end.
    const expiresAt = out.Credentials?.Expiration?.getTime() ?? 0;
    expect(expiresAt - started).toBeGreaterThan(3_598_000);
    expect(expiresAt).toBeLessThanOrEqual(finished + 3_600_000);
    expect(out.AssumedRoleUser).toEqual({
      AssumedRoleId: `${role?.RoleId ?? ''}:run-42`,
      Arn: `arn:aws:sts::${TARGET}:assumed-role/maintainer/run-42`,
    });

    const session = temporary(out.Credentials);
    const identity = await sts(session).send(new GetCallerIdentityCommand({}));
    expect(identity).toMatchObject({
      Account: TARGET,
      Arn: `arn:aws:sts::${TARGET}:assumed-role/maintainer/run-42`,
      UserId: `${role?.RoleId ?? ''}:run-42`,
    });

    // KMS: the session sees the role account's stores, not the caller's.
    const theirs = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', Account: TARGET });
    await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM' });
    const listed = await kms(session).send(new DescribeCustomKeyStoresCommand({}));
    expect(listed.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual([theirs.CustomKeyStoreId]);

    const [call] = await h.control.calls({ operation: 'AssumeRole' });
    expect(call).toMatchObject({
      outcome: 'ok',
      account: DEFAULT_ACCOUNT,
      principal: `arn:aws:iam::${DEFAULT_ACCOUNT}:user/simulated`,
      params: { RoleArn: ROLE_ARN, RoleSessionName: 'run-42' },
    });
    const log = JSON.stringify(await h.control.calls());
    expect(log).not.toContain(session.secretAccessKey);
    expect(log).not.toContain(session.sessionToken);
    expect(
      await h.control.calls({ principal: `arn:aws:sts::${TARGET}:assumed-role/maintainer/run-42` }),
    ).toHaveLength(2);
  });

  it('works behind fromTemporaryCredentials, as a tool would use it', async () => {
    const store = await h.control.createStore({ CustomKeyStoreType: 'AWS_CLOUDHSM', Account: TARGET });
    const client = new KMSClient({
      region: 'us-east-1',
      endpoint: h.sim.url,
      maxAttempts: 1,
      credentials: fromTemporaryCredentials({
        masterCredentials: { accessKeyId: 'AKIDCALLER0000000001', secretAccessKey: 'x' },
        params: { RoleArn: ROLE_ARN, RoleSessionName: 'provider', DurationSeconds: 900 },
        clientConfig: { region: 'us-east-1', endpoint: h.sim.url, maxAttempts: 1 },
      }),
    });
    clients.push(client);
    const listed = await client.send(new DescribeCustomKeyStoresCommand({}));
    expect(listed.CustomKeyStores?.map((s) => s.CustomKeyStoreId)).toEqual([store.CustomKeyStoreId]);
    expect((await h.control.sessions())[0]).toMatchObject({
      Account: TARGET,
      RoleSessionName: 'provider',
      Expired: false,
    });
  });

  it('refuses a missing role, an untrusted account and a missing or wrong ExternalId alike: AccessDenied', async () => {
    await h.control.createRole({ Account: TARGET, RoleName: 'guarded', ExternalId: 'shared-secret' });
    await h.control.registerAccessKey({ AccessKeyId: 'AKIAUNTRUSTED0000001', Account: '999988887777' });
    const caller = `arn:aws:iam::${DEFAULT_ACCOUNT}:user/simulated`;
    const guarded = `arn:aws:iam::${TARGET}:role/guarded`;
    const cases: [Parameters<typeof assume>[0], STSClient, string, string][] = [
      [
        { RoleArn: `arn:aws:iam::${TARGET}:role/ops/missing` },
        sts(),
        caller,
        `arn:aws:iam::${TARGET}:role/ops/missing`,
      ],
      [
        { RoleArn: `arn:aws:iam::${TARGET}:role/maintainer` },
        sts(),
        caller,
        `arn:aws:iam::${TARGET}:role/maintainer`,
      ],
      [
        {},
        sts({ accessKeyId: 'AKIAUNTRUSTED0000001', secretAccessKey: 'x' }),
        'arn:aws:iam::999988887777:user/simulated',
        ROLE_ARN,
      ],
      [{ RoleArn: guarded }, sts(), caller, guarded],
      [{ RoleArn: guarded, ExternalId: 'wrong-secret' }, sts(), caller, guarded],
    ];
    for (const [input, client, who, what] of cases) {
      const error = await kmsError(assume(input, client));
      expect(error).toMatchObject({
        name: 'AccessDenied',
        status: 403,
        message: `User: ${who} is not authorized to perform: sts:AssumeRole on resource: ${what}`,
      });
    }
    await expect(assume({ RoleArn: guarded, ExternalId: 'shared-secret' })).resolves.toBeDefined();
    const logged = await h.control.calls({ operation: 'AssumeRole' });
    expect(logged.at(-1)?.params['ExternalId']).toBe('<redacted>');
  });

  it.each([
    [
      { RoleSessionName: 'x' },
      /at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2/,
    ],
    [
      { RoleSessionName: 'has space' },
      /at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern/,
    ],
    [
      { DurationSeconds: 899 },
      /at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/,
    ],
    [{ DurationSeconds: 43_201 }, /Member must have value less than or equal to 43200/],
    [
      { DurationSeconds: 3601 },
      /^The requested DurationSeconds exceeds the MaxSessionDuration set for this role\.$/,
    ],
    [{ ExternalId: 'a' }, /at 'externalId' failed to satisfy constraint/],
    [{ RoleArn: `arn:aws:iam::${TARGET}:user/maintainer` }, /is not a role ARN/],
  ])('answers %j with a ValidationError', async (input, message) => {
    const error = await kmsError(assume(input));
    expect(error.name).toBe('ValidationError');
    expect(error.status).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('allows the role’s MaxSessionDuration, and at most an hour when chaining roles', async () => {
    await h.control.createRole({
      Account: TARGET,
      RoleName: 'long',
      MaxSessionDuration: 43_200,
      TrustedAccounts: [DEFAULT_ACCOUNT, TARGET],
    });
    const longArn = `arn:aws:iam::${TARGET}:role/long`;
    await expect(assume({ RoleArn: longArn, DurationSeconds: 43_200 })).resolves.toBeDefined();
    const first = await assume();
    const chained = sts(temporary(first.Credentials));
    const error = await kmsError(assume({ RoleArn: longArn, DurationSeconds: 7200 }, chained));
    expect(error.name).toBe('ValidationError');
    expect(error.message).toMatch(/role chaining/);
    await expect(assume({ RoleArn: longArn }, chained)).resolves.toBeDefined();
  });

  it('refuses a session key without its token, or after it expired, as KMS and STS do', async () => {
    const session = temporary((await assume()).Credentials);
    const noToken = { accessKeyId: session.accessKeyId, secretAccessKey: session.secretAccessKey };
    expect(await kmsError(kms(noToken).send(new DescribeCustomKeyStoresCommand({})))).toMatchObject({
      name: 'UnrecognizedClientException',
      status: 400,
      message: 'The security token included in the request is invalid.',
    });
    expect(
      await kmsError(
        kms({ ...session, sessionToken: 'forged' }).send(new DescribeCustomKeyStoresCommand({})),
      ),
    ).toMatchObject({
      name: 'UnrecognizedClientException',
    });
    expect(await kmsError(sts(noToken).send(new GetCallerIdentityCommand({})))).toMatchObject({
      name: 'InvalidClientTokenId',
      status: 403,
    });

    await h.control.expireSession(session.accessKeyId);
    expect(await kmsError(kms(session).send(new DescribeCustomKeyStoresCommand({})))).toMatchObject({
      name: 'ExpiredTokenException',
      status: 400,
      message: 'The security token included in the request is expired',
    });
    expect(await kmsError(sts(session).send(new GetCallerIdentityCommand({})))).toMatchObject({
      name: 'ExpiredToken',
      status: 403,
    });
    const refused = await h.control.calls({ operation: 'DescribeCustomKeyStores' });
    expect(refused.map((c) => c.outcome)).toEqual([
      'UnrecognizedClientException',
      'UnrecognizedClientException',
      'ExpiredTokenException',
    ]);
    expect(refused.every((c) => c.account === undefined)).toBe(true);
  });

  it('takes injected faults that name AssumeRole', async () => {
    await h.control.addFault({
      operation: 'AssumeRole',
      errorType: 'RegionDisabledException',
      message: 'STS is not activated',
    });
    expect(await kmsError(assume())).toMatchObject({ name: 'RegionDisabledException', status: 403 });
    await expect(assume()).resolves.toBeDefined();
  });

  it('refuses a second role of the same name in an account, whatever its case', async () => {
    const error = await h.control
      .createRole({ Account: TARGET, RoleName: 'MAINTAINER' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 409, field: 'RoleName' });
  });
});
