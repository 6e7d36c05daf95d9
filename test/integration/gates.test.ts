/**
 * Gates on the real dev server: a firing CloudWatch alarm (the simulator's CloudWatch, through the
 * real SDK) and a firing alert of a real Prometheus each hold a start until they clear; a refusing
 * gate ends the run with nothing touched. What the store went through is read from the
 * simulator's call log, and every decision from the audit trail.
 */
import { randomUUID } from 'node:crypto';
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceResult, MaintenanceStatus } from '../../src/domain/status';
import { createCloudWatchClient } from '../../src/gates/cloudwatch';
import { gatesConfig } from '../../src/gates/config';
import { abortUpdate, statusQuery } from '../../workflows/messages';
import { fleetClient, fleetRequest, uniqueFleetName } from '../fleet/support';
import { FIRING_ALERT, startTestPrometheus, type TestPrometheus } from '../support/prometheus';
import { withKillableWorker } from '../support/worker-process';
import {
  REGION,
  TEST_CREDENTIALS,
  callCount,
  callsFor,
  connectedStore,
  eventually,
  mutatingAccepted,
  outcomeOf,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
let prometheus: TestPrometheus;

beforeAll(async () => {
  prometheus = await startTestPrometheus();
  env = await startMaintenanceEnv(
    {},
    { gatesConfig: gatesConfig({ prometheus: { main: { url: prometheus.url } } }, { allowHttp: true }) },
  );
}, 90_000);

afterAll(async () => {
  await env?.close();
  await prometheus?.stop();
});

function cloudWatch() {
  return createCloudWatchClient({ region: REGION, endpoint: env.sim.url, credentials: TEST_CREDENTIALS });
}

async function alarm(state: 'ALARM' | 'OK', name: string): Promise<void> {
  await cloudWatch().send(
    new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: `test sets ${state}` }),
  );
}

async function createAlarm(): Promise<string> {
  const name = `payments-5xx-${randomUUID().slice(0, 8)}`;
  await cloudWatch().send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      MetricName: 'Errors',
      Namespace: 'Payments',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  );
  return name;
}

/** A request that waits (up to `waitUpTo`) while the named alarm is in ALARM. */
function waitingOn(id: string, alarmName: string, waitUpTo = '2m') {
  return {
    ...env.request(id),
    gates: {
      onBlocked: 'wait' as const,
      waitUpTo,
      checkEvery: '5s',
      cloudWatchAlarms: { names: [alarmName] },
    },
  };
}

/** Ground truth of a run that went through once: COMPLETED, CONNECTED, one Disconnect and one Connect. */
async function expectOneCycle(result: MaintenanceResult, id: string): Promise<void> {
  expect(result.outcome).toBe('COMPLETED');
  expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  const mutations = mutatingAccepted(await callsFor(env.control, id));
  expect(mutations.filter((c) => c.operation === 'DisconnectCustomKeyStore')).toHaveLength(1);
  expect(mutations.filter((c) => c.operation === 'ConnectCustomKeyStore')).toHaveLength(1);
}

async function status(id: string): Promise<MaintenanceStatus> {
  return env.temporal.client.workflow.getHandle(`keystore-maint/${REGION}/${id}`).query(statusQuery);
}

