/**
 * Gate activities (src/domain/gates.ts, docs/gates.md): `checkGates` asks every gate once, all at
 * the same time, each within its own timeout; `awaitGatesOpen` asks again every `checkEveryMs`
 * until something worth reporting happens, so that the workflow audits each change of the
 * verdict without one activity per check in its history.
 *
 * Nothing here throws for a gate that cannot be asked: it is blocked, with why, in the report
 * (gates fail closed). The activities throw only when cancelled.
 *
 * `awaitGatesOpen` returns when every gate is open, when the report's `summary` differs from
 * `lastSummary` (when given), or once `untilMs` has passed (the report is then the last one, still
 * blocked). It heartbeats the last report after every check and at least every
 * `HEARTBEAT_EVERY_MS` in between and during checks, so a heartbeat timeout of a few times that
 * lets Temporal see a lost worker and deliver cancellation whatever the gates' timeouts; cancelled,
 * it stops between checks and aborts a check in flight (a check changes nothing, so there is
 * nothing to wait for). `checkGates` takes at most the longest gate timeout plus 5 s.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { GateReport, GateResult, ResolvedGates } from '../src/domain/gates';
import { roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import {
  checkCloudWatchAlarms,
  cloudWatchGateName,
  type CloudWatchClientProvider,
} from '../src/gates/cloudwatch';
import { DEFAULT_GATE_TIMEOUT_MS, type GatesConfig } from '../src/gates/config';
import { checkHttpGate } from '../src/gates/http-gate';
import { checkPrometheusGate, prometheusGateName } from '../src/gates/prometheus';
import { gateReport, unansweredGate } from '../src/gates/report';
import type { MetricsRecorder } from '../src/metrics/recorder';

export interface GateActivityDeps {
  /** The worker's Prometheus sources and HTTP gates (src/gates/config.ts). */
  readonly gatesConfig: GatesConfig;
  readonly cloudWatch: CloudWatchClientProvider;
  /**
   * How long the CloudWatch gate may take (default 10 s); Prometheus sources and HTTP gates have
   * their own `timeout` in the configuration. A slower check counts as blocked.
   */
  readonly cloudWatchTimeoutMs?: number;
  /** The worker's metrics (never throwing): every gate's answer is counted by kind and verdict. */
  readonly metrics?: MetricsRecorder | undefined;
}

export interface CheckGatesInput extends KmsTarget {
  readonly customKeyStoreId: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly gates: ResolvedGates;
}

export interface AwaitGatesOpenInput extends CheckGatesInput {
  /** Epoch milliseconds: after a check at or past this time, the last report is returned. */
  readonly untilMs: number;
  readonly checkEveryMs: number;
  /** The summary the workflow last reported; a different one ends the wait. */
  readonly lastSummary?: string | undefined;
}

export interface GateWaitOutcome extends GateReport {
  /** Why the wait ended. */
  readonly ended: 'open' | 'changed' | 'deadline';
  /** Checks made by this activity attempt. */
  readonly checks: number;
}

/** The longest pause between heartbeats while waiting for the next check. */
export const HEARTBEAT_EVERY_MS = 5_000;
/** Added to a gate's own timeout for the whole check (role assumption, several pages). */
const CHECK_SLACK_MS = 5_000;

