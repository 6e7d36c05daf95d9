/**
 * `audit export`: one workflow's trail (all its runs) as Markdown for people (change records,
 * incident reviews) or JSON for tools. A pure renderer: the caller reads the events from a sink
 * (`readWorkflow`) and says whether Temporal's own history of the runs still exists.
 */
import { RUNNER_ACTOR, type AuditEvent, type ChainedAuditEvent } from '../domain/audit-event';
import { parseMaintenanceWorkflowId } from '../domain/names';
import { isEndState } from '../domain/phases';
import { verifyAuditEvents } from './verify';

export type AuditExportFormat = 'markdown' | 'json';

export interface AuditExportOptions {
  readonly format: AuditExportFormat;
  /** The workflow id to name when there are no events (the events' own ids win otherwise). */
  readonly workflowId?: string;
  /**
   * Whether Temporal still has the runs' event history: true, false (removed by the namespace's
   * retention), or undefined (not looked up).
   */
  readonly temporalHistoryAvailable?: boolean | undefined;
  /** Number of events in Temporal's history, when available. */
  readonly temporalHistoryEvents?: number | undefined;
  /**
   * Replaces the explanation in the Temporal history line; a note that itself starts with
   * "Temporal history:" replaces the whole line.
   */
  readonly temporalNote?: string | undefined;
  /** Where the events were read from (a sink's `description`). */
  readonly source?: string | undefined;
}

export interface PhaseSpanSummary {
  readonly phase: string;
  readonly start: string;
  readonly end: string;
  readonly durationMs: number;
  readonly actors: readonly string[];
  readonly kmsRequestIds: readonly string[];
  readonly outcome: string;
  readonly events: number;
}

export interface RunSummary {
  readonly workflowId: string;
  readonly runId: string;
  readonly startedAt: string | undefined;
  readonly endedAt: string | undefined;
  readonly requestedBy: string | undefined;
  readonly reason: string | undefined;
  readonly ticket: string | undefined;
  /** The end state (`COMPLETED`, ...), or undefined while the trail shows no end. */
  readonly outcome: string | undefined;
  readonly lastPhase: string | undefined;
  readonly timeline: readonly PhaseSpanSummary[];
  readonly events: readonly (AuditEvent | ChainedAuditEvent)[];
}

export interface TrailSummary {
  /** The one workflow id, or the ids joined with ", " when the trail spans several (a store's). */
  readonly workflowId: string;
  readonly workflowIds: readonly string[];
  readonly customKeyStoreId: string | undefined;
  readonly region: string | undefined;
  readonly runs: readonly RunSummary[];
  /** Undefined when the events carry no chain fields (e.g. taken from a workflow's status). */
  readonly chain: { readonly ok: true } | { readonly ok: false; readonly problem: string } | undefined;
}

export function exportAuditTrail(
  events: readonly (AuditEvent | ChainedAuditEvent)[],
  options: AuditExportOptions,
): string {
  const summary = summarizeTrail(events, options.workflowId);
  return options.format === 'json' ? renderJson(summary, options) : renderMarkdown(summary, options);
}

/** The model both formats render: runs in start order, each with its phase timeline. */
export function summarizeTrail(
  events: readonly (AuditEvent | ChainedAuditEvent)[],
  workflowId?: string,
): TrailSummary {
  const ids = unique(events.map((e) => e.workflowId));
  if (ids.length === 0) ids.push(workflowId ?? '(unknown workflow)');
  const byRun = new Map<string, (AuditEvent | ChainedAuditEvent)[]>();
  for (const event of events) {
    const key = JSON.stringify([event.workflowId, event.runId]);
    const list = byRun.get(key) ?? [];
    list.push(event);
    byRun.set(key, list);
  }
  const runs = [...byRun.values()]
    .map((list) => summarizeRun([...list].sort((a, b) => a.seq - b.seq)))
    .sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
  const parsed = ids.map(parseMaintenanceWorkflowId).find((p) => p !== undefined);
  const firstDetail = (key: string): string | undefined => firstString(events, (e) => e.detail[key]);
  return {
    workflowId: ids.join(', '),
    workflowIds: ids,
    customKeyStoreId: parsed?.customKeyStoreId ?? firstDetail('customKeyStoreId'),
    region: parsed?.region ?? firstDetail('region'),
    runs,
    chain: chainStatus(events),
  };
}

function chainStatus(events: readonly (AuditEvent | ChainedAuditEvent)[]): TrailSummary['chain'] {
  if (events.length === 0 || !events.every((e) => 'hash' in e)) return undefined;
  // Some runs out of a trail: each run's chain; the seals are checked by `audit verify` with the key.
  const report = verifyAuditEvents(events, 'events', { runChainsOnly: true });
  if (report.ok) return { ok: true };
  const b = report.firstBreak;
  return { ok: false, problem: `run ${b.runId ?? '?'} seq ${b.seq ?? '?'}: ${b.problem} [${b.kind}]` };
}

