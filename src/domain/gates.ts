/**
 * Gates (docs/gates.md): conditions that must hold before a run drains traffic — and, in a fleet,
 * before each store — because taking a key store down while its callers are already in trouble
 * turns an incident into an outage. Each gate is open or blocked:
 *
 * - `cloudWatchAlarms`: CloudWatch alarms named, or named with a prefix, in the store's account
 *   and Region. Blocked while any of them is in `ALARM`, and when a named alarm does not exist (a
 *   typo must not quietly disable a gate).
 * - `prometheus`: a Prometheus server configured on the worker by name (`source`), asked either
 *   for its alerts (blocked while any `firing` alert matches `alertname` and `labels`; `pending`
 *   ones do not block) or an instant `query` (blocked while it returns any series).
 * - `http`: a service configured on the worker by name answers `{"open": true|false}`.
 *
 * A gate that cannot be asked (unreachable, refused, a timeout, an answer that makes no sense) is
 * blocked: gates fail closed. A blocked gate refuses the run (`onBlocked: "refuse"`, the default)
 * or is checked again every `checkEvery` for at most `waitUpTo` (`"wait"`).
 *
 * Requests never carry a URL or a credential, only names the worker's configuration resolves
 * (src/gates/config.ts): whoever can start a run cannot make the worker call a server of their
 * choosing.
 */
import { z } from 'zod';
import { durationSchema } from './duration-schema';
import { freeTextProblem } from './free-text';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const GATE_LIMITS = {
  waitUpTo: { default: 30 * MINUTE, min: 1 * SECOND, max: 24 * HOUR },
  checkEvery: { default: 1 * MINUTE, min: 5 * SECOND, max: 1 * HOUR },
  /** DescribeAlarms takes at most 100 names. */
  alarmNames: 100,
  /** CloudWatch alarm names and prefixes: 1 to 255 characters. */
  alarmName: 255,
  prometheusGates: 10,
  httpGates: 10,
  labels: 20,
  labelValue: 1024,
  query: 4096,
} as const;

/** A worker-side source or gate name, as webhook controller names are spelled. */
export const GATE_SOURCE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Prometheus's label names. */
export const PROMETHEUS_LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const GATE_KINDS = ['cloudWatchAlarms', 'prometheus', 'http'] as const;
export type GateKind = (typeof GATE_KINDS)[number];