describe('gates before the drain', () => {
  it('a CloudWatch alarm in ALARM holds the start until it clears, touching nothing meanwhile', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    const id = await connectedStore(env.control);
    const handle = await env.start(waitingOn(id, name));
    const waiting = await eventually(async () => {
      const s = await status(id);
      return s.gates?.waiting ? s : undefined;
    }, 'the run to wait for the gate');
    expect(waiting.gates?.last?.summary).toContain(name);
    expect(waiting.phase).toBe('PREFLIGHT');
    expect(waiting.message).toMatch(/waiting for the gates before draining/);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);

    await alarm('OK', name);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const decisions = result.events.filter((e) => e.action.startsWith('gate.'));
    expect(decisions.map((e) => [e.action, e.outcome])).toEqual([
      ['gate.checked', 'info'],
      ['gate.opened', 'ok'],
    ]);
    expect(JSON.stringify(decisions[0]?.detail)).toContain('"state":"ALARM"');
    // The drain (and so the disconnect) came only after the gate opened.
    const actions = result.events.map((e) => e.action);
    expect(actions.indexOf('gate.opened')).toBeLessThan(actions.indexOf('kms.disconnect'));
  }, 120_000);

  it('a worker restart while a gate holds the start: the wait goes on, nothing is touched, and the run completes once it clears', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    const id = await connectedStore(env.control);
    const handle = await env.start(waitingOn(id, name));
    await eventually(async () => (await status(id)).gates?.waiting, 'the run to wait for the gate');
    await env.stopWorker();
    await env.startWorker();
    const describesBefore = await callCount(env.control, 'DescribeAlarms');
    // The restarted worker asks again (the wait is one heartbeating activity, retried), still blocked.
    await eventually(
      async () => (await callCount(env.control, 'DescribeAlarms')) > describesBefore + 1,
      'the restarted worker to ask CloudWatch again',
      30_000,
    );
    expect((await status(id)).gates?.waiting).toBeDefined();
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);

    await alarm('OK', name);
    const result = await outcomeOf(handle);
    await expectOneCycle(result, id);
    const actions = result.events.map((e) => e.action);
    expect(actions.indexOf('gate.opened')).toBeLessThan(actions.indexOf('kms.disconnect'));
  }, 120_000);

  it('a worker SIGKILLed while a gate holds the start: the restarted worker holds on, and nothing is touched until it clears', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    const id = await connectedStore(env.control);
    await withKillableWorker(env, async (worker) => {
      const handle = await env.start(waitingOn(id, name, '5m'));
      await eventually(async () => (await status(id)).gates?.waiting, 'the run to wait for the gate');
      await worker.killAndRestart();
      const before = await callCount(env.control, 'DescribeAlarms');
      // Once Temporal sees the lost heartbeat (30 s), the new worker asks CloudWatch again.
      await eventually(
        async () => (await callCount(env.control, 'DescribeAlarms')) > before,
        'the new worker to ask again',
        90_000,
      );
      expect((await status(id)).gates?.waiting).toBeDefined();
      expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);

      await alarm('OK', name);
      await expectOneCycle(await outcomeOf(handle), id);
    });
  }, 180_000);

  it('a firing Prometheus alert holds the start until it resolves', async () => {
    prometheus.setErrors(3);
    await eventually(
      async () => {
        const answer = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: { alertname?: string }; state: string }[] };
        };
        return answer.data.alerts.some((a) => a.labels.alertname === FIRING_ALERT && a.state === 'firing');
      },
      'Prometheus to fire the alert',
      30_000,
    );
    const id = await connectedStore(env.control);
    const handle = await env.start({
      ...env.request(id),
      gates: {
        onBlocked: 'wait',
        waitUpTo: '2m',
        checkEvery: '5s',
        prometheus: [{ source: 'main', alerts: { alertname: FIRING_ALERT, labels: { team: 'payments' } } }],
      },
    });
    const waiting = await eventually(
      async () => {
        const s = await status(id);
        return s.gates?.waiting ? s : undefined;
      },
      'the run to wait for the alert',
      60_000,
    );
    expect(waiting.gates?.last?.summary).toContain(FIRING_ALERT);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);

    prometheus.setErrors(0);
    const result = await outcomeOf(handle);
    expect(result.outcome).toBe('COMPLETED');
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    const decisions = result.events.filter((e) => e.action.startsWith('gate.'));
    expect(decisions[0]).toMatchObject({ action: 'gate.checked', outcome: 'info' });
    expect(JSON.stringify(decisions[0]?.detail)).toContain(FIRING_ALERT);
    expect(decisions.at(-1)).toMatchObject({ action: 'gate.opened', outcome: 'ok' });
  }, 120_000);

  it('an abort or a Temporal cancellation while a gate holds the start ends CANCELLED with nothing touched', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    for (const how of ['abort', 'cancel'] as const) {
      const id = await connectedStore(env.control);
      const handle = await env.start(waitingOn(id, name));
      await eventually(async () => (await status(id)).gates?.waiting, 'the run to wait for the gate');
      if (how === 'abort') {
        await handle.executeUpdate(abortUpdate, {
          args: [{ by: 'oncall@example.com', reason: 'not today' }],
        });
      } else {
        await handle.cancel();
      }
      const ended = await outcomeOf(handle).catch(async () => status(id));
      expect(ended.outcome, how).toBe('CANCELLED');
      expect(mutatingAccepted(await callsFor(env.control, id)), how).toEqual([]);
      expect((await env.control.getStore(id)).ConnectionState, how).toBe('CONNECTED');
    }
  }, 120_000);

  it('refuses at once by default, and changes nothing', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({ ...env.request(id), gates: { cloudWatchAlarms: { names: [name] } } }),
    );
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(/a gate is blocked, so .* was not touched/);
    expect(result.events.find((e) => e.action === 'run.interrupted')?.error?.type).toBe('GateBlocked');
    expect(result.failure).toMatchObject({
      type: 'GateBlocked',
      message: expect.stringMatching(/a gate is blocked/) as unknown,
    });
    expect(result.events.find((e) => e.action === 'gate.checked')?.outcome).toBe('refused');
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
    expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
  }, 60_000);

  it('a gate that stays blocked past waitUpTo ends the run FAILED with nothing touched', async () => {
    const id = await connectedStore(env.control);
    const result = await outcomeOf(
      await env.start({
        ...env.request(id),
        gates: {
          onBlocked: 'wait',
          waitUpTo: '6s',
          checkEvery: '5s',
          cloudWatchAlarms: { names: ['no-such-alarm'] },
        },
      }),
    );
    expect(result.outcome).toBe('FAILED');
    expect(result.message).toMatch(/stayed blocked for 6s \(waitUpTo\)/);
    expect(result.events.some((e) => e.action === 'gate.timedOut')).toBe(true);
    expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
  }, 60_000);

  it('a fleet checks the gates before each store: a firing alarm stops every store before it is touched', async () => {
    const name = await createAlarm();
    await alarm('ALARM', name);
    const ids = [await connectedStore(env.control), await connectedStore(env.control)];
    const client = fleetClient(env);
    const base = fleetRequest();
    const { workflowId } = await client.start(
      fleetRequest({
        stores: ids,
        maxErrors: 5,
        request: { ...base.request, gates: { cloudWatchAlarms: { names: [name] } } },
      }),
      { name: uniqueFleetName() },
    );
    const result = await client.result(workflowId);
    expect(result.stores.map((st) => [st.customKeyStoreId, st.state])).toEqual(
      ids.map((id) => [id, 'FAILED']),
    );
    for (const store of result.stores) {
      expect(store.message).toMatch(/a gate is blocked, so .* was not touched/);
      expect(store.errorType).toBe('GateBlocked');
    }
    for (const id of ids) {
      expect(mutatingAccepted(await callsFor(env.control, id))).toEqual([]);
      expect((await env.control.getStore(id)).ConnectionState).toBe('CONNECTED');
    }
  }, 120_000);
});