function summarizeRun(events: readonly (AuditEvent | ChainedAuditEvent)[]): RunSummary {
  const requested = events.find((e) => e.action === 'run.requested');
  const ended = [...events].reverse().find((e) => isEndState(e.phase));
  return {
    workflowId: events[0]?.workflowId ?? '',
    runId: events[0]?.runId ?? '',
    startedAt: events[0]?.at,
    endedAt: ended?.at,
    requestedBy:
      firstString(events, (e) => e.detail.requestedBy) ??
      requested?.actor ??
      events.find((e) => e.actor !== RUNNER_ACTOR)?.actor,
    reason: firstString(events, (e) => e.detail.reason),
    ticket: firstString(events, (e) => e.detail.ticket),
    outcome: ended?.phase,
    lastPhase: events[events.length - 1]?.phase,
    timeline: phaseSpans(events),
    events,
  };
}

/**
 * Phase spans: consecutive events with the same phase; a second `phase.entered` within one
 * phase (the phase was entered again, e.g. a reconnect retry) starts a new span. A span ends
 * where the next one starts; the last one at its last event.
 */
export function phaseSpans(events: readonly AuditEvent[]): PhaseSpanSummary[] {
  const groups: AuditEvent[][] = [];
  for (const event of events) {
    const current = groups[groups.length - 1];
    const reentered = event.action === 'phase.entered' && current?.some((e) => e.action === 'phase.entered');
    if (current && current[0]?.phase === event.phase && !reentered) current.push(event);
    else groups.push([event]);
  }
  return groups.map((group, index) => {
    const first = group[0] as AuditEvent;
    const last = group[group.length - 1] as AuditEvent;
    const end = groups[index + 1]?.[0]?.at ?? last.at;
    return {
      phase: first.phase,
      start: first.at,
      end,
      durationMs: Math.max(0, Date.parse(end) - Date.parse(first.at)),
      actors: unique(group.map((e) => e.actor)),
      kmsRequestIds: unique(group.flatMap(requestIds)),
      outcome: spanOutcome(first.phase, group),
      events: group.length,
    };
  });
}

function requestIds(event: AuditEvent): string[] {
  const d = event.detail as Readonly<Record<string, unknown>> & { kms?: { requestId?: unknown } };
  return [d.kms?.requestId, d.firstRequestId, d.lastRequestId].filter(
    (id): id is string => typeof id === 'string' && id !== '',
  );
}