/** Text that ends up in the history and the audit trail: bounded, and checked like free text. */
const gateText = (max: number, what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const problem = freeTextProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const sourceName = (what: string) =>
  z
    .string({ error: `must be the name of ${what} configured on the worker` })
    .regex(
      GATE_SOURCE_NAME_PATTERN,
      `must be the name of ${what} configured on the worker (lower-case letters, digits, ".", "_", "-"), e.g. "main"`,
    );

const alarmName = () => gateText(GATE_LIMITS.alarmName, 'a CloudWatch alarm name');

const cloudWatchAlarmsSchema = () =>
  z
    .strictObject(
      {
        names: z
          .array(alarmName(), { error: 'must be a list of alarm names' })
          .min(1, 'list at least one alarm name, or leave "names" out')
          .max(GATE_LIMITS.alarmNames, `at most ${GATE_LIMITS.alarmNames} alarm names`)
          .refine((list) => new Set(list).size === list.length, 'lists an alarm twice')
          .optional(),
        prefix: alarmName().optional(),
      },
      { error: 'must be { "names": ["…"] } and/or { "prefix": "…" }' },
    )
    .refine((c) => c.names !== undefined || c.prefix !== undefined, {
      message: 'give "names" (a list of alarm names), "prefix" (an alarm name prefix), or both',
    });

const prometheusGateSchema = () =>
  z
    .strictObject({
      source: sourceName('a Prometheus source'),
      alerts: z
        .strictObject(
          {
            alertname: gateText(256, 'an alert name').optional(),
            labels: z
              .record(
                z.string(),
                z
                  .string({ error: 'label values are strings' })
                  .max(
                    GATE_LIMITS.labelValue,
                    `label values are at most ${GATE_LIMITS.labelValue} characters`,
                  )
                  .superRefine((value, ctx) => {
                    const problem = freeTextProblem(value);
                    if (problem) ctx.addIssue({ code: 'custom', message: problem });
                  }),
                { error: 'must be an object of label names to values, e.g. {"severity": "page"}' },
              )
              .superRefine((labels, ctx) => {
                const names = Object.keys(labels);
                if (names.length > GATE_LIMITS.labels) {
                  ctx.addIssue({ code: 'custom', message: `at most ${GATE_LIMITS.labels} labels` });
                }
                for (const name of names.filter((n) => !PROMETHEUS_LABEL_NAME_PATTERN.test(n))) {
                  ctx.addIssue({
                    code: 'custom',
                    path: [name],
                    message: 'label names are [a-zA-Z_][a-zA-Z0-9_]*',
                  });
                }
              })
              .optional(),
          },
          { error: 'must be { "alertname"?: "…", "labels"?: {…} } ({} matches every firing alert)' },
        )
        .optional(),
      query: gateText(GATE_LIMITS.query, 'a PromQL instant query').optional(),
    })
    .refine((g) => (g.alerts === undefined) !== (g.query === undefined), {
      message:
        'give exactly one of "alerts" (blocked while a matching alert fires) or "query" (blocked while the query returns any series)',
    });

const httpGateSchema = () => z.strictObject({ gate: sourceName('an HTTP gate') });

/** The request's `gates` member (built per validation, like every request schema; src/domain/request.ts). */
export const gatesSchema = () =>
  z
    .strictObject({
      onBlocked: z.enum(['refuse', 'wait'], { error: 'must be "refuse" (the default) or "wait"' }).optional(),
      waitUpTo: durationSchema(GATE_LIMITS.waitUpTo).optional(),
      checkEvery: durationSchema(GATE_LIMITS.checkEvery).optional(),
      cloudWatchAlarms: cloudWatchAlarmsSchema().optional(),
      prometheus: z
        .array(prometheusGateSchema(), { error: 'must be a list of Prometheus gates' })
        .min(1, 'list at least one Prometheus gate, or leave "prometheus" out')
        .max(GATE_LIMITS.prometheusGates, `at most ${GATE_LIMITS.prometheusGates} Prometheus gates`)
        .optional(),
      http: z
        .array(httpGateSchema(), { error: 'must be a list of HTTP gates, e.g. [{"gate": "change-freeze"}]' })
        .min(1, 'list at least one HTTP gate, or leave "http" out')
        .max(GATE_LIMITS.httpGates, `at most ${GATE_LIMITS.httpGates} HTTP gates`)
        .refine((list) => new Set(list.map((g) => g.gate)).size === list.length, 'names a gate twice')
        .optional(),
    })
    .superRefine((g, ctx) => {
      if (g.cloudWatchAlarms === undefined && g.prometheus === undefined && g.http === undefined) {
        ctx.addIssue({
          code: 'custom',
          message:
            'name at least one gate: "cloudWatchAlarms", "prometheus" or "http" (or leave "gates" out)',
        });
      }
      if (g.waitUpTo !== undefined && g.onBlocked !== 'wait') {
        ctx.addIssue({
          code: 'custom',
          path: ['waitUpTo'],
          message: 'only applies with "onBlocked": "wait"; add it, or leave "waitUpTo" out',
        });
      }
    });

/** `gates` as callers write it (durations as strings). */
export type GatesInput = z.input<ReturnType<typeof gatesSchema>>;
/** `gates` after the schema (durations in milliseconds, defaults not yet applied). */
export type ParsedGates = z.output<ReturnType<typeof gatesSchema>>;

export type ResolvedPrometheusGate =
  | {
      readonly source: string;
      readonly mode: 'alerts';
      readonly alertname: string | undefined;
      readonly labels: Readonly<Record<string, string>>;
    }
  | { readonly source: string; readonly mode: 'query'; readonly query: string };

/** The gates with every default applied and every duration in milliseconds. */
export interface ResolvedGates {
  readonly onBlocked: 'refuse' | 'wait';
  /** 0 with `refuse`: no waiting. */
  readonly waitUpToMs: number;
  readonly checkEveryMs: number;
  readonly cloudWatchAlarms:
    { readonly names: readonly string[]; readonly prefix: string | undefined } | undefined;
  readonly prometheus: readonly ResolvedPrometheusGate[];
  readonly http: readonly { readonly gate: string }[];
}

export function resolveGates(g: ParsedGates): ResolvedGates {
  const onBlocked = g.onBlocked ?? 'refuse';
  return {
    onBlocked,
    waitUpToMs: onBlocked === 'wait' ? (g.waitUpTo ?? GATE_LIMITS.waitUpTo.default) : 0,
    checkEveryMs: g.checkEvery ?? GATE_LIMITS.checkEvery.default,
    cloudWatchAlarms: g.cloudWatchAlarms
      ? { names: g.cloudWatchAlarms.names ?? [], prefix: g.cloudWatchAlarms.prefix }
      : undefined,
    prometheus: (g.prometheus ?? []).map((p): ResolvedPrometheusGate =>
      p.query !== undefined
        ? { source: p.source, mode: 'query', query: p.query }
        : {
            source: p.source,
            mode: 'alerts',
            alertname: p.alerts?.alertname,
            labels: { ...(p.alerts?.labels ?? {}) },
          },
    ),
    http: (g.http ?? []).map((h) => ({ gate: h.gate })),
  };
}

/** What one check of one gate found. */
export interface GateResult {
  readonly kind: GateKind;
  /** Which gate, in words: `alarms payments-5xx, prefix orders-`, `main alerts{severity="page"}`. */
  readonly name: string;
  readonly open: boolean;
  /** What was seen, for the audit trail; never a secret. */
  readonly evidence: Record<string, unknown>;
  /**
   * One stable phrase: why it is blocked ("alarm payments-5xx in ALARM since …"), or "open". The
   * report's summary is made of these, so it changes only when something that matters does.
   */
  readonly reason: string;
  /** Why the gate could not be asked (it is then blocked). */
  readonly error?: string;
}

export interface GateReport {
  /** Every gate open. */
  readonly open: boolean;
  readonly checkedAt: string;
  /** A short sentence; equal sentences mean nothing that matters changed. */
  readonly summary: string;
  readonly gates: readonly GateResult[];
}
