/**
 * Stores in other accounts (pure code): the request's location fields, the account-qualified
 * workflow id, role ARNs per partition, fleets over locations, the per-(account, Region,
 * operation) budget keys and the classification of a role that cannot be assumed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { budgetKey } from '../../activities/kms-call';
import { validateFleetRequest, type FleetTarget } from '../../src/domain/fleet';
import { executionRoleArn, partitionOf, roleSessionNameFor } from '../../src/domain/location';
import { maintenanceWorkflowId, parseMaintenanceWorkflowId } from '../../src/domain/names';
import { validateMaintenanceRequest } from '../../src/domain/request';
import { ExecutionRoleError } from '../../src/kms/assumed-role';
import { classifyKmsError, kmsFailure } from '../../src/kms/errors';
import { KmsCallGate } from '../../src/kms/rate-limit';

const NOW = Date.parse('2026-11-01T00:00:00Z');
const STORE = 'cks-1234567890abcdef0';
const single = {
  customKeyStoreId: STORE,
  window: { duration: '1h' },
  reason: 'rotate the proxy certificate',
  requestedBy: 'alice@example.com',
};
const fleetBase = {
  request: { window: { duration: '2h' } },
  requestedBy: 'alice@example.com',
  reason: 'HSM firmware',
};

function problemsOf(v: { ok: boolean; problems?: readonly string[] }): string {
  if (v.ok) throw new Error('expected the request to be refused');
  return (v.problems ?? []).join('\n');
}

describe('a maintenance request for a store in another account', () => {
  it('resolves account, execution role and ExternalId into the location', () => {
    const v = validateMaintenanceRequest(
      { ...single, account: '222233334444', executionRole: 'ops/KeystoreMaint', externalId: 'ext-123' },
      NOW,
    );
    if (!v.ok) throw new Error(v.problems.join('; '));
    expect(v.request.location).toEqual({
      account: '222233334444',
      executionRole: 'ops/KeystoreMaint',
      externalId: 'ext-123',
    });
  });

  it('has an empty location without them, as every request had before accounts', () => {
    const v = validateMaintenanceRequest(single, NOW);
    if (!v.ok) throw new Error(v.problems.join('; '));
    expect(v.request.location).toEqual({});
  });

  it('refuses a role without its account, an ExternalId without a role, and malformed values', () => {
    expect(problemsOf(validateMaintenanceRequest({ ...single, executionRole: 'R' }, NOW))).toMatch(
      /executionRole: needs "account"/,
    );
    expect(
      problemsOf(validateMaintenanceRequest({ ...single, account: '222233334444', externalId: 'abc' }, NOW)),
    ).toMatch(/externalId: is only used to assume "executionRole"/);
    expect(problemsOf(validateMaintenanceRequest({ ...single, account: '2222' }, NOW))).toMatch(
      /account: must be a 12-digit AWS account id/,
    );
    expect(problemsOf(validateMaintenanceRequest({ ...single, account: 222233334444 }, NOW))).toMatch(
      /account: must be a 12-digit AWS account id, as a string/,
    );
    expect(
      problemsOf(
        validateMaintenanceRequest({ ...single, account: '222233334444', executionRole: 'no spaces' }, NOW),
      ),
    ).toMatch(/executionRole: must be an IAM role name/);
  });
});

describe('the canonical workflow id with an account', () => {
  it('keeps the old form without an account and adds the account when given', () => {
    expect(maintenanceWorkflowId('eu-west-1', STORE)).toBe(`keystore-maint/eu-west-1/${STORE}`);
    expect(maintenanceWorkflowId('eu-west-1', STORE, '222233334444')).toBe(
      `keystore-maint/222233334444/eu-west-1/${STORE}`,
    );
  });

  it('parses both forms back, and nothing else', () => {
    expect(parseMaintenanceWorkflowId(`keystore-maint/eu-west-1/${STORE}`)).toEqual({
      region: 'eu-west-1',
      customKeyStoreId: STORE,
    });
    expect(parseMaintenanceWorkflowId(`keystore-maint/222233334444/eu-west-1/${STORE}`)).toEqual({
      account: '222233334444',
      region: 'eu-west-1',
      customKeyStoreId: STORE,
    });
    expect(parseMaintenanceWorkflowId(`keystore-maint/2222/eu-west-1/${STORE}`)).toBeUndefined();
    expect(parseMaintenanceWorkflowId(`keystore-maint/eu-west-1/${STORE}/x`)).toBeUndefined();
  });
});

describe('execution role ARNs', () => {
  it('use the partition of the Region', () => {
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(executionRoleArn({ region: 'eu-west-1', account: '222233334444', executionRole: 'R' })).toBe(
      'arn:aws:iam::222233334444:role/R',
    );
    expect(executionRoleArn({ region: 'cn-north-1', account: '222233334444', executionRole: 'p/R' })).toBe(
      'arn:aws-cn:iam::222233334444:role/p/R',
    );
    expect(executionRoleArn({ region: 'eu-west-1', account: '222233334444' })).toBeUndefined();
  });

  it('name the session after the store, within STS limits', () => {
    const name = roleSessionNameFor(STORE);
    expect(name).toMatch(/^[\w+=,.@-]{2,64}$/);
    expect(name).toContain(STORE);
  });
});

describe('a fleet over locations', () => {
  const location = {
    accounts: ['111122223333', '222233334444'],
    regions: ['us-east-1', 'eu-west-1'],
    executionRole: 'KeystoreMaint',
    maxConcurrency: 2,
    maxErrors: 1,
  };

  it('expands each location into its account-Regions, in the order written', () => {
    const v = validateFleetRequest(
      {
        ...fleetBase,
        locations: [location, { accounts: ['555566667777'], regions: ['ap-south-1'], stores: [STORE] }],
      },
      NOW,
    );
    if (!v.ok) throw new Error(v.problems.join('; '));
    expect(v.request.selection.kind).toBe('locations');
    const targets = (v.request.selection as { targets: readonly FleetTarget[] }).targets;
    expect(targets.map((t) => `${t.location}:${t.account}/${t.region}`)).toEqual([
      '0:111122223333/us-east-1',
      '0:111122223333/eu-west-1',
      '0:222233334444/us-east-1',
      '0:222233334444/eu-west-1',
      '1:555566667777/ap-south-1',
    ]);
    expect(targets[0]?.select).toEqual({ kind: 'pattern', namePattern: '*' });
    expect(targets[4]?.select).toEqual({ kind: 'stores', storeIds: [STORE] });
    expect(v.request.locationLimits).toEqual([
      { maxConcurrency: 2, maxErrors: 1 },
      { maxConcurrency: undefined, maxErrors: undefined },
    ]);
  });

  it('refuses what cannot be right, naming each field', () => {
    const text = problemsOf(
      validateFleetRequest(
        {
          ...fleetBase,
          region: 'us-east-1',
          locations: [
            { ...location, stores: [STORE] },
            {
              accounts: ['111122223333'],
              regions: ['us-east-1'],
              externalId: 'xx',
              namePattern: '/^(a+)+$/',
            },
          ],
        },
        NOW,
      ),
    );
    expect(text).toMatch(/region: a fleet with "locations" takes its Regions from each location/);
    expect(text).toMatch(/locations\.0\.stores: a store id names a store in one account and Region/);
    expect(text).toMatch(/locations\.1\.externalId: is only used to assume "executionRole"/);
    expect(text).toMatch(/locations\.1\.namePattern: regular expressions/);
    expect(text).toMatch(/locations\.1: account 111122223333 in us-east-1 is already in locations\.0/);
  });

  it('takes exactly one way to select stores', () => {
    expect(
      problemsOf(validateFleetRequest({ ...fleetBase, namePattern: 'a*', locations: [location] }, NOW)),
    ).toMatch(/give exactly one of "stores".*"namePattern".*"locations"/);
  });

  it('refuses the fields a location supplies in the per-store template', () => {
    expect(
      problemsOf(
        validateFleetRequest(
          { ...fleetBase, request: { ...fleetBase.request, account: '111122223333' }, locations: [location] },
          NOW,
        ),
      ),
    ).toMatch(/request: Unrecognized key: "account"/);
  });
});

describe('the KMS budget per (account, Region, operation)', () => {
  const here = { region: 'us-east-1' };
  const other = { region: 'us-east-1', account: '222233334444', executionRole: 'R' };

  it('keys each operation of each account-Region apart', () => {
    expect(budgetKey(here, 'DescribeCustomKeyStores')).toBe('self/us-east-1/DescribeCustomKeyStores');
    expect(budgetKey(other, 'ConnectCustomKeyStore')).toBe('222233334444/us-east-1/ConnectCustomKeyStore');
  });

  it('lets a full Describe window not hold back a Connect, nor another account', async () => {
    const gate = new KmsCallGate(2, { windowMs: 60_000 });
    const made: string[] = [];
    const call = (key: string) => gate.run(key, () => Promise.resolve(made.push(key)));
    await call(budgetKey(here, 'DescribeCustomKeyStores'));
    await call(budgetKey(here, 'DescribeCustomKeyStores'));
    // The Describe window is now full for a minute; these must not wait for it.
    await call(budgetKey(here, 'ConnectCustomKeyStore'));
    await call(budgetKey(other, 'DescribeCustomKeyStores'));
    expect(made).toHaveLength(4);
    let third = false;
    void call(budgetKey(here, 'DescribeCustomKeyStores')).then(() => (third = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(third).toBe(false);
  });
});

describe('a role that cannot be assumed', () => {
  const roleArn = 'arn:aws:iam::222233334444:role/R';
  const denied = Object.assign(new Error('User: arn:aws:iam::111122223333:user/w is not authorized'), {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: 403, requestId: 'req-1' },
  });

  it('fails for good when STS refused, naming the role and what to check', () => {
    const err = new ExecutionRoleError(roleArn, 'keystore-maint-x', denied);
    expect(classifyKmsError(err)).toMatchObject({
      kind: 'non-retryable',
      failureType: 'ExecutionRoleNotAssumable',
    });
    const failure = kmsFailure(err, { operation: 'DescribeCustomKeyStores', customKeyStoreId: STORE });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('ExecutionRoleNotAssumable');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain(roleArn);
    expect(failure.message).toContain('trust policy');
    expect(failure.details?.[0]).toMatchObject({ roleArn, stsError: 'AccessDenied' });
  });

  it('is retried when STS was only throttled', () => {
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'Throttling',
      $metadata: { httpStatusCode: 400 },
    });
    expect(classifyKmsError(new ExecutionRoleError(roleArn, 's', throttled)).kind).toBe('retryable');
  });
});
