/**
 * A gate report from the results of one check of every gate, and what every check shares: a
 * result for a gate that could not be asked (blocked: gates fail closed), and evidence made safe
 * for the history and the audit trail.
 *
 * The summary is built only from the gates' `reason` phrases, which carry nothing that changes
 * from one check to the next unless the gate's verdict does (no check time, no sample values, no
 * request ids): a waiting run reports — and audits — a new summary only when something happened.
 */
import { redactSecrets } from '../audit/secrets';
import type { GateKind, GateReport, GateResult } from '../domain/gates';
import { responseSummary } from '../traffic/response-summary';

/** Longest summary; a report of many blocked gates names the first ones and counts the rest. */
export const SUMMARY_MAX = 1_000;
const REASON_MAX = 240;
const ERROR_MAX = 1_000;

/** How a gate is called in a summary. */
function label(result: GateResult): string {
  if (result.kind === 'cloudWatchAlarms') return 'cloudwatch';
  return `${result.kind} ${result.name}`;
}

export function gateReport(results: readonly GateResult[], checkedAt: Date): GateReport {
  const blocked = results.filter((r) => !r.open);
  const open = results.length - blocked.length;
  const head =
    blocked.length === 0
      ? results.length === 1
        ? '1 gate open'
        : `all ${results.length} gates open`
      : `${open} gate${open === 1 ? '' : 's'} open`;
  let summary = head;
  for (const [index, result] of blocked.entries()) {
    const part = `; ${label(result)}: ${result.reason}`;
    if (summary.length + part.length > SUMMARY_MAX) {
      summary += `; and ${blocked.length - index} more blocked`;
      break;
    }
    summary += part;
  }
  return { open: blocked.length === 0, checkedAt: checkedAt.toISOString(), summary, gates: results };
}

/** A gate that could not be asked: blocked, saying why. */
export function unansweredGate(
  kind: GateKind,
  name: string,
  error: string,
  evidence: Record<string, unknown> = {},
): GateResult {
  return {
    kind,
    name,
    open: false,
    reason: `cannot be checked: ${oneLine(error, REASON_MAX - 20)}`,
    error: oneLine(error, ERROR_MAX),
    evidence: safeEvidence(evidence),
  };
}

/** A bounded, single-line phrase with anything secret-looking redacted. */
export function oneLine(text: string, max = REASON_MAX): string {
  return responseSummary(text, max);
}

/**
 * Evidence as it may enter the history and the audit trail: secret-looking members and values
 * redacted (the audit sinks refuse them otherwise), long strings cut.
 */
export function safeEvidence(evidence: Record<string, unknown>): Record<string, unknown> {
  return redactSecrets(bound(evidence, 0)) as Record<string, unknown>;
}

const MAX_STRING = 512;
const MAX_DEPTH = 8;

function bound(value: unknown, depth: number): unknown {
  if (typeof value === 'string')
    return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING - 1)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.map((item) => bound(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [key, bound(member, depth + 1)]));
}
