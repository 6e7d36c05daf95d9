/** The fleet request's validation and name patterns (pure domain code, no server). */
import { describe, expect, it } from 'vitest';
import {
  compileNamePattern,
  countStores,
  storeRequest,
  validateFleetRequest,
  type FleetStoreProgress,
  type FleetStoreState,
} from '../../src/domain/fleet';
import { validateMaintenanceRequest } from '../../src/domain/request';

const NOW = Date.parse('2026-03-01T00:00:00Z');
const base = {
  request: { window: { duration: '2h' } },
  requestedBy: 'alice@example.com',
  reason: 'HSM firmware',
};

function problems(input: unknown): string {
  const v = validateFleetRequest(input, NOW);
  if (v.ok) throw new Error('expected the request to be refused');
  return v.problems.join('\n');
}

describe('validateFleetRequest', () => {
  it('applies the defaults: one store at a time, stop at the first failure', () => {
    const v = validateFleetRequest({ ...base, namePattern: 'prod-*' }, NOW);
    expect(v.ok && v.request).toMatchObject({
      selection: { kind: 'pattern', namePattern: 'prod-*' },
      maxConcurrency: 1,
      maxErrors: 0,
      continueAsNewAfterStores: 250,
    });
  });

  it('gives each store a complete, valid maintenance request carrying the fleet id', () => {
    const v = validateFleetRequest(
      {
        ...base,
        stores: ['cks-0123456789abcdef0'],
        request: { window: { duration: '30m' }, pollInterval: '5s' },
      },
      NOW,
    );
    if (!v.ok) throw new Error(v.problems.join('; '));
    const request = storeRequest(
      v.request,
      'cks-0123456789abcdef0',
      'eu-west-1',
      'keystore-maint-fleet/eu-west-1/x',
    );
    expect(request).toMatchObject({
      customKeyStoreId: 'cks-0123456789abcdef0',
      region: 'eu-west-1',
      window: { duration: '30m' },
      pollInterval: '5s',
      requestedBy: 'alice@example.com',
      reason: 'HSM firmware (fleet keystore-maint-fleet/eu-west-1/x)',
    });
    expect(validateMaintenanceRequest(request, NOW).ok).toBe(true);
  });

  it('needs exactly one of stores or namePattern', () => {
    expect(problems(base)).toMatch(/exactly one of "stores"/);
    expect(problems({ ...base, stores: ['cks-0123456789abcdef0'], namePattern: 'x' })).toMatch(/exactly one/);
  });

  it('names every bad field, including the template checked as a whole maintenance request', () => {
    const text = problems({
      stores: ['cks-nope', 'cks-0123456789abcdef0', 'cks-0123456789abcdef0'],
      request: { window: { duration: '3h' }, maxWindow: '1h', colour: 'blue' },
      maxConcurrency: 0,
      maxErrors: -1,
      requestedBy: '',
      reason: 'x',
    });
    expect(text).toMatch(/stores.0: must be a custom key store id/);
    expect(text).toMatch(/more than once/);
    expect(text).toMatch(/maxConcurrency/);
    expect(text).toMatch(/maxErrors/);
    expect(text).toMatch(/requestedBy/);
    expect(text).toMatch(/request: .*colour/);
  });

  it('checks the window against maxWindow like a single run does', () => {
    expect(
      problems({ ...base, namePattern: 'p*', request: { window: { duration: '3h' }, maxWindow: '1h' } }),
    ).toMatch(/request.window.duration: 3h is longer than maxWindow 1h/);
  });

  it('refuses what cannot apply to many stores: an absolute window end, alias drains, a canary key', () => {
    expect(
      problems({ ...base, namePattern: 'p*', request: { window: { until: '2026-03-01T04:00:00Z' } } }),
    ).toMatch(/a fleet needs a duration/);
    expect(
      problems({
        ...base,
        namePattern: 'p*',
        request: {
          window: { duration: '1h' },
          drain: {
            provider: 'alias',
            aliases: ['alias/a'],
            fallbackKeyId: '11111111-2222-4333-8444-555555555555',
          },
        },
      }),
    ).toMatch(/alias provider names aliases of one store/);
    expect(
      problems({
        ...base,
        namePattern: 'p*',
        request: { window: { duration: '1h' }, canaryKeyId: '11111111-2222-4333-8444-555555555555' },
      }),
    ).toMatch(/canary key belongs to one store/);
  });

  it('refuses a namePattern that is not a valid regular expression', () => {
    expect(problems({ ...base, namePattern: '/prod-(/' })).toMatch(/not a valid regular expression/);
    expect(problems({ ...base, namePattern: '/prod/g' })).toMatch(/only "i"/);
  });
});

describe('compileNamePattern', () => {
  const matches = (pattern: string, names: string[]) => {
    const compiled = compileNamePattern(pattern);
    if (!compiled.ok) throw new Error(compiled.problem);
    return names.filter(compiled.matches);
  };

  it('a glob matches the whole name; * and ? are the only wildcards', () => {
    expect(matches('prod-*', ['prod-eu-1', 'prod-', 'staging-prod-1', 'Prod-eu'])).toEqual([
      'prod-eu-1',
      'prod-',
    ]);
    expect(matches('hsm-?', ['hsm-1', 'hsm-12', 'hsm-'])).toEqual(['hsm-1']);
    expect(matches('a.b+(c)', ['a.b+(c)', 'aXb+(c)', 'a.bb(c)'])).toEqual(['a.b+(c)']);
  });

  it('a /regex/ matches as a regular expression does, optionally ignoring case', () => {
    expect(matches('/^prod-(eu|us)-\\d+$/', ['prod-eu-1', 'prod-ap-1', 'prod-us-22'])).toEqual([
      'prod-eu-1',
      'prod-us-22',
    ]);
    expect(matches('/xks/i', ['tenant-XKS-1', 'hsm-1'])).toEqual(['tenant-XKS-1']);
  });
});

describe('countStores', () => {
  it('counts every end other than COMPLETED as an error, and skipped stores apart', () => {
    const states: FleetStoreState[] = [
      'PENDING',
      'RUNNING',
      'COMPLETED',
      'FAILED',
      'CANCELLED',
      'NEEDS_ATTENTION',
      'SKIPPED',
    ];
    const stores = states.map((state): FleetStoreProgress => ({
      customKeyStoreId: 'cks-0123456789abcdef0',
      workflowId: 'w',
      state,
    }));
    expect(countStores(stores)).toEqual({
      total: 7,
      pending: 1,
      running: 1,
      completed: 1,
      errors: 3,
      skipped: 1,
    });
  });
});
