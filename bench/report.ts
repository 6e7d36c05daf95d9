/**
 * The benchmark's report: bench/results/latest.md (tables and the targets, each with its value,
 * whether it is met and, if not, by how much and why), latest.json (raw numbers) and
 * calls-per-second.svg (a hand-written chart: custom-key-store calls per second and operation,
 * keystore-maint now beside the single-budget design, on one time axis).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { BUDGETED_OPERATIONS, type BudgetedOperation } from './measure';
import type { BenchResults, FleetMeasure } from './run';

const MB = 1_048_576 / 1_000_000;

function seconds(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : '∞';
}

function times(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)} ×` : '∞';
}

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

const SHORT: Readonly<Record<BudgetedOperation, string>> = {
  DescribeCustomKeyStores: 'Describe',
  ConnectCustomKeyStore: 'Connect',
  DisconnectCustomKeyStore: 'Disconnect',
};

interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | undefined;
  readonly why: string;
}

function fleet(r: BenchResults, kind: FleetMeasure['kind']): FleetMeasure | undefined {
  return r.fleets.find((f) => f.kind === kind);
}

/** The wall time to compare: measured, or for a fleet stopped at its cap, extrapolated. */
function comparableWallMs(f: FleetMeasure): number {
  return f.finished ? f.wallMs : (f.progress?.extrapolatedWallMs ?? Number.POSITIVE_INFINITY);
}

function boundText(f: FleetMeasure, budget: number): string {
  const q = f.quotaBound;
  const op = BUDGETED_OPERATIONS.reduce((a, b) => (q.calls[b] > q.calls[a] ? b : a));
  return `${seconds(q.ms)} (slowest account-Region ${q.target}: ${q.calls[op]} ${SHORT[op]} calls ÷ ${budget}/s = ${seconds(q.callsMs)}, plus ${seconds(q.serialMs)} of disconnect, window, connect and settle)`;
}