export function createGateActivities(deps: GateActivityDeps) {
  const cloudWatchTimeoutMs = deps.cloudWatchTimeoutMs ?? DEFAULT_GATE_TIMEOUT_MS;

  /** One gate's check, bounded: past its time it is blocked, and the request is aborted. */
  async function bounded(
    fallback: Pick<GateResult, 'kind' | 'name'>,
    timeoutMs: number,
    cancel: AbortSignal,
    run: (signal: AbortSignal) => Promise<GateResult>,
  ): Promise<GateResult> {
    const limit = new AbortController();
    const signal = AbortSignal.any([limit.signal, cancel]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<GateResult>((resolve) => {
      timer = setTimeout(() => {
        limit.abort();
        resolve(
          unansweredGate(fallback.kind, fallback.name, `no answer within ${Math.round(timeoutMs / 1000)} s`),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([
        run(signal).catch((err: unknown) =>
          unansweredGate(fallback.kind, fallback.name, err instanceof Error ? err.message : String(err)),
        ),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function checkAll(input: CheckGatesInput, cancel: AbortSignal): Promise<GateReport> {
    const { gates } = input;
    const target: KmsTarget = {
      region: input.region,
      ...(input.account !== undefined ? { account: input.account } : {}),
      ...(input.executionRole !== undefined ? { executionRole: input.executionRole } : {}),
      ...(input.externalId !== undefined ? { externalId: input.externalId } : {}),
    };
    const checks: Promise<GateResult>[] = [];
    const alarms = gates.cloudWatchAlarms;
    if (alarms) {
      checks.push(
        bounded(
          { kind: 'cloudWatchAlarms', name: cloudWatchGateName(alarms) },
          cloudWatchTimeoutMs + CHECK_SLACK_MS,
          cancel,
          (signal) =>
            checkCloudWatchAlarms(
              deps.cloudWatch(target, roleSessionNameFor(input.customKeyStoreId)),
              target,
              alarms,
              { signal },
            ),
        ),
      );
    }
    for (const gate of gates.prometheus) {
      const timeoutMs = deps.gatesConfig.prometheus(gate.source)?.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS;
      checks.push(
        bounded(
          { kind: 'prometheus', name: prometheusGateName(gate) },
          timeoutMs + CHECK_SLACK_MS,
          cancel,
          (signal) => checkPrometheusGate(deps.gatesConfig, gate, { signal }),
        ),
      );
    }
    for (const { gate } of gates.http) {
      const timeoutMs = deps.gatesConfig.http(gate)?.timeoutMs ?? DEFAULT_GATE_TIMEOUT_MS;
      checks.push(
        bounded({ kind: 'http', name: gate }, timeoutMs + CHECK_SLACK_MS, cancel, (signal) =>
          checkHttpGate(
            deps.gatesConfig,
            gate,
            {
              customKeyStoreId: input.customKeyStoreId,
              workflowId: input.workflowId,
              runId: input.runId,
              region: input.region,
              account: input.account,
            },
            { signal },
          ),
        ),
      );
    }
    const results = await Promise.all(checks);
    if (cancel.aborted) throw new CancelledFailure('cancelled while checking the gates');
    for (const result of results) deps.metrics?.gateCheck(result.kind, result.open);
    return gateReport(results, new Date());
  }

  /** Every gate, once. */
  async function checkGates(input: CheckGatesInput): Promise<GateReport> {
    return checkAll(input, Context.current().cancellationSignal);
  }

  /** Checks every `checkEveryMs` until all are open, the summary changes, or `untilMs` passes. */
  async function awaitGatesOpen(input: AwaitGatesOpenInput): Promise<GateWaitOutcome> {
    const ctx = Context.current();
    let checks = 0;
    let last: GateReport | undefined;
    for (;;) {
      // Heartbeats go on during a check too, so the heartbeat timeout need not cover a slow gate.
      const ticker = setInterval(() => ctx.heartbeat(last), HEARTBEAT_EVERY_MS);
      let report: GateReport;
      try {
        report = await checkAll(input, ctx.cancellationSignal);
      } finally {
        clearInterval(ticker);
      }
      last = report;
      checks += 1;
      ctx.heartbeat(report);
      if (report.open) return { ...report, ended: 'open', checks };
      if (input.lastSummary !== undefined && report.summary !== input.lastSummary) {
        return { ...report, ended: 'changed', checks };
      }
      const nextAt = Date.now() + input.checkEveryMs;
      if (Date.now() >= input.untilMs) return { ...report, ended: 'deadline', checks };
      // The last check is made at the deadline, not a whole interval after it.
      const wakeAt = Math.min(nextAt, input.untilMs);
      for (let now = Date.now(); now < wakeAt; now = Date.now()) {
        // ctx.sleep rejects with a CancelledFailure as soon as the activity is cancelled.
        await ctx.sleep(Math.min(HEARTBEAT_EVERY_MS, wakeAt - now));
        ctx.heartbeat(report);
      }
    }
  }

  return { checkGates, awaitGatesOpen };
}

export type GateActivities = ReturnType<typeof createGateActivities>;
