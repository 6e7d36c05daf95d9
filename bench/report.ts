/**
 * The benchmark's report: bench/results/latest.md (tables and the targets, each with its value,
 * whether it is met and, if not, why), latest.json (raw numbers) and calls-per-second.svg (a
 * hand-written chart: custom-key-store calls per second over time, with the budget).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { BenchResults, FleetMeasure } from './run';

const MB = 1_048_576 / 1_000_000;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function row(cells: readonly (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | undefined;
  readonly why: string;
}

function targets(r: BenchResults): Target[] {
  const budget = r.settings.budgetRps;
  const maint = r.fleets.filter((f) => f.kind === 'keystore-maint');
  const out: Target[] = [];

  const runs = maint.reduce((n, f) => n + f.stores, 0);
  const byThrottling = maint.reduce((n, f) => n + f.runsFailedByThrottling, 0);
  const notCompleted = maint.reduce((n, f) => n + f.runsNotCompleted, 0);
  const seen = maint.reduce((n, f) => n + f.calls.throttled, 0);
  const surfaced = maint.reduce((n, f) => n + f.throttledSurfaced, 0);
  out.push({
    name: 'Runs failed by throttling',
    target: '0',
    value: `${byThrottling} of ${runs} runs (${notCompleted} not COMPLETED for any reason; throttled calls seen at KMS: ${seen}, surfaced to runs: ${surfaced})`,
    met: byThrottling === 0,
    why:
      byThrottling === 0
        ? ''
        : 'some runs ended other than COMPLETED with a throttling error: see the fleet results in latest.json',
  });

  const peaks = r.fleets.map((f) => `${f.label}: ${f.calls.peakPerSecond}`);
  const peak = Math.max(0, ...r.fleets.map((f) => f.calls.peakPerSecond));
  out.push({
    name: 'Peak custom-key-store calls in any one second',
    target: `≤ ${budget} (the budget)`,
    value: `${peak} (${peaks.join('; ')})`,
    met: r.fleets.length ? peak <= budget : undefined,
    why: peak <= budget ? '' : 'the simulator received more calls in one second than the budget allows',
  });

  const events = new Set(r.history.map((h) => h.events));
  out.push({
    name: 'History events per run, windows 5 s / 60 s, connects 1 s / 20 s',
    target: 'identical',
    value:
      r.history.map((h) => `${h.window} / ${h.connectDelayMs / 1000} s: ${h.events}`).join('; ') || 'not run',
    met: r.history.length ? events.size === 1 : undefined,
    why: events.size <= 1 ? '' : 'the event counts differ: see table (b)',
  });

  const f500 = maint.find((f) => f.stores === 500 && f.concurrency === r.settings.concurrency);
  if (f500) {
    const ratio = f500.wallMs / f500.quotaBoundMs;
    out.push({
      name: `500 stores (concurrency ${f500.concurrency}) within 1.5 × the quota-bound minimum`,
      target: '≤ 1.5 ×',
      value: `${seconds(f500.wallMs)} for a minimum of ${seconds(f500.quotaBoundMs)} (${f500.calls.total} calls ÷ ${budget}/s): ${ratio.toFixed(2)} ×`,
      met: ratio <= 1.5,
      why: ratio <= 1.5 ? '' : slowWhy(f500, budget),
    });
  } else {
    out.push({
      name: '500 stores within 1.5 × the quota-bound minimum',
      target: '≤ 1.5 ×',
      value: 'not run',
      met: undefined,
      why: '',
    });
  }

  const inflight = maint.filter((f) => f.stores >= 500).sort((a, b) => b.maxInFlight - a.maxInFlight)[0];
  if (inflight?.peakRssMiB !== undefined) {
    const mb = inflight.peakRssMiB * MB;
    const full = inflight.maxInFlight >= 500;
    out.push({
      name: 'Worker peak RSS with 500 runs in flight',
      target: '< 300 MB',
      value: `${mb.toFixed(0)} MB with ${inflight.maxInFlight} runs in flight at once (${inflight.label})`,
      met: mb < 300 && full,
      why:
        mb >= 300
          ? memoryWhy(r)
          : full
            ? ''
            : `only ${inflight.maxInFlight} runs were in flight at once, so the target was not measured at 500`,
    });
  } else {
    out.push({
      name: 'Worker peak RSS with 500 runs in flight',
      target: '< 300 MB',
      value: 'not run',
      met: undefined,
      why: '',
    });
  }

  const ratios = comparisons(r).map((c) => ({ ...c, ratio: c.maint.wallMs / c.bare.wallMs }));
  const worst = ratios.sort((a, b) => b.ratio - a.ratio)[0];
  out.push({
    name: 'Overhead versus a bare Temporal fleet (wall time ratio)',
    target: '< 1.5 ×',
    value: ratios.length
      ? comparisons(r)
          .map((c) => `${c.maint.stores} stores: ${(c.maint.wallMs / c.bare.wallMs).toFixed(2)} ×`)
          .join('; ')
      : 'not run',
    met: worst ? worst.ratio < 1.5 : undefined,
    why: !worst || worst.ratio < 1.5 ? '' : overheadWhy(worst.maint, worst.bare),
  });
  return out;
}

function memoryWhy(r: BenchResults): string {
  const maint = r.memory.find((m) => m.kind === 'keystore-maint');
  const bare = r.memory.find((m) => m.kind === 'bare');
  if (!maint || !bare)
    return 'the worker process used more memory than the target (see the RSS column of table (a))';
  const predict = (m: typeof maint) => ((m.baselineMiB + 500 * m.perRunMiB) * MB).toFixed(0);
  return `every run in flight is cached in the worker (the SDK's default cache holds thousands), and table (d) shows what a cached run costs: ${(maint.perRunMiB * MB).toFixed(2)} MB for keystore-maint's, ${(bare.perRunMiB * MB).toFixed(2)} MB for a bare Temporal workflow, above an idle worker's ${(maint.baselineMiB * MB).toFixed(0)} MB. 500 cached runs therefore need about ${predict(maint)} MB (${predict(bare)} MB even for bare workflows); 300 MB holds about ${Math.max(0, Math.floor((300 / MB - maint.baselineMiB) / maint.perRunMiB))} of ours. A smaller cache (maxCachedWorkflows) bounds the live set but makes the worker replay histories on every task of an evicted run (see docs/fleet.md, "Memory")`;
}

function slowWhy(f: FleetMeasure, budget: number): string {
  const busy = f.calls.perSecond.filter((n) => n >= budget * 0.75).length;
  return `the budget was used at ≥ 75 % in only ${busy} of ${f.calls.perSecond.length} seconds: the rest of the time went to ramp-up and ramp-down, ${f.continuedAsNew} continue-as-new drain(s), and runs waiting for workflow tasks on a ${f.stores}-run worker`;
}

function overheadWhy(maint: FleetMeasure, bare: FleetMeasure): string {
  return `keystore-maint's runs have ${maint.events.mean.toFixed(0)} history events against ${bare.events.mean.toFixed(0)} for the bare runs (phases, audit batches, search attributes), and its fleet ${maint.continuedAsNew ? 'drains for continue-as-new' : 'tracks every store'}; on this machine the worker's workflow tasks, not KMS, set the pace`;
}

function comparisons(r: BenchResults): { maint: FleetMeasure; bare: FleetMeasure }[] {
  return r.fleets
    .filter((f) => f.kind === 'keystore-maint')
    .flatMap((maint) => {
      const bare = r.fleets.find(
        (f) => f.kind === 'bare' && f.stores === maint.stores && f.concurrency === maint.concurrency,
      );
      return bare ? [{ maint, bare }] : [];
    });
}

function markdown(r: BenchResults): string {
  const s = r.settings;
  const t = targets(r);
  const lines: string[] = [
    '# Fleet benchmarks (latest)',
    '',
    `Written by \`npm run bench\` on ${r.startedAt} in ${seconds(r.durationMs)}: ${r.machine.cpus} CPUs, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}, load average ${r.machine.loadAverage.start.toFixed(1)} at the start and ${r.machine.loadAverage.end.toFixed(1)} at the end (the benchmark itself keeps about 2 busy; more means other work shared the machine and the timings are pessimistic). A Temporal dev server, the KMS simulator and a fresh worker process per scenario, all on this machine.`,
    '',
    `Scaled down: connects ${s.connectDelayMs} ms, disconnects ${s.disconnectDelayMs} ms, windows ${s.window} (${s.inflightWindow} for the fleet with every run in flight at once), poll interval ${s.pollInterval}; KMS's quota and the budget scaled up together: simulator quota ${s.quotaRps} requests/s per custom-key-store operation, keystore-maint budget ${s.budgetRps} custom-key-store calls/s in all (KMS: 5 and, by default, 4). Worker: the production one (\`createMaintenanceWorker\`) with the JSON Lines audit sink.`,
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
    '## (a) Fleets',
    '',
    'Wall time: from starting the fleet to its result. Quota-bound minimum: the custom-key-store calls the fleet made ÷ the budget (no schedule within the budget is faster). Peak: the most calls the simulator received in any one-second window (sliding). Throttled at KMS: calls the simulator refused with ThrottlingException; surfaced: retried activity attempts and absorbed polls the runs recorded. Runs in flight: the most runs open at one moment (from their histories).',
    '',
    row([
      'fleet',
      'wall time',
      'quota-bound minimum',
      'wall ÷ minimum',
      'KMS calls per store',
      'peak calls in 1 s',
      'throttled at KMS / surfaced',
      'runs not COMPLETED',
      'worker peak RSS',
      'runs in flight (max)',
      'history events per run',
      'activity calls per run',
      'continue-as-new',
    ]),
    row(Array.from({ length: 13 }, () => '---')),
    ...r.fleets.map((f) =>
      row([
        f.label,
        seconds(f.wallMs),
        seconds(f.quotaBoundMs),
        `${(f.wallMs / f.quotaBoundMs).toFixed(2)} ×`,
        f.callsPerStore.toFixed(1),
        f.calls.peakPerSecond,
        `${f.calls.throttled} / ${f.throttledSurfaced}`,
        f.runsNotCompleted,
        f.peakRssMiB === undefined ? 'n/a' : `${(f.peakRssMiB * MB).toFixed(0)} MB`,
        f.maxInFlight,
        f.events.min === f.events.max ? f.events.min : `${f.events.min}–${f.events.max}`,
        f.activities.min === f.activities.max ? f.activities.min : `${f.activities.min}–${f.activities.max}`,
        f.kind === 'bare' ? '—' : f.continuedAsNew,
      ]),
    ),
    '',
    "Gate (this worker's share of the budget): " +
      (r.fleets
        .filter((f) => f.gate)
        .map(
          (f) =>
            `${f.label}: ${f.gate?.delayed ?? 0} of ${f.gate?.calls ?? 0} calls waited, longest ${seconds(f.gate?.maxWaitMs ?? 0)}, queue ≤ ${f.gate?.maxQueue ?? 0}`,
        )
        .join('; ') || 'n/a') +
      '.',
    '',
    '![custom-key-store calls per second](calls-per-second.svg)',
    '',
    '## (b) History events per run',
    '',
    'Single runs on the same worker, poll interval 1 s: the waits happen inside heartbeating activities and the window is one durable timer, so neither adds events.',
    '',
    row(['window', 'connect delay', 'history events', 'polls (inside the waits)', 'wall time', 'outcome']),
    row(['---', '---', '---', '---', '---', '---']),
    ...r.history.map((h) =>
      row([h.window, `${h.connectDelayMs / 1000} s`, h.events, h.polls, seconds(h.wallMs), h.outcome]),
    ),
    '',
    '## (c) Beside a bare Temporal fleet',
    '',
    "The bare fleet (bench/bare-workflow.ts) runs each store as a child that makes the same KMS activity calls (describe, disconnect, wait, connect, wait, describe) with the same window timer, on the same kind of worker under the same budget, padded with no-op activity calls to as many activity calls per run as keystore-maint makes; it has none of the runner's bookkeeping. Ratio: keystore-maint's wall time ÷ the bare fleet's.",
    '',
    row([
      'stores',
      'concurrency',
      'keystore-maint',
      'bare',
      'ratio',
      'history events per run (keystore-maint / bare)',
      'KMS calls per store (keystore-maint / bare)',
    ]),
    row(['---', '---', '---', '---', '---', '---', '---']),
    ...comparisons(r).map(({ maint, bare }) =>
      row([
        maint.stores,
        maint.concurrency,
        seconds(maint.wallMs),
        seconds(bare.wallMs),
        `${(maint.wallMs / bare.wallMs).toFixed(2)} ×`,
        `${maint.events.mean.toFixed(0)} / ${bare.events.mean.toFixed(0)}`,
        `${maint.callsPerStore.toFixed(1)} / ${bare.callsPerStore.toFixed(1)}`,
      ]),
    ),
    '',
    '## (d) Memory per cached run',
    '',
    `${r.memory[0]?.runs ?? 0} runs waiting (keystore-maint's for approval; bare ones on a condition), all cached in a fresh worker: its RSS beside the same worker idle.`,
    '',
    row([
      'workflow',
      'idle worker',
      'with the runs waiting',
      'per cached run',
      'projected for 500 cached runs',
    ]),
    row(['---', '---', '---', '---', '---']),
    ...r.memory.map((m) =>
      row([
        m.kind,
        `${(m.baselineMiB * MB).toFixed(0)} MB`,
        `${(m.withRunsMiB * MB).toFixed(0)} MB`,
        `${(m.perRunMiB * MB).toFixed(2)} MB`,
        `${((m.baselineMiB + 500 * m.perRunMiB) * MB).toFixed(0)} MB`,
      ]),
    ),
    '',
  ];
  return lines.join('\n');
}

/** One panel per fleet of keystore-maint with at least 100 stores (or the largest). */
function svg(r: BenchResults): string {
  const maint = r.fleets.filter((f) => f.kind === 'keystore-maint');
  const panels = maint.filter((f) => f.stores >= 100);
  const shown = panels.length ? panels : maint.slice(-1);
  const width = 900;
  const panelHeight = 230;
  const pad = { left: 50, right: 20, top: 30, bottom: 35 };
  const budget = r.settings.budgetRps;
  const parts: string[] = [];
  shown.forEach((f, index) => {
    const y0 = index * panelHeight;
    const plotW = width - pad.left - pad.right;
    const plotH = panelHeight - pad.top - pad.bottom;
    const secondsTotal = Math.max(1, f.calls.perSecond.length);
    const yMax = Math.max(budget * 1.25, ...f.calls.perSecond) || 1;
    const x = (second: number) => pad.left + (second / secondsTotal) * plotW;
    const y = (calls: number) => y0 + pad.top + plotH - (calls / yMax) * plotH;
    const line = (values: readonly number[]) =>
      values
        .map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)} ${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`)
        .join(' ');
    parts.push(`<g>`);
    parts.push(
      `<text x="${pad.left}" y="${y0 + 18}" font-size="13" font-weight="bold">${f.label}: custom-key-store calls per second (peak in any 1 s: ${f.calls.peakPerSecond}; ${f.calls.total} calls in ${(f.wallMs / 1000).toFixed(0)} s)</text>`,
    );
    // Axes and ticks.
    parts.push(
      `<line x1="${pad.left}" y1="${y(0)}" x2="${width - pad.right}" y2="${y(0)}" stroke="#333"/>`,
      `<line x1="${pad.left}" y1="${y0 + pad.top}" x2="${pad.left}" y2="${y(0)}" stroke="#333"/>`,
    );
    for (let v = 0; v <= yMax; v += 10) {
      parts.push(
        `<text x="${pad.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v}</text>`,
        `<line x1="${pad.left}" y1="${y(v)}" x2="${width - pad.right}" y2="${y(v)}" stroke="#eee"/>`,
      );
    }
    const step = secondsTotal > 200 ? 30 : secondsTotal > 60 ? 10 : 5;
    for (let sec = 0; sec <= secondsTotal; sec += step) {
      parts.push(`<text x="${x(sec)}" y="${y(0) + 14}" font-size="10" text-anchor="middle">${sec}s</text>`);
    }
    parts.push(
      `<line x1="${pad.left}" y1="${y(budget)}" x2="${width - pad.right}" y2="${y(budget)}" stroke="#c00" stroke-dasharray="6 4"/>`,
      `<text x="${width - pad.right}" y="${y(budget) - 4}" font-size="10" fill="#c00" text-anchor="end">budget ${budget}/s</text>`,
      `<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="${line(f.calls.perSecond)}"/>`,
      `<polyline fill="none" stroke="#2ca02c" stroke-width="1" stroke-dasharray="3 2" points="${line(f.calls.describePerSecond)}"/>`,
    );
    parts.push(`</g>`);
  });
  const height = shown.length * panelHeight + 25;
  parts.push(
    `<text x="${pad.left}" y="${height - 8}" font-size="11"><tspan fill="#1f77b4">━ all custom-key-store calls</tspan>   <tspan fill="#2ca02c">┅ DescribeCustomKeyStores</tspan>   <tspan fill="#c00">╌ budget</tspan>   (simulator quota: ${r.settings.quotaRps}/s per operation)</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
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
  await writeFormatted(join(dir, 'latest.json'), JSON.stringify(results, null, 1));
  await writeFormatted(join(dir, 'latest.md'), markdown(results));
  writeFileSync(join(dir, 'calls-per-second.svg'), svg(results));
}