function targets(r: BenchResults): Target[] {
  const budget = r.settings.budgetRps;
  const out: Target[] = [];
  const now = fleet(r, 'keystore-maint');
  const bare = fleet(r, 'bare');

  if (now) {
    const ratio = now.wallMs / now.quotaBound.ms;
    out.push({
      name: `(a) keystore-maint now, ${now.stores} stores over ${now.targets} account-Regions: wall time within 1.2 × the quota-bound minimum`,
      target: '≤ 1.2 ×',
      value: `${seconds(now.wallMs)} for a minimum of ${boundText(now, budget)}: ${times(ratio)}`,
      met: ratio <= 1.2,
      why: ratio <= 1.2 ? '' : slowWhy(now, bare, ratio, r.machine.cpus),
    });
  }

  const measured = [...r.fleets.filter((f) => f.kind !== 'bare')];
  const runs = measured.reduce((n, f) => n + f.runsCompleted + f.runsNotCompleted, 0);
  const byThrottling = measured.reduce((n, f) => n + f.runsFailedByThrottling, 0);
  const notCompleted = measured.reduce((n, f) => n + f.runsNotCompleted, 0);
  const sweepRuns = r.sweep.reduce((n, s) => n + s.stores, 0);
  const sweepNot = r.sweep.reduce((n, s) => n + s.runsNotCompleted, 0);
  const seen = [...r.fleets.map((f) => f.calls.throttled), ...r.sweep.map((s) => s.throttled)].reduce(
    (a, b) => a + b,
    0,
  );
  const surfaced = r.fleets.reduce((n, f) => n + f.throttledSurfaced, 0);
  const capped = r.fleets.filter((f) => !f.finished);
  out.push({
    name: 'Runs failed by throttling',
    target: '0',
    value: `${byThrottling} of ${runs + sweepRuns} keystore-maint runs ended (${notCompleted + sweepNot} not COMPLETED for any reason${capped.length ? `; runs still under way when the ${capped.map((f) => f.label).join(', ')} was stopped at its cap are not counted as ended` : ''}); throttled calls seen at KMS in all scenarios: ${seen}, surfaced to runs: ${surfaced}`,
    met: byThrottling === 0,
    why:
      byThrottling === 0
        ? ''
        : 'some runs ended other than COMPLETED with a throttling error: see the fleet results in latest.json',
  });

  const peaks = [
    ...r.fleets.map((f) => ({
      label: f.label,
      peak: f.calls.peakPerKey.max,
      over: f.calls.peakPerKey.keysOverBudget,
    })),
    ...r.sweep.map((s) => ({
      label: `sweep ${s.storesPerTarget}/account-Region`,
      peak: s.peakPerKey,
      over: 0,
    })),
  ];
  const worst = Math.max(0, ...peaks.map((p) => p.peak));
  out.push({
    name: 'Peak calls per (account, Region, operation) in any one second',
    target: `≤ ${budget} (the budget)`,
    value: `${worst} (${peaks.map((p) => `${p.label}: ${p.peak}`).join('; ')})`,
    met: peaks.length ? worst <= budget : undefined,
    why:
      worst <= budget
        ? ''
        : `the simulator received more calls of one operation in one account-Region in one second than the budget allows: ${peaks
            .filter((p) => p.peak > budget)
            .map((p) => `${p.label} (${p.over} keys over)`)
            .join('; ')}`,
  });

  const sweep = [...r.sweep].sort((a, b) => a.storesPerTarget - b.storesPerTarget);
  const falls = sweep.every(
    (s, i) => i === 0 || s.waiting.perStoreMinute < (sweep[i - 1]?.waiting.perStoreMinute ?? 0),
  );
  out.push({
    name: 'Describe calls per store-minute of waiting, by stores per account-Region',
    target: 'falls as stores per account-Region grow',
    value: sweep.length
      ? sweep.map((s) => `${s.storesPerTarget}: ${s.waiting.perStoreMinute.toFixed(1)}`).join('; ')
      : 'not run',
    met: sweep.length >= 2 ? falls : undefined,
    why:
      !sweep.length || falls
        ? ''
        : 'see table (s): the listings did not serve more waits as stores per account-Region grew',
  });

  const maint = r.memory.find((m) => m.kind === 'keystore-maint');
  const bareMemory = r.memory.find((m) => m.kind === 'bare');
  if (maint) {
    const perRun = maint.perRunMiB * MB;
    out.push({
      name: 'Worker RSS per cached run',
      target: '< 1 MB',
      value: `${perRun.toFixed(2)} MB (${maint.runs} runs waiting for approval in ${maint.accounts} accounts: ${(maint.withRunsMiB * MB).toFixed(0)} MB against ${(maint.baselineMiB * MB).toFixed(0)} MB idle)${bareMemory ? `; a bare waiting workflow: ${(bareMemory.perRunMiB * MB).toFixed(2)} MB` : ''}`,
      met: perRun < 1,
      why:
        perRun < 1
          ? ''
          : `missed by ${(perRun - 1).toFixed(2)} MB (${times(perRun)} the target). Each cached run instantiates the workflow bundle's modules in its own context; a bare workflow costs ${bareMemory ? (bareMemory.perRunMiB * MB).toFixed(2) : '?'} MB, and most of the difference is zod and the request and traffic schemas src/domain builds when its modules load (docs/fleet.md, "Memory"). Not a bench defect: the workflow bundle would have to load fewer modules per run`,
    });
  } else {
    out.push({
      name: 'Worker RSS per cached run',
      target: '< 1 MB',
      value: 'not run',
      met: undefined,
      why: '',
    });
  }
  return out;
}

function slowWhy(now: FleetMeasure, bare: FleetMeasure | undefined, ratio: number, cpus: number): string {
  const parts = [
    `missed by ${times(ratio / 1.2)} (${seconds(now.wallMs - 1.2 * now.quotaBound.ms)} over 1.2 × the minimum).`,
  ];
  if (bare) {
    parts.push(
      `The bare Temporal fleet, making the same KMS calls through the same roles and gate with none of keystore-maint's bookkeeping, took ${seconds(bare.wallMs)} (${times(bare.wallMs / bare.quotaBound.ms)} its own minimum), so on this machine Temporal itself — one dev server, the worker and the simulator sharing ${cpus} cores, ${now.stores} runs of about ${now.events.mean.toFixed(0)} history events each — sets the pace, not the KMS budget; keystore-maint adds ${times(now.wallMs / bare.wallMs)} on top of it.`,
    );
  }
  const g = now.gate;
  if (g) {
    parts.push(
      `The gate held back ${g.delayed} of ${g.calls} calls, at most ${seconds(g.maxWaitMs)}: calls mostly did not wait for the budget.`,
    );
  }
  return parts.join(' ');
}

