/**
 * The request's `gates` member (src/domain/gates.ts): what it accepts, the defaults it resolves to,
 * and refusals that name the field.
 */
import { describe, expect, it } from 'vitest';
import { gatesSchema, resolveGates, type GatesInput } from '../../src/domain/gates';

function problems(input: unknown): string[] {
  const parsed = gatesSchema().safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map(
    (issue) => `${issue.path.map(String).join('.') || '(gates)'}: ${issue.message}`,
  );
}

function resolved(input: GatesInput) {
  return resolveGates(gatesSchema().parse(input));
}

describe('gatesSchema and resolveGates', () => {
  it('resolves the defaults: refuse, no wait, a check every minute', () => {
    expect(resolved({ cloudWatchAlarms: { names: ['payments-5xx'] } })).toEqual({
      onBlocked: 'refuse',
      waitUpToMs: 0,
      checkEveryMs: 60_000,
      cloudWatchAlarms: { names: ['payments-5xx'], prefix: undefined },
      prometheus: [],
      http: [],
    });
  });

  it('resolves a waiting request with every kind of gate', () => {
    expect(
      resolved({
        onBlocked: 'wait',
        waitUpTo: '2h',
        checkEvery: '30s',
        cloudWatchAlarms: { prefix: 'payments-' },
        prometheus: [
          { source: 'main', alerts: { alertname: 'HighErrorRate', labels: { severity: 'page' } } },
          { source: 'main', alerts: {} },
          { source: 'edge', query: 'sum(rate(errors_total[5m])) > 1' },
        ],
        http: [{ gate: 'change-freeze' }],
      }),
    ).toEqual({
      onBlocked: 'wait',
      waitUpToMs: 7_200_000,
      checkEveryMs: 30_000,
      cloudWatchAlarms: { names: [], prefix: 'payments-' },
      prometheus: [
        { source: 'main', mode: 'alerts', alertname: 'HighErrorRate', labels: { severity: 'page' } },
        { source: 'main', mode: 'alerts', alertname: undefined, labels: {} },
        { source: 'edge', mode: 'query', query: 'sum(rate(errors_total[5m])) > 1' },
      ],
      http: [{ gate: 'change-freeze' }],
    });
    expect(resolved({ onBlocked: 'wait', http: [{ gate: 'f' }] }).waitUpToMs).toBe(30 * 60_000);
  });

  it.each([
    [
      {},
      '(gates): name at least one gate: "cloudWatchAlarms", "prometheus" or "http" (or leave "gates" out)',
    ],
    [
      { cloudWatchAlarms: {} },
      'cloudWatchAlarms: give "names" (a list of alarm names), "prefix" (an alarm name prefix), or both',
    ],
    [
      { cloudWatchAlarms: { names: [] } },
      'cloudWatchAlarms.names: list at least one alarm name, or leave "names" out',
    ],
    [{ cloudWatchAlarms: { names: ['a', 'a'] } }, 'cloudWatchAlarms.names: lists an alarm twice'],
    [
      { cloudWatchAlarms: { names: ['x'.repeat(256)] } },
      'cloudWatchAlarms.names.0: must be at most 255 characters',
    ],
    [
      { cloudWatchAlarms: { prefix: 'a\u001b[31m' } },
      'cloudWatchAlarms.prefix: contains the control or bidirectional-override character U+001B',
    ],
    [
      { http: [{ gate: 'f' }], waitUpTo: '1h' },
      'waitUpTo: only applies with "onBlocked": "wait"; add it, or leave "waitUpTo" out',
    ],
    [
      { http: [{ gate: 'f' }], onBlocked: 'wait', waitUpTo: '25h' },
      'waitUpTo: "25h" is longer than the maximum 1d',
    ],
    [{ http: [{ gate: 'f' }], checkEvery: '1s' }, 'checkEvery: "1s" is shorter than the minimum 5s'],
    [{ http: [{ gate: 'f' }], onBlocked: 'later' }, 'onBlocked: must be "refuse" (the default) or "wait"'],
    [
      { prometheus: [{ source: 'main' }] },
      'prometheus.0: give exactly one of "alerts" (blocked while a matching alert fires) or "query" (blocked while the query returns any series)',
    ],
    [
      { prometheus: [{ source: 'main', alerts: {}, query: 'up' }] },
      'prometheus.0: give exactly one of "alerts" (blocked while a matching alert fires) or "query" (blocked while the query returns any series)',
    ],
    [
      { prometheus: [{ source: 'https://evil.example', query: 'up' }] },
      'prometheus.0.source: must be the name of a Prometheus source configured on the worker',
    ],
    [
      { prometheus: [{ source: 'main', alerts: { labels: { 'bad-name': 'x' } } }] },
      'prometheus.0.alerts.labels.bad-name: label names are [a-zA-Z_][a-zA-Z0-9_]*',
    ],
    [
      { prometheus: [{ source: 'main', query: 'x'.repeat(4097) }] },
      'prometheus.0.query: must be at most 4096 characters',
    ],
    [{ http: [{ gate: 'f', url: 'https://evil.example' }] }, 'http.0: Unrecognized key: "url"'],
    [{ http: [{ gate: 'f' }, { gate: 'f' }] }, 'http: names a gate twice'],
    [{ http: [] }, 'http: list at least one HTTP gate, or leave "http" out'],
    [{ http: [{ gate: 'f' }], extra: true }, '(gates): Unrecognized key: "extra"'],
  ])('refuses %j', (input, message) => {
    expect(problems(input).join('\n')).toContain(message);
  });
});
