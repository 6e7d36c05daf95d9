/**
 * What the CLI prints for people, fed hostile free text (an OSC 52 clipboard write, CR, bidi
 * overrides) in every field a run, a fleet, a schedule or a far side controls: no raw control
 * character reaches the terminal. Starts nothing: the printing functions are called directly.
 */
import { describe, expect, it } from 'vitest';
import { errorText } from '../../src/cli';
import { CliError } from '../../src/commands/exit-codes';
import { fleetStatusLines } from '../../src/commands/fleet';
import { describeResult } from '../../src/commands/follow';
import { listLine, statusLines } from '../../src/commands/inspect';
import { progressLine, progressPrinter } from '../../src/commands/progress';
import { scheduleListLine, scheduleViewLines } from '../../src/commands/schedule';
import type { FleetStatus } from '../../src/domain/fleet';
import type { AuditEvent } from '../../src/domain/audit-event';
import { failureTypeOf, type MaintenanceResult, type MaintenanceStatus } from '../../src/domain/status';
import type { MaintenanceScheduleView } from '../../src/schedules';

const OSC52 = '\u001b]52;c;ZXZpbA==\u0007';
/** Any character a terminal acts on other than newline, or that reorders what it shows. */
// eslint-disable-next-line no-control-regex -- these are exactly the characters that must not get through
const RAW = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
const hostile = (label: string) => `${label}${OSC52}\rFORGED\u202e\u009b31m`;

const NOW = Date.parse('2026-03-01T02:10:00Z');

function status(overrides: Partial<MaintenanceStatus> = {}): MaintenanceStatus {
  return {
    workflowId: 'keystore-maint/us-east-1/cks-0123456789abcdef0',
    runId: 'run-1',
    customKeyStoreId: 'cks-0123456789abcdef0',
    region: 'us-east-1',
    phase: 'IN_WINDOW',
    outcome: undefined,
    dryRun: false,
    requestedBy: hostile('mallory'),
    reason: hostile('patching'),
    ticket: hostile('CHG-1'),
    timeline: [{ phase: 'IN_WINDOW', startedAt: '2026-03-01T02:00:00Z' }],
    window: {
      startedAt: '2026-03-01T02:00:00Z',
      endsAt: '2026-03-01T04:00:00Z',
      latestEnd: '2026-03-01T10:00:00Z',
    },
    store: { lastObservedState: 'DISCONNECTED', name: hostile('store') },
    connectAttempts: 2,
    approval: { required: true, approvedBy: hostile('boss') },
    extensions: [],
    trafficRestored: false,
    connectionError: {
      code: hostile('XKS_PROXY_TIMED_OUT'),
      meaning: hostile('meaning'),
      action: hostile('action'),
    },
    message: hostile(`maintenance window open, requested by mallory`),
    audit: { written: 1, unwritten: 1, failures: 1, refused: 0, lastProblem: hostile('sink said') },
    events: [],
    ...overrides,
  };
}

function expectSafe(text: string): void {
  expect(text).not.toMatch(RAW);
  expect(text).not.toContain('\r');
  expect(text).not.toContain('\u001b');
  // What was there is shown, written out.
  expect(text).toContain('\\u001b]52;c;ZXZpbA==\\u0007\\u000dFORGED\\u202e\\u009b31m');
}