function fleetRows(r: BenchResults): string[] {
  const budget = r.settings.budgetRps;
  return r.fleets.map((f) =>
    row([
      f.label,
      f.finished
        ? seconds(f.wallMs)
        : `stopped at ${seconds(f.wallMs)}; ≈ ${seconds(comparableWallMs(f))} extrapolated`,
      seconds(f.quotaBound.ms),
      f.finished ? times(f.wallMs / f.quotaBound.ms) : `≈ ${times(comparableWallMs(f) / f.quotaBound.ms)}`,
      BUDGETED_OPERATIONS.map((op) => f.calls.byOperation[op]).join(' / '),
      f.callsPerStore.toFixed(1),
      `${f.calls.peakPerKey.max}${f.calls.peakPerKey.max > budget ? ' **over**' : ''}`,
      `${f.calls.throttled} / ${f.throttledSurfaced}`,
      `${f.runsCompleted} / ${f.finished ? f.runsNotCompleted : `${f.stores - f.runsCompleted} not yet`}`,
      f.peakRssMiB === undefined ? 'n/a' : `${(f.peakRssMiB * MB).toFixed(0)} MB`,
      f.maxInFlight,
      f.events.min === f.events.max ? f.events.min : `${f.events.min}–${f.events.max}`,
      f.waiting.perStoreMinute.toFixed(1),
    ]),
  );
}

