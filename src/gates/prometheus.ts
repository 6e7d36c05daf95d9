/**
 * The Prometheus gate: a server configured on the worker by name (config.ts), asked one of two
 * questions through its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/):
 *
 * - `alerts`: `GET /api/v1/alerts`; blocked while any alert in state `firing` carries the
 *   requested `alertname` and every requested label. `pending` alerts (their `for` not yet
 *   elapsed) do not block: Prometheus itself has not decided they are real.
 * - `query`: `GET /api/v1/query?query=…`, an instant query; blocked while it returns any series.
 *   A query that returns a scalar or a string cannot say "blocked" and is refused as such.
 *
 * An answer that is not Prometheus's (another status, another shape) blocks the gate with what
 * was seen; so does a missing credential file, a timeout or a refused connection.
 */
import { z } from 'zod';
import type { GateResult, ResolvedPrometheusGate } from '../domain/gates';
import type { GatesConfig, PrometheusSource } from './config';
import { GATES_FILE_ENV } from './config';
import { fetchWithin } from './fetch';
import { oneLine, safeEvidence, unansweredGate } from './report';

/** Evidence lists at most this many alerts or series (and counts them all). */
const EVIDENCE_ITEMS = 20;
/** A reason names at most this many. */
const REASON_ITEMS = 3;

const labelsSchema = z.record(z.string(), z.string());

const alertsAnswer = z.object({
  status: z.literal('success'),
  data: z.object({
    alerts: z.array(
      z.object({
        labels: labelsSchema,
        state: z.string(),
        activeAt: z.string().optional(),
        value: z.string().optional(),
      }),
    ),
  }),
  warnings: z.array(z.string()).optional(),
});

const queryAnswer = z.object({
  status: z.literal('success'),
  data: z.object({ resultType: z.string(), result: z.unknown() }),
  warnings: z.array(z.string()).optional(),
});

const vectorSchema = z.array(z.object({ metric: labelsSchema, value: z.tuple([z.number(), z.string()]) }));

const errorAnswer = z.object({
  status: z.literal('error'),
  errorType: z.string().optional(),
  error: z.string(),
});