function spanOutcome(phase: string, group: readonly AuditEvent[]): string {
  if (isEndState(phase)) return phase;
  const decisive = group.filter((e) => e.outcome !== 'info');
  const last = decisive[decisive.length - 1];
  if (!last) return 'info';
  const failures = decisive.filter((e) => e.outcome === 'failed').length;
  if (last.outcome === 'failed' || failures === 0) return last.outcome;
  return `${last.outcome} (after ${failures} failed)`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

function renderMarkdown(summary: TrailSummary, options: AuditExportOptions): string {
  const out: string[] = [];
  const several = summary.workflowIds.length > 1;
  const title =
    several && summary.customKeyStoreId ? `store ${summary.customKeyStoreId}` : summary.workflowId;
  out.push(`# Audit trail: ${inline(title)}`, '');
  out.push(`> **${temporalLine(options)}**`, '');
  const store = summary.customKeyStoreId
    ? `${summary.customKeyStoreId}${summary.region ? ` (${summary.region})` : ''}`
    : 'unknown';
  const rows: [string, string][] = [
    ['Store', store],
    [several ? 'Workflow ids' : 'Workflow id', summary.workflowId],
    ['Run ids', summary.runs.map((r) => r.runId).join(', ') || 'none'],
  ];
  if (summary.runs.length === 1) {
    const run = summary.runs[0] as RunSummary;
    rows.push(...runFacts(run));
  }
  rows.push(['Events', String(summary.runs.reduce((n, r) => n + r.events.length, 0))]);
  if (summary.chain)
    rows.push(['Hash chain', summary.chain.ok ? 'intact' : `BROKEN: ${summary.chain.problem}`]);
  if (options.source) rows.push(['Source', options.source]);
  out.push(...table(['', ''], rows), '');
  if (summary.runs.length > 1) {
    out.push('## Runs', '');
    out.push(
      ...table(
        ['run id', 'started', 'requested by', 'reason', 'ticket', 'outcome'],
        summary.runs.map((r) => [
          runName(r, several),
          r.startedAt ?? '',
          r.requestedBy ?? '',
          r.reason ?? '',
          r.ticket ?? '',
          outcomeText(r),
        ]),
      ),
      '',
    );
  }
  if (summary.runs.length === 0) out.push('No audit events were found for this workflow.', '');
  for (const run of summary.runs) {
    out.push(`## Run ${inline(runName(run, several))}`, '');
    if (summary.runs.length > 1) out.push(...table(['', ''], runFacts(run)), '');
    out.push('### Timeline', '');
    out.push(
      ...table(
        ['phase', 'start', 'end', 'duration', 'actor', 'KMS request ids', 'outcome'],
        run.timeline.map((s) => [
          s.phase,
          s.start,
          s.end,
          formatDuration(s.durationMs),
          s.actors.join(', '),
          s.kmsRequestIds.join(', '),
          s.outcome,
        ]),
      ),
      '',
    );
    out.push('### Events', '');
    out.push(
      ...table(
        ['seq', 'at', 'phase', 'action', 'actor', 'outcome', 'detail', 'error', 'hash'],
        run.events.map((e) => [
          String(e.seq),
          e.at,
          e.phase,
          e.action,
          e.actor,
          e.outcome,
          code(JSON.stringify(e.detail)),
          e.error ? `${e.error.type}: ${e.error.message}` : '',
          'hash' in e ? code(e.hash.slice(0, 12)) : '',
        ]),
        new Set([6, 8]),
      ),
      '',
    );
  }
  return out.join('\n');
}

function runName(run: RunSummary, withWorkflowId: boolean): string {
  return withWorkflowId ? `${run.workflowId} ${run.runId}` : run.runId;
}

function runFacts(run: RunSummary): [string, string][] {
  return [
    ['Requested by', run.requestedBy ?? 'unknown'],
    ['Reason', run.reason ?? ''],
    ['Ticket', run.ticket ?? ''],
    ['Outcome', outcomeText(run)],
    ['Started', run.startedAt ?? ''],
    ['Ended', run.endedAt ?? ''],
  ];
}

function outcomeText(run: RunSummary): string {
  return run.outcome ?? `not ended in this trail (last phase: ${run.lastPhase ?? 'none'})`;
}

function temporalLine(options: AuditExportOptions): string {
  const note = options.temporalNote?.trim();
  if (note && /^temporal history:/i.test(note)) return note.replace(/\.$/, '');
  switch (options.temporalHistoryAvailable) {
    case true: {
      const count =
        options.temporalHistoryEvents !== undefined ? ` (${options.temporalHistoryEvents} events)` : '';
      return `Temporal history: available${count}${note ? `; ${note}` : ''}`;
    }
    case false:
      return `Temporal history: no longer available (${note ?? 'removed by namespace retention'}); this trail comes from the audit sink only`;
    default:
      return `Temporal history: not consulted${note ? ` (${note})` : ''}; this trail comes from the audit sink only`;
  }
}

/** A GFM table; cells are escaped unless their column is listed in `raw` (already code spans). */
function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  raw = new Set<number>(),
): string[] {
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (raw.has(i) ? c.replace(/\|/g, '\\|') : cell(c))).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)];
}

/** Enough escaping that a value cannot break the table or inject HTML; the rest stays readable. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\r?\n/g, ' ');
}

function inline(text: string): string {
  return cell(text);
}

/** A code span that survives backticks in its text. */
function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min ${sec} s`;
}

// ---------------------------------------------------------------------------------------------
// JSON

function renderJson(summary: TrailSummary, options: AuditExportOptions): string {
  return `${JSON.stringify(
    {
      kind: 'keystore-maint.audit-trail',
      exportVersion: 1,
      workflowId: summary.workflowId,
      workflowIds: summary.workflowIds,
      customKeyStoreId: summary.customKeyStoreId ?? null,
      region: summary.region ?? null,
      temporalHistory: {
        available: options.temporalHistoryAvailable ?? null,
        events: options.temporalHistoryEvents ?? null,
        statement: temporalLine(options),
      },
      source: options.source ?? null,
      chain: summary.chain ?? null,
      runs: summary.runs.map((run) => ({
        workflowId: run.workflowId,
        runId: run.runId,
        startedAt: run.startedAt ?? null,
        endedAt: run.endedAt ?? null,
        requestedBy: run.requestedBy ?? null,
        reason: run.reason ?? null,
        ticket: run.ticket ?? null,
        outcome: run.outcome ?? null,
        timeline: run.timeline,
        events: run.events,
      })),
    },
    null,
    2,
  )}\n`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function firstString(
  events: readonly AuditEvent[],
  pick: (event: AuditEvent) => unknown,
): string | undefined {
  for (const event of events) {
    const value = pick(event);
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}
