/** The fleet request's validation and name patterns (pure domain code, no server). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileNamePattern,
  countStores,
  globMatches,
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

  it('refuses a /regex/ namePattern, naming the field and the fix (a glob)', () => {
    for (const namePattern of ['/^(a+)+$/', '/xks/i', '/prod-(/', '/prod/g']) {
      const text = problems({ ...base, namePattern });
      expect(text, namePattern).toMatch(/^namePattern: regular expressions \("\/…\/"\) are not supported/m);
      expect(text, namePattern).toMatch(/use a glob on the whole name: \* for any characters, \? for one/);
    }
    expect(compileNamePattern('/^(a+)+$/').ok).toBe(false);
  });

  it('lets the old /regex/ form pass only where the stores are already selected (continued or older fleets)', () => {
    const old = { ...base, namePattern: '/^prod-/' };
    expect(validateFleetRequest(old, Date.now()).ok).toBe(false);
    expect(validateFleetRequest(old, Date.now(), { patternAlreadyResolved: true }).ok).toBe(true);
    // Anything else about the pattern is still checked.
    expect(
      validateFleetRequest({ ...base, namePattern: '' }, Date.now(), { patternAlreadyResolved: true }).ok,
    ).toBe(false);
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

  it('a glob matches as a whole: stars take any run (also none), consecutive stars act as one', () => {
    expect(matches('*', ['', 'x', 'prod-eu-1'])).toEqual(['', 'x', 'prod-eu-1']);
    expect(matches('', ['', 'x'])).toEqual(['']);
    expect(matches('*-eu-*', ['prod-eu-1', 'eu-1', '-eu-', 'prod-us-1'])).toEqual(['prod-eu-1', '-eu-']);
    expect(matches('a**b*?c', ['abxc', 'abc', 'aXbYYc', 'ab'])).toEqual(['abxc', 'aXbYYc']);
    expect(matches('*ab*ab', ['aabab', 'abab', 'ababa', 'abaab'])).toEqual(['aabab', 'abab', 'abaab']);
    expect(matches('  prod-*  ', ['prod-1'])).toEqual(['prod-1']);
    expect(matches('[ab]{2}\\d', ['[ab]{2}\\d', 'aa1'])).toEqual(['[ab]{2}\\d']);
    expect(matches('key-?', ['key-🔑', 'key-ab'])).toEqual(['key-🔑']);
    expect(matches('?team/db', ['/team/db'])).toEqual(['/team/db']);
  });

  it('takes time linear in the name: many stars against a long name that does not match', () => {
    // As a regular expression (^a.*a.*…b$) this backtracks for minutes on a name of 60 `a`s.
    const pattern = `${'*a'.repeat(100)}*b`;
    const compiled = compileNamePattern(pattern);
    if (!compiled.ok) throw new Error(compiled.problem);
    expect(compiled.matches('a'.repeat(20_000))).toBe(false);
    expect(compiled.matches(`${'a'.repeat(20_000)}b`)).toBe(true);
    expect(globMatches(Array.from(pattern), Array.from('a'.repeat(99)))).toBe(false);
  });
});

describe('globMatches', () => {
  /** The textbook dynamic programme: slow, obviously right. */
  function reference(pattern: readonly string[], name: readonly string[]): boolean {
    let row = [true, ...name.map(() => false)];
    for (const symbol of pattern) {
      const next = [symbol === '*' && row[0] === true];
      for (let j = 1; j <= name.length; j++) {
        next[j] =
          symbol === '*'
            ? row[j] === true || next[j - 1] === true
            : row[j - 1] === true && (symbol === '?' || symbol === name[j - 1]);
      }
      row = next;
    }
    return row[name.length] === true;
  }

  it('agrees with the reference matcher on any pattern and name', () => {
    const symbols = fc.array(fc.constantFrom('a', 'b', '*', '?'), { maxLength: 8 });
    const names = fc.array(fc.constantFrom('a', 'b'), { maxLength: 12 });
    fc.assert(
      fc.property(symbols, names, (pattern, name) => globMatches(pattern, name) === reference(pattern, name)),
      { numRuns: 2_000 },
    );
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