/** How the gate is named in reports: `main alerts{alertname="X",severity="page"}`, `main query`. */
export function prometheusGateName(gate: ResolvedPrometheusGate): string {
  if (gate.mode === 'query') return `${gate.source} query`;
  const matchers = [
    ...(gate.alertname !== undefined ? [['alertname', gate.alertname] as const] : []),
    ...Object.entries(gate.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ].map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return oneLine(`${gate.source} alerts{${matchers.join(',')}}`, 200);
}

export async function checkPrometheusGate(
  config: GatesConfig,
  gate: ResolvedPrometheusGate,
  options: { signal?: AbortSignal } = {},
): Promise<GateResult> {
  const name = prometheusGateName(gate);
  const source = config.prometheus(gate.source);
  if (!source) {
    const configured = config.prometheusNames.length
      ? `configured: ${config.prometheusNames.join(', ')}`
      : `none is configured (${GATES_FILE_ENV})`;
    return unansweredGate(
      'prometheus',
      name,
      `Prometheus source "${gate.source}" is not one this worker may ask (${configured}); name a configured source, or configure it on the worker (docs/gates.md)`,
      { source: gate.source },
    );
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (source.auth) {
    const credential = source.auth.read();
    if (!credential) {
      return unansweredGate(
        'prometheus',
        name,
        `the worker has no credential for Prometheus source "${source.name}": ${source.auth.source} is missing or empty`,
        { source: source.name },
      );
    }
    headers['authorization'] =
      source.auth.scheme === 'Bearer'
        ? `Bearer ${credential}`
        : `Basic ${Buffer.from(credential, 'utf8').toString('base64')}`;
  }
  const path =
    gate.mode === 'alerts' ? '/api/v1/alerts' : `/api/v1/query?query=${encodeURIComponent(gate.query)}`;
  const answer = await fetchWithin(
    `${source.url}${path}`,
    { method: 'GET', headers },
    source.timeoutMs,
    options.signal,
  );
  const base = { source: source.name, mode: gate.mode };
  if (!answer.ok) return unansweredGate('prometheus', name, answer.error, base);
  if (answer.status !== 200)
    return unansweredGate('prometheus', name, statusProblem(answer.status, answer.text), base);
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    return unansweredGate('prometheus', name, `the answer is not JSON: ${oneLine(answer.text, 80)}`, base);
  }
  return gate.mode === 'alerts'
    ? judgeAlerts(name, source, gate, json)
    : judgeQuery(name, source, gate.query, json);
}

function statusProblem(status: number, text: string): string {
  if (status >= 300 && status < 400) {
    return `answered ${status} (a redirect); redirects are never followed — configure the server's final URL on the worker`;
  }
  let said = oneLine(text, 120);
  try {
    const error = errorAnswer.safeParse(JSON.parse(text));
    if (error.success) said = oneLine(`${error.data.errorType ?? 'error'}: ${error.data.error}`, 160);
  } catch {
    // not JSON: the summary of the text stands
  }
  return `answered HTTP ${status}${said ? ` (${said})` : ''}`;
}

function judgeAlerts(
  name: string,
  source: PrometheusSource,
  gate: Extract<ResolvedPrometheusGate, { mode: 'alerts' }>,
  json: unknown,
): GateResult {
  const parsed = alertsAnswer.safeParse(json);
  const base = { source: source.name, mode: 'alerts' };
  if (!parsed.success) {
    return unansweredGate(
      'prometheus',
      name,
      'the answer is not a Prometheus alerts answer (GET /api/v1/alerts)',
      base,
    );
  }
  const matches = (labels: Record<string, string>) =>
    (gate.alertname === undefined || labels['alertname'] === gate.alertname) &&
    Object.entries(gate.labels).every(([label, value]) => labels[label] === value);
  const candidates = parsed.data.data.alerts.filter((alert) => matches(alert.labels));
  const firing = candidates
    .filter((alert) => alert.state === 'firing')
    .sort((a, b) => (a.activeAt ?? '').localeCompare(b.activeAt ?? ''));
  const pending = candidates.filter((alert) => alert.state === 'pending').length;
  const evidence = safeEvidence({
    ...base,
    filter: { alertname: gate.alertname, labels: gate.labels },
    firingCount: firing.length,
    pendingCount: pending,
    firing: firing.slice(0, EVIDENCE_ITEMS).map((alert) => ({
      alertname: alert.labels['alertname'],
      labels: alert.labels,
      activeAt: alert.activeAt,
      value: alert.value,
    })),
    ...(parsed.data.warnings?.length ? { warnings: parsed.data.warnings } : {}),
  });
  if (firing.length === 0) {
    return { kind: 'prometheus', name, open: true, reason: 'open', evidence };
  }
  const named = firing
    .slice(0, REASON_ITEMS)
    .map((alert) => `${alert.labels['alertname'] ?? '(no alertname)'} since ${alert.activeAt ?? 'unknown'}`);
  const more = firing.length > REASON_ITEMS ? `, and ${firing.length - REASON_ITEMS} more` : '';
  const first = firing[0];
  const reason =
    firing.length === 1 && first
      ? `alert ${first.labels['alertname'] ?? '(no alertname)'} firing since ${first.activeAt ?? 'unknown'}`
      : `${firing.length} alerts firing: ${named.join(', ')}${more}`;
  return { kind: 'prometheus', name, open: false, reason: oneLine(reason), evidence };
}

function judgeQuery(name: string, source: PrometheusSource, query: string, json: unknown): GateResult {
  const parsed = queryAnswer.safeParse(json);
  const base = { source: source.name, mode: 'query', query };
  if (!parsed.success) {
    return unansweredGate(
      'prometheus',
      name,
      'the answer is not a Prometheus query answer (GET /api/v1/query)',
      base,
    );
  }
  const { resultType, result } = parsed.data.data;
  const vector = resultType === 'vector' ? vectorSchema.safeParse(result) : undefined;
  if (!vector?.success) {
    return unansweredGate(
      'prometheus',
      name,
      `the query returns a ${resultType}, not an instant vector; write a query that returns series exactly while the gate must block (e.g. sum(rate(http_errors_total[5m])) > 1)`,
      base,
    );
  }
  const series = vector.data;
  const evidence = safeEvidence({
    ...base,
    seriesCount: series.length,
    series: series
      .slice(0, EVIDENCE_ITEMS)
      .map((s) => ({ metric: s.metric, value: s.value[1], at: s.value[0] })),
    ...(parsed.data.warnings?.length ? { warnings: parsed.data.warnings } : {}),
  });
  if (series.length === 0) return { kind: 'prometheus', name, open: true, reason: 'open', evidence };
  const shown = series.slice(0, REASON_ITEMS).map((s) => selector(s.metric));
  const more = series.length > REASON_ITEMS ? `, and ${series.length - REASON_ITEMS} more` : '';
  return {
    kind: 'prometheus',
    name,
    open: false,
    reason: oneLine(`query returned ${series.length} series: ${shown.join(', ')}${more}`),
    evidence,
  };
}

/** `name{label="value",…}`, the way Prometheus prints a series (without its value, which changes). */
function selector(metric: Record<string, string>): string {
  const { __name__: metricName, ...labels } = metric;
  const inner = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, value]) => `${label}=${JSON.stringify(value)}`)
    .join(',');
  return `${metricName ?? ''}{${inner}}`;
}
