import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/duration';
import { LIMITS, validateMaintenanceRequest } from '../../src/domain/request';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const valid = {
  customKeyStoreId: 'cks-0123456789abcdef0',
  window: { duration: '2h' },
  reason: 'patch the XKS proxy',
  requestedBy: 'alice@example.com',
};

function problems(input: unknown): string[] {
  const result = validateMaintenanceRequest(input, NOW);
  if (result.ok) throw new Error('expected the request to be refused');
  return [...result.problems];
}

describe('durations', () => {
  it.each([
    ['PT2H', 7_200_000],
    ['PT30S', 30_000],
    ['P1DT2H', 93_600_000],
    ['pt90m', 5_400_000],
    ['90m', 5_400_000],
    ['2h', 7_200_000],
    ['30s', 30_000],
    ['1.5h', 5_400_000],
    ['200ms', 200],
    ['1d', 86_400_000],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['30', '', 'soon', 'P1M', 'P1Y', '-5m', '2 fortnights', 'PT'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  it('formats compactly', () => {
    expect(formatDuration(5_400_000)).toBe('1h 30m');
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(90_061_000)).toBe('1d 1h 1m 1s');
  });
});

describe('validateMaintenanceRequest', () => {
  it('applies every default and converts durations to milliseconds', () => {
    const result = validateMaintenanceRequest(valid, NOW);
    expect(result).toEqual({
      ok: true,
      request: {
        customKeyStoreId: valid.customKeyStoreId,
        region: undefined,
        window: { durationMs: 7_200_000 },
        maxWindowMs: LIMITS.maxWindow.default,
        reason: valid.reason,
        requestedBy: valid.requestedBy,
        ticket: undefined,
        approval: { required: false, timeoutMs: LIMITS.approvalTimeout.default },
        drain: { provider: 'none' },
        canaryKeyId: undefined,
        timeouts: { disconnectMs: 600_000, connectMs: 1_800_000 },
        reconnectAttempts: 3,
        pollIntervalMs: 15_000,
        confirmSettleMs: 30_000,
        dryRun: false,
        location: {},
        allowAlreadyDisconnected: false,
      },
    });
  });

  it('names every bad field and what is allowed', () => {
    const found = problems({
      customKeyStoreId: 'cks-123',
      window: { duration: 'a while' },
      reason: ' ',
      timeouts: { conect: '5m' },
      pollInterval: 5,
      reconnectAttempts: 0,
      colour: 'blue',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^customKeyStoreId: .*"cks-" followed by 17 hex digits/),
        expect.stringMatching(/^window\.duration: "a while" is not a duration; use ISO-8601/),
        expect.stringMatching(/^reason: must not be empty/),
        expect.stringMatching(/^requestedBy: is required/),
        expect.stringMatching(/^timeouts: unknown field\(s\) "conect"; allowed: disconnect, connect/),
        expect.stringMatching(/^pollInterval: must be a duration string/),
        expect.stringMatching(/^reconnectAttempts: /),
        expect.stringMatching(
          /unknown field\(s\) "colour"; allowed: customKeyStoreId, region, account, executionRole, externalId, window/,
        ),
      ]),
    );
    expect(found).toHaveLength(8);
  });

  it('refuses a window longer than maxWindow, and maxWindow over 7 days', () => {
    expect(problems({ ...valid, window: { duration: '3h' }, maxWindow: '2h' })).toEqual([
      expect.stringMatching(/^window\.duration: 3h is longer than maxWindow 2h/),
    ]);
    expect(problems({ ...valid, maxWindow: '8d' })).toEqual([
      expect.stringMatching(/^maxWindow: "8d" is longer than the maximum 7d/),
    ]);
  });

  it('accepts window.until in the future and refuses one in the past', () => {
    const ok = validateMaintenanceRequest({ ...valid, window: { until: '2026-11-28T14:00:00Z' } }, NOW);
    expect(ok.ok && ok.request.window).toEqual({ untilMs: Date.parse('2026-11-28T14:00:00Z') });
    expect(problems({ ...valid, window: { until: '2026-11-28T11:00:00Z' } })).toEqual([
      expect.stringMatching(/^window\.until: .* is not in the future/),
    ]);
    expect(problems({ ...valid, window: { duration: '1h', until: '2026-11-28T14:00:00Z' } })).toEqual([
      expect.stringMatching(/^window: give exactly one of/),
    ]);
  });

  it('takes null as "absent" for optional fields, at any depth (Python dataclasses, Go pointers)', () => {
    const result = validateMaintenanceRequest(
      {
        ...valid,
        region: null,
        ticket: null,
        maxWindow: null,
        approval: null,
        drain: { provider: 'none', settle: null },
        timeouts: { disconnect: null, connect: '5m' },
        canaryKeyId: null,
        dryRun: null,
      },
      NOW,
    );
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.request.region).toBeUndefined();
      expect(result.request.timeouts).toEqual({ disconnectMs: 600_000, connectMs: 300_000 });
    }
    // A required field sent as null is missing, named as such.
    expect(problems({ ...valid, requestedBy: null, reason: null })).toEqual([
      'reason: is required (must be a non-empty string)',
      'requestedBy: is required (must be a non-empty string)',
    ]);
  });

  it('refuses free text that looks like a secret or could fool a terminal, naming the field', () => {
    expect(problems({ ...valid, reason: 'see Authorization: Bearer abcdefghijklmnopqrstuvwx' })[0]).toMatch(
      /^reason: looks like it carries a secret \(contains a bearer token\)/,
    );
    expect(problems({ ...valid, requestedBy: 'alice\u001b]52;c;ZXZpbA==\u0007' })[0]).toMatch(
      /^requestedBy: contains the control or bidirectional-override character U\+001B/,
    );
    expect(problems({ ...valid, ticket: 'CHG-1\u202Eevil' })[0]).toMatch(/^ticket: .*U\+202E/);
    expect(problems({ ...valid, reason: 'broken \uD800 surrogate' })[0]).toMatch(
      /^reason: contains an unpaired UTF-16 surrogate/,
    );
    // Tabs and newlines are fine.
    expect(validateMaintenanceRequest({ ...valid, reason: 'line one\n\tline two' }, NOW).ok).toBe(true);
  });

  it('refuses something that is not an object', () => {
    expect(problems('cks-0123456789abcdef0')).toEqual([expect.stringMatching(/one JSON object/)]);
    expect(problems(null)).toHaveLength(1);
  });

  it('keeps drain providers to the known ones', () => {
    expect(problems({ ...valid, drain: { provider: 'dns' } })).toEqual([
      expect.stringMatching(/^drain\.provider: must be one of: none, alias, webhook$/),
    ]);
  });
});