function markdown(r: BenchResults): string {
  const s = r.settings;
  const t = targets(r);
  const now = fleet(r, 'keystore-maint');
  const single = fleet(r, 'single-budget');
  const bare = fleet(r, 'bare');
  const stores = now?.stores ?? s.accountsUsed * s.regions.length * s.storesPerTarget;
  const targetsN = s.accountsUsed * s.regions.length;
  const ratio = now && single ? comparableWallMs(single) / now.wallMs : undefined;
  const lines: string[] = [
    '# Fleet benchmarks (latest)',
    '',
    `Written by \`npm run bench\` on ${r.startedAt} in ${seconds(r.durationMs)}: ${r.machine.cpus} CPUs, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, load average ${r.machine.loadAverage.start.toFixed(1)} at the start and ${r.machine.loadAverage.end.toFixed(1)} at the end (the benchmark itself keeps about 2 busy; more means other work shared the machine and the timings are pessimistic). A Temporal dev server, the KMS simulator (with STS) and a fresh worker process per scenario, all on this machine.`,
    '',
    `**Real:** KMS's quota of ${s.quotaRps} requests per second for each (account, Region, custom-key-store operation), keystore-maint's default budget of ${s.budgetRps} per second for each, and KMS's limit of ${s.storesPerTarget} custom key stores per account-Region. **Scaled down (time only):** connects ${s.connectDelayMs} ms, disconnects ${s.disconnectDelayMs} ms (real CloudHSM: minutes), windows ${s.window}, confirmation settle ${s.confirmSettle} (default 30 s), poll interval ${s.pollInterval}, no eventual-consistency lag; the polling sweep uses transitions of ${s.sweep.disconnectDelayMs / 1000} s and ${s.sweep.connectDelayMs / 1000} s so that waits overlap. Budget windows stay 1 s, as in KMS.`,
    '',
    `**The fleet:** ${stores} stores over ${targetsN} account-Regions (${s.accountsUsed} accounts × ${s.regions.length} Regions: ${s.regions.join(', ')}; ${s.storesPerTarget} stores each), each account with an execution role \`${s.executionRole}\` trusting the worker's account (with an ExternalId), run as ONE fleet with one \`locations\` entry (every store of each account-Region), maxConcurrency ${s.maxConcurrency} and no per-location limit — so all ${s.storesPerTarget} stores of an account-Region run at once, and all ${stores} runs are in flight together.`,
    '',
    '## Targets',
    '',
    row(['target', 'goal', 'value', 'met', 'why not']),
    row(['---', '---', '---', '---', '---']),
    ...t.map((x) =>
      row([
        x.name,
        x.target,
        x.value,
        x.met === undefined ? 'not measured' : x.met ? 'met' : '**missed**',
        x.why || '—',
      ]),
    ),
    '',
    `**Single-budget design ÷ keystore-maint now (wall time): ${ratio === undefined ? 'not run' : `${single?.finished ? '' : '≈ '}${times(ratio)}`}**${single && !single.finished && now ? ` (extrapolated; measured, it had not finished after ${seconds(single.wallMs)}, already ${times(single.wallMs / now.wallMs)} keystore-maint's whole run)` : ''}. keystore-maint now ÷ the bare Temporal fleet: ${now && bare ? times(now.wallMs / bare.wallMs) : 'not run'}.`,
    '',
    '## (a) One fleet, three ways',
    '',
    '- **keystore-maint now**: the production worker (`createMaintenanceWorker`): a budget per (account, Region, operation), shared polling on, no task-queue rate.',
    `- **single-budget design (emulated)**: the same production worker and workflows, with the design before budgets per operation put back in bench/worker.ts: its gate (\`RegionBudgetGate\`, a subclass of \`KmsCallGate\`) maps every budget key \`<account>/<region>/<operation>\` to \`<region>\` in \`run\`, \`beginWait\` and \`pollSpacingMs\`, so all accounts and operations of a Region share one window of ${s.budgetRps} per second; the \`-kms\` queue is dispatched at ${s.singleBudget.queueRps} activities per second by the server (\`queueRps\` = budget ÷ 2, for all Regions together); \`sharedPolling: false\`. It is an emulation: only the key, the queue rate and polling differ from the code under test.${single && !single.finished ? ` At this scale it takes far longer than the benchmark may, so it runs last and is stopped after ${seconds(single.wallMs)}; its wall time is extrapolated from its progress: short KMS activities (the \`-kms\` queue) completed by then, ${single.progress?.kmsActivitiesDone ?? 0}, of the ${single.progress?.kmsActivitiesNeeded ?? 0} the fleet needs (${now?.kmsActivitiesPerRun.toFixed(1) ?? '?'} per run, as measured for keystore-maint now), at the pace measured: ≈ ${seconds(single.progress?.extrapolatedWallMs ?? 0)}. The queue's rate alone needs ${seconds(single.progress?.queueBoundMs ?? 0)}. ${single.progress?.runsCompleted ?? 0} runs had completed: the server dispatches the queued activities roughly in order, so every run's preflight goes before anyone's disconnect.` : ''}`,
    "- **bare Temporal fleet** (bench/bare-workflow.ts, bundled on its own): each store a child making the same KMS activity calls (describe, disconnect, wait, connect, wait, confirm) with the same window timer, through the same roles, on the same production worker, gate and shared poller, padded with no-op activities to as many activity calls per run as keystore-maint makes; none of the runner's bookkeeping. The lower bound of what Temporal itself costs here.",
    '',
    "**Quota-bound minimum**, from the simulator's call log and the settings: for each account-Region, the most calls of any one operation ÷ the budget (each operation has its own quota, so the slowest one bounds it), plus one store's unavoidable time between calls — disconnect, window, connect and confirmation settle — once per wave of stores (the account-Region's stores ÷ how many run at once: one wave here). Account-Regions run in parallel, so the fleet's minimum is its slowest account-Region's. Listings of the shared poller count among the Describes, and they grow with the time the waits take.",
    '',
    row([
      'fleet',
      'wall time',
      'quota-bound minimum',
      'wall ÷ minimum',
      'Describe / Connect / Disconnect calls',
      'KMS calls per store',
      'peak per (account, Region, op) in 1 s',
      'throttled at KMS / surfaced',
      'runs COMPLETED / not',
      'worker peak RSS',
      'runs in flight (max)',
      'history events per run',
      'Describe per store-minute of waiting',
    ]),
    row(Array.from({ length: 13 }, () => '---')),
    ...fleetRows(r),
    '',
    'Gate and poller: ' +
      (r.fleets
        .map(
          (f) =>
            `${f.label}: ${f.gate?.delayed ?? 0} of ${f.gate?.calls ?? 0} calls waited at the gate, longest ${seconds(f.gate?.maxWaitMs ?? 0)}, queue ≤ ${f.gate?.maxQueue ?? 0}${f.poller ? `; ${f.poller.listings} listings answered ${f.poller.reads} reads` : '; no shared poller'}`,
        )
        .join('; ') || 'n/a') +
      '.',
    '',
    '![custom-key-store calls per second and operation](calls-per-second.svg)',
    '',
    '## (s) Polling: Describe calls per store-minute of waiting',
    '',
    `keystore-maint now (shared polling), ${s.sweep.targets} account-Regions with 1, 5 and 10 of their stores each, all at once; transitions ${s.sweep.disconnectDelayMs / 1000} s and ${s.sweep.connectDelayMs / 1000} s. Store-minutes of waiting: the spans of the runs' wait and confirmation activities (from their histories), summed. Describe calls counted: the shared poller's listings plus a store's own Describes while one of its waits was open.`,
    '',
    row([
      'stores per account-Region',
      'stores',
      'wall time',
      'store-minutes of waiting',
      'listings',
      "stores' own Describes in waits",
      'Describe per store-minute',
      'runs not COMPLETED',
      'throttled',
      'peak per key in 1 s',
    ]),
    row(Array.from({ length: 10 }, () => '---')),
    ...r.sweep.map((x) =>
      row([
        x.storesPerTarget,
        x.stores,
        seconds(x.wallMs),
        x.waiting.storeMinutes.toFixed(2),
        x.waiting.listings,
        x.waiting.ownDescribes,
        x.waiting.perStoreMinute.toFixed(1),
        x.runsNotCompleted,
        x.throttled,
        x.peakPerKey,
      ]),
    ),
    '',
    '## (h) History events per run',
    '',
    r.history.length
      ? "Single runs in the worker's own account, poll interval 1 s: the waits happen inside heartbeating activities and the window is one durable timer, so neither adds events."
      : 'Not run.',
    '',
    row(['window', 'connect delay', 'history events', 'polls (inside the waits)', 'wall time', 'outcome']),
    row(['---', '---', '---', '---', '---', '---']),
    ...r.history.map((h) =>
      row([h.window, `${h.connectDelayMs / 1000} s`, h.events, h.polls, seconds(h.wallMs), h.outcome]),
    ),
    '',
    '## (d) Memory per cached run',
    '',
    `${r.memory[0]?.runs ?? 0} runs waiting (keystore-maint's for approval, in ${r.memory.find((m) => m.kind === 'keystore-maint')?.accounts ?? 0} accounts through their execution roles — one account-Region holds at most ${s.storesPerTarget} stores; bare ones on a condition), all cached in a fresh worker: its RSS beside the same worker idle.`,
    '',
    row([
      'workflow',
      'idle worker',
      'with the runs waiting',
      'per cached run',
      `projected for ${stores} cached runs`,
    ]),
    row(['---', '---', '---', '---', '---']),
    ...r.memory.map((m) =>
      row([
        m.kind,
        `${(m.baselineMiB * MB).toFixed(0)} MB`,
        `${(m.withRunsMiB * MB).toFixed(0)} MB`,
        `${(m.perRunMiB * MB).toFixed(2)} MB`,
        `${((m.baselineMiB + stores * m.perRunMiB) * MB).toFixed(0)} MB`,
      ]),
    ),
    '',
  ];
  return lines.join('\n');
}

const COLORS: Readonly<Record<BudgetedOperation, string>> = {
  DescribeCustomKeyStores: '#2ca02c',
  ConnectCustomKeyStore: '#1f77b4',
  DisconnectCustomKeyStore: '#ff7f0e',
};

/**
 * One panel per fleet of keystore-maint (now, and the single-budget design), on one time axis so
 * that their lengths compare at a glance: calls per second of each operation, all account-Regions
 * together, with each design's ceiling.
 */
function svg(r: BenchResults): string {
  const shown = r.fleets.filter((f) => f.kind !== 'bare');
  const width = 900;
  const panelHeight = 240;
  const pad = { left: 50, right: 20, top: 30, bottom: 35 };
  const budget = r.settings.budgetRps;
  const secondsTotal = Math.max(1, ...shown.map((f) => f.calls.perSecond.DescribeCustomKeyStores.length));
  const parts: string[] = [];
  shown.forEach((f, index) => {
    const y0 = index * panelHeight;
    const plotW = width - pad.left - pad.right;
    const plotH = panelHeight - pad.top - pad.bottom;
    const series = BUDGETED_OPERATIONS.map((op) => ({ op, values: f.calls.perSecond[op] }));
    const dataMax = Math.max(1, ...series.flatMap((x) => x.values));
    // The single-budget design's ceiling (all operations of a Region together) fits the chart;
    // keystore-maint's (each operation of each account-Region) is far above what the fleet needs.
    const ceiling =
      f.kind === 'single-budget'
        ? {
            value: r.settings.regions.length * budget,
            text: `ceiling: ${r.settings.regions.length} Regions × ${budget}/s, all operations and accounts together`,
          }
        : {
            value: f.targets * budget,
            text: `ceiling per operation: ${f.targets} account-Regions × ${budget}/s`,
          };
    const yMax =
      Math.ceil((Math.max(dataMax, ceiling.value <= dataMax * 2 ? ceiling.value : 0) * 1.15) / 10) * 10 || 10;
    const x = (second: number) => pad.left + (second / secondsTotal) * plotW;
    const y = (calls: number) => y0 + pad.top + plotH - (Math.min(calls, yMax) / yMax) * plotH;
    const line = (values: readonly number[]) =>
      values
        .map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)} ${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`)
        .join(' ');
    const total = f.calls.total;
    parts.push('<g>');
    parts.push(
      `<text x="${pad.left}" y="${y0 + 18}" font-size="13" font-weight="bold">${f.label}: calls per second, ${f.stores} stores over ${f.targets} account-Regions (${total} calls in ${(f.wallMs / 1000).toFixed(0)} s${f.finished ? '' : ', stopped at its cap'})</text>`,
      `<line x1="${pad.left}" y1="${y(0)}" x2="${width - pad.right}" y2="${y(0)}" stroke="#333"/>`,
      `<line x1="${pad.left}" y1="${y0 + pad.top}" x2="${pad.left}" y2="${y(0)}" stroke="#333"/>`,
    );
    const yStep = yMax > 100 ? 20 : yMax > 40 ? 10 : 5;
    for (let v = 0; v <= yMax; v += yStep) {
      parts.push(
        `<text x="${pad.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v}</text>`,
        `<line x1="${pad.left}" y1="${y(v)}" x2="${width - pad.right}" y2="${y(v)}" stroke="#eee"/>`,
      );
    }
    const step = secondsTotal > 200 ? 30 : secondsTotal > 60 ? 10 : 5;
    for (let sec = 0; sec <= secondsTotal; sec += step) {
      parts.push(`<text x="${x(sec)}" y="${y(0) + 14}" font-size="10" text-anchor="middle">${sec}s</text>`);
    }
    if (ceiling.value <= yMax) {
      parts.push(
        `<line x1="${pad.left}" y1="${y(ceiling.value)}" x2="${width - pad.right}" y2="${y(ceiling.value)}" stroke="#c00" stroke-dasharray="6 4"/>`,
        `<text x="${width - pad.right}" y="${y(ceiling.value) - 4}" font-size="10" fill="#c00" text-anchor="end">${ceiling.text}</text>`,
      );
    } else {
      parts.push(
        `<text x="${width - pad.right}" y="${y0 + pad.top + 10}" font-size="10" fill="#c00" text-anchor="end">${ceiling.text} = ${ceiling.value}/s (above the chart)</text>`,
      );
    }
    for (const { op, values } of series) {
      parts.push(
        `<polyline fill="none" stroke="${COLORS[op]}" stroke-width="1.5" points="${line(values)}"/>`,
      );
    }
    parts.push('</g>');
  });
  const height = shown.length * panelHeight + 25;
  const legend = BUDGETED_OPERATIONS.map((op) => `<tspan fill="${COLORS[op]}">━ ${op}</tspan>`).join('   ');
  parts.push(
    `<text x="${pad.left}" y="${height - 8}" font-size="11">${legend}   <tspan fill="#c00">╌ ceiling</tspan>   (KMS: ${r.settings.quotaRps}/s per account, Region and operation)</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes a file formatted as the repository's Prettier settings want it, so `npm run lint` passes. */
async function writeFormatted(path: string, text: string): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(text, { ...options, filepath: path }));
}

export async function writeReport(results: BenchResults, dir: string): Promise<void> {
  // JSON has no Infinity: an extrapolation without progress is written as null.
  await writeFormatted(
    join(dir, 'latest.json'),
    JSON.stringify(results, (_key, value: unknown) => (value === Number.POSITIVE_INFINITY ? null : value), 1),
  );
  await writeFormatted(join(dir, 'latest.md'), markdown(results));
  writeFileSync(join(dir, 'calls-per-second.svg'), svg(results));
}
