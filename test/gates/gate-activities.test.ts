/**
 * The gate activities in Temporal's MockActivityEnvironment (a single activity, no worker):
 * `checkGates` asks every gate at once, each within its own timeout; `awaitGatesOpen` returns when
 * the gates open, when the summary changes, at the deadline, and stops when cancelled — and
 * heartbeats the last report throughout. The gates are local HTTP gates whose answers the tests
 * script, plus one CloudWatch gate against the simulator.
 */
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateActivities, type CheckGatesInput } from '../../activities/gates';
import { resolveGates, gatesSchema, type GateReport, type GatesInput } from '../../src/domain/gates';
import { cloudWatchClientProvider } from '../../src/gates/cloudwatch';
import { gatesConfig } from '../../src/gates/config';
import { useSimulator } from '../sim/helpers';
import { startGateServer, type GateAnswer, type GateServer } from './gate-server';

const h = useSimulator({ quotaRps: 0 });
let freeze: GateServer;
let slow: GateServer;
let activities: ReturnType<typeof createGateActivities>;
let admin: CloudWatchClient;

beforeAll(async () => {
  freeze = await startGateServer();
  slow = await startGateServer();
  const config = gatesConfig(
    { http: { freeze: { url: freeze.url }, slow: { url: slow.url, timeout: '1s' } } },
    { allowHttp: true },
  );
  activities = createGateActivities({
    gatesConfig: config,
    cloudWatch: cloudWatchClientProvider({
      endpoint: h.sim.url,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    }),
  });
  admin = new CloudWatchClient({
    region: 'us-east-1',
    endpoint: h.sim.url,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  admin.destroy();
  await Promise.all([freeze.close(), slow.close()]);
});
afterEach(() => {
  freeze.received.length = 0;
  slow.received.length = 0;
});

function input(gates: GatesInput): CheckGatesInput {
  return {
    region: 'us-east-1',
    customKeyStoreId: 'cks-1234567890abcdef0',
    workflowId: 'keystore-maint/us-east-1/cks-1234567890abcdef0',
    runId: 'run-1',
    gates: resolveGates(gatesSchema().parse(gates)),
  };
}

/** Answers in turn, the last one from then on. */
function script(...answers: GateAnswer[]): (request: unknown, index: number) => GateAnswer {
  return (_request, index) => answers[Math.min(index, answers.length - 1)] ?? { body: { open: true } };
}

const closed = (reason: string): GateAnswer => ({ body: { open: false, reason } });
const open: GateAnswer = { body: { open: true } };

/** `env.run` with its type arguments spelled out (they are not inferred from a one-argument activity). */
function run<I, O>(env: MockActivityEnvironment, activity: (input: I) => Promise<O>, input: I): Promise<O> {
  return env.run<[I], O, (input: I) => Promise<O>>(activity, input);
}

function environment(): { env: MockActivityEnvironment; heartbeats: unknown[] } {
  const env = new MockActivityEnvironment();
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  return { env, heartbeats };
}

describe('checkGates', () => {
  it('asks every gate at once, each within its own timeout, and sums them up', async () => {
    await admin.send(
      new PutMetricAlarmCommand({
        AlarmName: 'payments-5xx',
        Namespace: 'Payments',
        MetricName: '5xx',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    await admin.send(
      new SetAlarmStateCommand({ AlarmName: 'payments-5xx', StateValue: 'ALARM', StateReason: 'errors' }),
    );
    freeze.answer = script(open);
    slow.answer = script({ ...open, delayMs: 3_000 });
    const { env } = environment();
    const started = Date.now();
    const report = await run(
      env,
      activities.checkGates,
      input({ cloudWatchAlarms: { names: ['payments-5xx'] }, http: [{ gate: 'freeze' }, { gate: 'slow' }] }),
    );
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(report.open).toBe(false);
    expect(report.gates.map((g) => [g.kind, g.name, g.open])).toEqual([
      ['cloudWatchAlarms', 'alarms payments-5xx', false],
      ['http', 'freeze', true],
      ['http', 'slow', false],
    ]);
    expect(report.summary).toMatch(
      /^1 gate open; cloudwatch: alarm payments-5xx in ALARM since \S+; http slow: cannot be checked: no answer within 1 s$/,
    );
    expect(Date.parse(report.checkedAt)).toBeGreaterThanOrEqual(started - 1);
  });

  it('says "all gates open" when they are', async () => {
    freeze.answer = script(open);
    const { env } = environment();
    const report = await run(env, activities.checkGates, input({ http: [{ gate: 'freeze' }] }));
    expect(report).toMatchObject({ open: true, summary: '1 gate open' });
  });
});

describe('awaitGatesOpen', () => {
  it('returns as soon as the gates open, heartbeating each report', async () => {
    freeze.answer = script(closed('freeze'), closed('freeze'), open);
    const { env, heartbeats } = environment();
    const outcome = await run(env, activities.awaitGatesOpen, {
      ...input({ http: [{ gate: 'freeze' }] }),
      untilMs: Date.now() + 10_000,
      checkEveryMs: 100,
      lastSummary: '0 gates open; http freeze: closed: freeze',
    });
    expect(outcome).toMatchObject({ ended: 'open', checks: 3, open: true });
    const reports = heartbeats as GateReport[];
    expect(reports.length).toBeGreaterThanOrEqual(3);
    expect(reports[0]).toMatchObject({ open: false, summary: '0 gates open; http freeze: closed: freeze' });
    expect(reports.at(-1)).toMatchObject({ open: true });
  });

  it('returns when the summary changes, not while it stays the same', async () => {
    freeze.answer = script(closed('freeze'), closed('freeze'), closed('incident INC-42'));
    const { env } = environment();
    const outcome = await run(env, activities.awaitGatesOpen, {
      ...input({ http: [{ gate: 'freeze' }] }),
      untilMs: Date.now() + 10_000,
      checkEveryMs: 100,
      lastSummary: '0 gates open; http freeze: closed: freeze',
    });
    expect(outcome).toMatchObject({
      ended: 'changed',
      checks: 3,
      open: false,
      summary: '0 gates open; http freeze: closed: incident INC-42',
    });
  });

  it('without a last summary, waits for open or the deadline only', async () => {
    freeze.answer = script(closed('a'), closed('b'), open);
    const { env } = environment();
    const outcome = await run(env, activities.awaitGatesOpen, {
      ...input({ http: [{ gate: 'freeze' }] }),
      untilMs: Date.now() + 10_000,
      checkEveryMs: 100,
    });
    expect(outcome).toMatchObject({ ended: 'open', checks: 3 });
  });

  it('returns the last (blocked) report once the deadline has passed, checking at the deadline', async () => {
    freeze.answer = script(closed('freeze'));
    const { env } = environment();
    const started = Date.now();
    const outcome = await run(env, activities.awaitGatesOpen, {
      ...input({ http: [{ gate: 'freeze' }] }),
      untilMs: started + 700,
      checkEveryMs: 300,
      lastSummary: '0 gates open; http freeze: closed: freeze',
    });
    const took = Date.now() - started;
    expect(outcome).toMatchObject({ ended: 'deadline', open: false, checks: 4 });
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(1_500);
  });

  it('stops when the activity is cancelled, between checks', async () => {
    freeze.answer = script(closed('freeze'));
    const { env, heartbeats } = environment();
    const waiting = run(env, activities.awaitGatesOpen, {
      ...input({ http: [{ gate: 'freeze' }] }),
      untilMs: Date.now() + 60_000,
      checkEveryMs: 30_000,
      lastSummary: '0 gates open; http freeze: closed: freeze',
    });
    const settled = waiting.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    for (let i = 0; i < 100 && heartbeats.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(heartbeats).toHaveLength(1);
    const cancelledAt = Date.now();
    env.cancel();
    const result = await settled;
    expect(result).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - cancelledAt).toBeLessThan(1_000);
    expect(freeze.received).toHaveLength(1);
  });
});