describe('CLI output with hostile free text', () => {
  it('status prints requestedBy, reason, messages and the store state escaped', () => {
    const lines = statusLines(status(), NOW);
    const text = lines.join('\n');
    expectSafe(text);
    expect(text).toContain('requested by mallory\\u001b]52;c;ZXZpbA==\\u0007\\u000dFORGED');
    // One printed line per line of the status: nothing a value holds breaks a line.
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
  });

  it('status shows what became of the notifications, their last problem escaped', () => {
    const text = statusLines(
      status({
        notifications: { sent: 3, failed: 1, skipped: 0, pending: 2, lastProblem: hostile('receiver said') },
      }),
      NOW,
    ).join('\n');
    expectSafe(text);
    expect(text).toContain('notifications: 3 sent, 1 failed, 2 being tried; last problem: receiver said');
    expect(statusLines(status(), NOW).join('\n')).not.toContain('notifications:');
  });

  it('the progress line escapes what the run reports, and the live printer keeps only its own redraw', () => {
    const s = status({
      customKeyStoreId: hostile('cks-'),
      store: { lastObservedState: hostile('CONNECTED') as 'CONNECTED' },
    });
    expectSafe(progressLine(s, NOW));

    const written: string[] = [];
    const stream = { isTTY: true, write: (chunk: string) => written.push(chunk) };
    const printer = progressPrinter(stream as unknown as NodeJS.WriteStream);
    printer.update(s);
    printer.done();
    const [redraw = '', end] = written;
    expect(redraw.startsWith('\r\u001b[2K')).toBe(true);
    expectSafe(redraw.slice('\r\u001b[2K'.length));
    expect(end).toBe('\n');
  });

  it('describeResult escapes the message, the connection error and the audit problem', () => {
    const result: MaintenanceResult = {
      ...status(),
      outcome: 'NEEDS_ATTENTION',
      store: { lastObservedState: hostile('DISCONNECTED') as 'DISCONNECTED' },
    };
    expectSafe(describeResult(result));
  });

  it('a FAILED run names the type of what ended it, escaped', () => {
    const failed: MaintenanceResult = {
      ...status(),
      outcome: 'FAILED',
      failure: { type: hostile('GateBlocked'), message: 'a gate is blocked' },
    };
    expectSafe(describeResult(failed));
    expect(describeResult(failed)).toContain('  Failure type: GateBlocked\\u001b]52;c;');
    expect(statusLines(failed, NOW).join('\n')).toContain('  failure type: GateBlocked');
    expect(describeResult({ ...status(), outcome: 'COMPLETED' })).not.toContain('Failure type');
  });

  it("a fleet reads a FAILED run's type from its failure, or from the run.interrupted event of an older run", () => {
    const interrupted: AuditEvent = {
      schemaVersion: 1,
      workflowId: 'keystore-maint/us-east-1/cks-0123456789abcdef0',
      runId: 'run-1',
      seq: 7,
      at: '2026-03-01T02:00:00Z',
      phase: 'PREFLIGHT',
      action: 'run.interrupted',
      actor: 'keystore-maint',
      outcome: 'failed',
      detail: {},
      error: { type: 'PreflightRefused', message: 'refused' },
    };
    const failed: MaintenanceResult = { ...status(), outcome: 'FAILED', events: [interrupted] };
    expect(failureTypeOf({ ...failed, failure: { type: 'GateBlocked', message: 'blocked' } })).toBe(
      'GateBlocked',
    );
    expect(failureTypeOf(failed)).toBe('PreflightRefused');
    expect(failureTypeOf({ ...failed, events: [] })).toBeUndefined();
    expect(failureTypeOf({ ...failed, outcome: 'NEEDS_ATTENTION' })).toBeUndefined();
  });

  it('list escapes workflow ids and search attributes', () => {
    expectSafe(
      listLine({
        workflowId: hostile('keystore-maint/us-east-1/'),
        runId: 'r',
        customKeyStoreId: undefined,
        phase: hostile('IN_WINDOW'),
        status: 'RUNNING',
        startTime: '2026-03-01T02:00:00.000Z',
        closeTime: undefined,
      }),
    );
  });

  it('fleet status escapes who, why, the abort, store names from KMS and the runs’ messages', () => {
    const fleet: FleetStatus = {
      workflowId: 'keystore-maint-fleet/us-east-1/x',
      runId: 'r',
      continuedAsNew: 0,
      phase: 'ABORTING',
      outcome: undefined,
      region: 'us-east-1',
      selection: { kind: 'pattern', namePattern: 'prod-*' },
      maxConcurrency: 1,
      maxErrors: 0,
      requestedBy: hostile('mallory'),
      reason: hostile('firmware'),
      startedAt: '2026-03-01T02:00:00Z',
      counts: { total: 2, pending: 0, running: 1, completed: 0, errors: 1, skipped: 0 },
      abort: { by: hostile('eve'), reason: hostile('freeze'), at: '2026-03-01T02:05:00Z' },
      message: hostile('aborting'),
      stores: [
        {
          customKeyStoreId: 'cks-0123456789abcdef0',
          name: hostile('prod-'),
          workflowId: 'w',
          state: 'FAILED',
          message: hostile('KMS said'),
        },
        {
          customKeyStoreId: 'cks-0123456789abcdef1',
          name: 'prod-b',
          workflowId: 'w2',
          state: 'RUNNING',
        },
      ],
    };
    const lines = fleetStatusLines({ ...fleet, phases: { 'cks-0123456789abcdef1': hostile('IN_WINDOW') } });
    expectSafe(lines.join('\n'));
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
  });

  it('fleet status over locations shows each location, the account-Regions not listed, and each store’s account', () => {
    const status: FleetStatus = {
      workflowId: 'keystore-maint-fleet/locations/x',
      runId: 'r',
      continuedAsNew: 0,
      phase: 'RUNNING',
      outcome: undefined,
      region: undefined,
      selection: { kind: 'locations', locations: 2, targets: 3 },
      maxConcurrency: 4,
      maxErrors: 1,
      requestedBy: 'alice',
      reason: 'firmware',
      startedAt: '2026-03-01T02:00:00Z',
      counts: { total: 2, pending: 1, running: 1, completed: 0, errors: 0, skipped: 0 },
      message: '0 of 2 stores done',
      stores: [
        {
          customKeyStoreId: 'cks-0123456789abcdef0',
          account: '111122223333',
          region: 'eu-west-1',
          location: 0,
          workflowId: 'keystore-maint/111122223333/eu-west-1/cks-0123456789abcdef0',
          state: 'RUNNING',
        },
        {
          customKeyStoreId: 'cks-0123456789abcdef1',
          account: '111122223333',
          region: 'us-east-1',
          location: 0,
          workflowId: 'keystore-maint/111122223333/us-east-1/cks-0123456789abcdef1',
          state: 'PENDING',
        },
        {
          customKeyStoreId: 'cks-0123456789abcdef2',
          account: '111122223333',
          region: 'us-east-1',
          location: 0,
          workflowId: 'keystore-maint/111122223333/us-east-1/cks-0123456789abcdef2',
          state: 'FAILED',
          message: 'a gate is blocked, so cks-0123456789abcdef2 was not touched',
          errorType: hostile('GateBlocked'),
        },
      ],
      targets: [
        { location: 0, account: '111122223333', region: 'eu-west-1', state: 'READY', stores: 1 },
        { location: 0, account: '111122223333', region: 'us-east-1', state: 'READY', stores: 1 },
        {
          location: 1,
          account: '444455556666',
          region: 'us-east-1',
          roleArn: 'arn:aws:iam::444455556666:role/R',
          state: 'FAILED',
          stores: 0,
          message: hostile('its stores could not be listed'),
          errorType: 'ExecutionRoleNotAssumable',
        },
      ],
      locations: [
        {
          location: 0,
          accounts: ['111122223333'],
          regions: ['eu-west-1', 'us-east-1'],
          maxConcurrency: 2,
          maxErrors: undefined,
          failedTargets: 0,
          stopped: false,
          counts: { total: 2, pending: 1, running: 1, completed: 0, errors: 0, skipped: 0 },
        },
        {
          location: 1,
          accounts: ['444455556666'],
          regions: ['us-east-1'],
          maxConcurrency: undefined,
          maxErrors: 0,
          failedTargets: 1,
          stopped: true,
          counts: { total: 0, pending: 0, running: 0, completed: 0, errors: 0, skipped: 0 },
        },
      ],
    };
    const lines = fleetStatusLines(status);
    expectSafe(lines.join('\n'));
    const text = lines.join('\n');
    expect(text).toContain(
      'location 0: 111122223333 × eu-west-1,us-east-1: 0 completed, 0 not completed, 1 running, 1 waiting',
    );
    expect(text).toContain('location 1: 444455556666 × us-east-1:');
    expect(text).toContain('1 account-Region(s) not listed; STOPPED (more than maxErrors 0)');
    expect(text).toMatch(/444455556666\/us-east-1 FAILED {2}its stores could not be listed/);
    expect(text).toContain('cks-0123456789abcdef0 111122223333/eu-west-1  RUNNING');
    expect(text).toContain('cks-0123456789abcdef2 111122223333/us-east-1  FAILED (GateBlocked\\u001b]52;c;');
  });

  it('schedule list and describe escape the note and the ids', () => {
    const view: MaintenanceScheduleView = {
      scheduleId: hostile('hsm-monthly'),
      paused: true,
      note: hostile('paused by mallory: '),
      customKeyStoreId: hostile('cks-'),
      spec: { cron: [hostile('0 2 * * SUN')], calendars: [], timezone: hostile('Europe/Berlin') },
      nextStartTimes: ['2026-03-08T01:00:00Z'],
      recentRuns: [{ scheduledAt: '2026-03-01T01:00:00Z', workflowId: hostile('keystore-maint/') }],
      request: {},
    };
    expectSafe(scheduleViewLines(view).join('\n'));
    expectSafe(scheduleListLine(view));
  });

  it('error messages printed on failure are escaped, their line breaks kept', () => {
    const text = errorText(new CliError(`invalid request:\n  - reason: ${hostile('bad')}`));
    expectSafe(text);
    expect(text.startsWith('keystore-maint: invalid request:\n  - reason: bad')).toBe(true);
    expectSafe(errorText(new Error(hostile('far side says'))));
    expectSafe(errorText(hostile('thrown string')));
  });
});
