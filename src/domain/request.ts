/**
 * The maintenance request: one plain JSON object, the same whether it comes from the typed
 * client, the CLI (`--input run.json`), a Temporal Schedule, or the Temporal UI's Start Workflow
 * form. `validateMaintenanceRequest` is the single validator; the workflow runs it again as its
 * first step, since a raw `temporal workflow start` bypasses every client-side check.
 *
 * Glossary:
 * - store: an AWS KMS custom key store (`cks-` + 17 hex digits), CloudHSM or external (XKS);
 * - window: how long the store stays disconnected for maintenance;
 * - drain: moving callers off the store before it is disconnected (a traffic provider);
 * - canary: a GenerateDataKey + Decrypt round-trip with a key in the store, before traffic returns.
 */
import { z } from 'zod';
import { formatDuration } from './duration';
import { durationSchema } from './duration-schema';
import { freeTextProblem } from './free-text';
import { drainSpecSchema, legacyDrainSpecSchema, type DrainSpec } from './traffic';
import { locationOf, type StoreLocation } from './location';
import { gatesSchema, resolveGates, type ResolvedGates } from './gates';
import { notifySchema, resolveNotify, type ResolvedNotify } from './notifications';
import { probesSchema, resolveProbes, type ResolvedProbes } from './probes';
import { resolveHooks, storeHooksSchema, type ResolvedStoreHooks, type StoreHookPoint } from './hooks';

export type { DrainSpec } from './traffic';
export type { StoreLocation } from './location';

export const CUSTOM_KEY_STORE_ID_PATTERN = /^cks-[0-9a-f]{17}$/;
export const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/;
export const ACCOUNT_ID_PATTERN = /^\d{12}$/;
/** An IAM role name, optionally with its path (`ops/keystore-maint`), as IAM allows them. */
export const ROLE_NAME_PATTERN = /^(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** STS's ExternalId: 2 to 1224 characters of `[\w+=,.@:/-]`. */
export const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const LIMITS = {
  window: { min: 1 * SECOND },
  maxWindow: { default: 24 * HOUR, max: 7 * DAY },
  approvalTimeout: { default: 24 * HOUR, min: 1 * SECOND, max: 7 * DAY },
  disconnectTimeout: { default: 10 * MINUTE, min: 1 * SECOND, max: 24 * HOUR },
  connectTimeout: { default: 30 * MINUTE, min: 1 * SECOND, max: 24 * HOUR },
  pollInterval: { default: 15 * SECOND, min: 100, max: 10 * MINUTE },
  reconnectAttempts: { default: 3, min: 1, max: 10 },
  confirmSettle: { default: 30 * SECOND, min: 1 * SECOND, max: 1 * HOUR },
} as const;

const duration = durationSchema;

/** Free text from a caller: trimmed, bounded, and free of secrets and unstorable characters. */
export const freeText = (max: number) =>
  z
    .string({ error: 'must be a non-empty string' })
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const problem = freeTextProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const text = freeText;

/** Caps shared by the request and the updates (`by` is a requester, `reason` a reason). */
export const TEXT_LIMITS = { actor: 256, reason: 1024, ticket: 256 } as const;

/*
 * The schemas are built on each use and never kept at module level. A workflow's modules are
 * instantiated once per workflow execution (Temporal's sandbox isolates module state per run), so
 * a schema built at load would be held by every cached run for its whole life — about a megabyte
 * each (docs/fleet.md, "Memory"). Built inside validation, it is garbage after the call.
 */
const windowSchema = () =>
  z
    .strictObject(
      {
        duration: duration({ min: LIMITS.window.min, max: LIMITS.maxWindow.max }).optional(),
        until: z.iso
          .datetime({ offset: true, error: 'must be an ISO-8601 timestamp, e.g. 2026-12-06T04:00:00Z' })
          .optional(),
      },
      { error: 'must be { "duration": "2h" } or { "until": "<ISO-8601 timestamp>" }' },
    )
    .refine((w) => (w.duration === undefined) !== (w.until === undefined), {
      message: 'give exactly one of { "duration": "2h" } or { "until": "<ISO-8601 timestamp>" }',
    });

/** An account id, an execution role and its ExternalId: a request's and a fleet location's. */
export const accountIdSchema = () =>
  z
    .string({ error: 'must be a 12-digit AWS account id, as a string' })
    .regex(ACCOUNT_ID_PATTERN, 'must be a 12-digit AWS account id, e.g. "111122223333"');
export const executionRoleSchema = () =>
  z
    .string({ error: 'must be an IAM role name' })
    .regex(
      ROLE_NAME_PATTERN,
      'must be an IAM role name (optionally with its path), e.g. "KeystoreMaintExecution"',
    );
export const externalIdSchema = () =>
  z
    .string({ error: 'must be a string' })
    .regex(EXTERNAL_ID_PATTERN, 'must be 2 to 1224 characters of letters, digits and +=,.@:/-_');

/** The request's schema, built anew on each call (see above). */
export const maintenanceRequestSchema = () =>
  z.strictObject({
    customKeyStoreId: z
      .string({ error: 'must be a string, e.g. "cks-1234567890abcdef0"' })
      .regex(CUSTOM_KEY_STORE_ID_PATTERN, 'must be a custom key store id: "cks-" followed by 17 hex digits'),
    region: z.string().regex(REGION_PATTERN, 'must be an AWS Region code such as us-east-1').optional(),
    /**
     * The account that owns the store. Absent: the account of the worker's own credentials. With
     * `executionRole`, the worker assumes that role in this account for every KMS call of the run.
     */
    account: accountIdSchema().optional(),
    executionRole: executionRoleSchema().optional(),
    externalId: externalIdSchema().optional(),
    window: windowSchema(),
    maxWindow: duration({ min: LIMITS.window.min, max: LIMITS.maxWindow.max }).optional(),
    reason: text(TEXT_LIMITS.reason),
    requestedBy: text(TEXT_LIMITS.actor),
    ticket: text(TEXT_LIMITS.ticket).optional(),
    approval: z
      .strictObject({
        required: z.boolean({ error: 'must be true or false' }),
        timeout: duration(LIMITS.approvalTimeout).optional(),
      })
      .optional(),
    drain: drainSpecSchema().optional(),
    canaryKeyId: z
      .string()
      .min(1)
      .max(2048)
      .regex(/^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/)?[0-9a-f-]{36}$|^mrk-[0-9a-f]{32}$/, {
        message: 'must be a key id (UUID) or key ARN of a key in the store',
      })
      .optional(),
    timeouts: z
      .strictObject({
        disconnect: duration(LIMITS.disconnectTimeout).optional(),
        connect: duration(LIMITS.connectTimeout).optional(),
      })
      .optional(),
    reconnectAttempts: z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(LIMITS.reconnectAttempts.min)
      .max(LIMITS.reconnectAttempts.max)
      .optional(),
    pollInterval: duration(LIMITS.pollInterval).optional(),
    /**
     * How long every DescribeCustomKeyStores read must agree before a state counts as confirmed
     * (the confirmation rule, docs/architecture.md): above KMS's eventual-consistency lag.
     */
    confirmSettle: duration(LIMITS.confirmSettle).optional(),
    dryRun: z.boolean().optional(),
    allowAlreadyDisconnected: z.boolean().optional(),
    /** Readiness probes before the store is taken down and before it is connected (docs/probes.md). */
    probes: probesSchema().optional(),
    /** Conditions checked before traffic is drained: alarms, alerts, HTTP gates (docs/probes.md). */
    gates: gatesSchema().optional(),
    /** HTTP calls at named points, to hooks configured on the worker by name (docs/hooks.md). */
    hooks: storeHooksSchema().optional(),
    /** Messages as the run moves, to destinations configured on the worker by name (docs/notifications.md). */
    notify: notifySchema().optional(),
  });

/**
 * The request as runs started before webhook controllers moved to the worker wrote it (a URL in
 * `drain`). Only for those runs' replay: `validateMaintenanceRequest(..., { legacyWebhook: true })`.
 */
const legacyMaintenanceRequestSchema = () =>
  maintenanceRequestSchema().extend({
    drain: legacyDrainSpecSchema().optional(),
  });

/** The request as callers write it (durations as strings). */
export type MaintenanceRequest = z.input<ReturnType<typeof maintenanceRequestSchema>>;

/** The request after validation: every default applied, every duration in milliseconds. */
export interface ResolvedMaintenanceRequest {
  readonly customKeyStoreId: string;
  readonly region: string | undefined;
  /** Where the store is and as whom the worker calls KMS there (docs/fleet.md, "Locations"). */
  readonly location: StoreLocation;
  readonly window: { readonly durationMs: number } | { readonly untilMs: number };
  readonly maxWindowMs: number;
  readonly reason: string;
  readonly requestedBy: string;
  readonly ticket: string | undefined;
  readonly approval: { readonly required: boolean; readonly timeoutMs: number };
  readonly drain: DrainSpec;
  readonly canaryKeyId: string | undefined;
  readonly timeouts: { readonly disconnectMs: number; readonly connectMs: number };
  readonly reconnectAttempts: number;
  readonly pollIntervalMs: number;
  readonly confirmSettleMs: number;
  readonly dryRun: boolean;
  readonly allowAlreadyDisconnected: boolean;
  /** Absent: no probes (a run connects as soon as its window ends). */
  readonly probes?: ResolvedProbes;
  /** Absent: no gates. */
  readonly gates?: ResolvedGates;
  /** Absent: no hooks (no hook activity is ever scheduled). */
  readonly hooks?: ResolvedStoreHooks;
  /** Absent: no notifications (no notification activity is ever scheduled). */
  readonly notify?: ResolvedNotify;
}

export type ValidationResult =
  | { readonly ok: true; readonly request: ResolvedMaintenanceRequest }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * `null` means "absent", at any depth: a Python dataclass or a Go struct with pointer fields sends
 * `null` for what it leaves unset, and a required field sent as `null` is then reported as missing.
 * (docs/contract.md)
 */
export function withoutNulls(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 16) return value;
  if (Array.isArray(value)) return value.map((item) => withoutNulls(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (member !== null) copy[key] = withoutNulls(member, depth + 1);
  }
  return copy;
}

/**
 * Validates a request as received (any JSON) at time `nowMs` (the workflow's clock inside a
 * workflow). Every problem is reported, each naming its field and what is allowed. Members that
 * are `null` count as absent (`withoutNulls`).
 */
export function validateMaintenanceRequest(
  input: unknown,
  nowMs: number,
  options: { readonly legacyWebhook?: boolean } = {},
): ValidationResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      problems: [
        'the request must be one JSON object, e.g. {"customKeyStoreId": "cks-…", "window": {"duration": "2h"}, …}',
      ],
    };
  }
  const given = withoutNulls(input) as Record<string, unknown>;
  const schema = options.legacyWebhook ? legacyMaintenanceRequestSchema() : maintenanceRequestSchema();
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => formatIssue(issue, given, schema)) };
  }
  const r = parsed.data;
  const problems: string[] = [];
  if (r.executionRole !== undefined && r.account === undefined) {
    problems.push(
      'executionRole: needs "account", the account the role is in (the role assumed is arn:<partition>:iam::<account>:role/<executionRole>)',
    );
  }
  if (r.externalId !== undefined && r.executionRole === undefined) {
    problems.push('externalId: is only used to assume "executionRole"; give the role too, or drop it');
  }
  const maxWindowMs = r.maxWindow ?? LIMITS.maxWindow.default;
  let window: ResolvedMaintenanceRequest['window'];
  if (r.window.duration !== undefined) {
    window = { durationMs: r.window.duration };
    if (r.window.duration > maxWindowMs) {
      problems.push(
        `window.duration: ${formatDuration(r.window.duration)} is longer than maxWindow ${formatDuration(maxWindowMs)}; shorten the window or raise maxWindow (at most ${formatDuration(LIMITS.maxWindow.max)})`,
      );
    }
  } else {
    const until = r.window.until ?? '';
    const untilMs = Date.parse(until);
    window = { untilMs };
    if (untilMs <= nowMs + LIMITS.window.min) {
      problems.push(`window.until: ${until} is not in the future; give a later time`);
    } else if (untilMs - nowMs > maxWindowMs) {
      problems.push(
        `window.until: ${until} is more than maxWindow (${formatDuration(maxWindowMs)}) from now; choose an earlier end or raise maxWindow`,
      );
    }
  }
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    request: {
      customKeyStoreId: r.customKeyStoreId,
      region: r.region,
      location: locationOf(r),
      window,
      maxWindowMs,
      reason: r.reason,
      requestedBy: r.requestedBy,
      ticket: r.ticket,
      approval: {
        required: r.approval?.required ?? false,
        timeoutMs: r.approval?.timeout ?? LIMITS.approvalTimeout.default,
      },
      drain: r.drain ?? { provider: 'none' },
      canaryKeyId: r.canaryKeyId,
      timeouts: {
        disconnectMs: r.timeouts?.disconnect ?? LIMITS.disconnectTimeout.default,
        connectMs: r.timeouts?.connect ?? LIMITS.connectTimeout.default,
      },
      reconnectAttempts: r.reconnectAttempts ?? LIMITS.reconnectAttempts.default,
      pollIntervalMs: r.pollInterval ?? LIMITS.pollInterval.default,
      confirmSettleMs: r.confirmSettle ?? LIMITS.confirmSettle.default,
      dryRun: r.dryRun ?? false,
      allowAlreadyDisconnected: r.allowAlreadyDisconnected ?? false,
      ...(r.probes ? { probes: resolveProbes(r.probes) } : {}),
      ...(r.gates ? { gates: resolveGates(r.gates) } : {}),
      ...(r.hooks ? { hooks: resolveHooks<StoreHookPoint>(r.hooks) } : {}),
      ...(r.notify ? { notify: resolveNotify(r.notify) } : {}),
    },
  };
}

function formatIssue(issue: z.core.$ZodIssue, input: object, schema: z.ZodType): string {
  const field = issue.path.map(String).join('.') || '(request)';
  if (issue.code === 'unrecognized_keys') {
    return `${field === '(request)' ? '' : `${field}: `}unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed: ${allowedKeys(schema, issue.path)}`;
  }
  if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
    return `${field}: is required (${issue.message})`;
  }
  return `${field}: ${issue.message}`;
}

function allowedKeys(schema: z.ZodType, path: readonly PropertyKey[]): string {
  let shape: z.ZodType = schema;
  for (const key of path) {
    const inner = unwrap(shape);
    if (!(inner instanceof z.ZodObject)) return '(see docs/starting-runs.md)';
    const next = (inner.shape as Record<string, z.ZodType>)[String(key)];
    if (!next) return '(see docs/starting-runs.md)';
    shape = next;
  }
  const inner = unwrap(shape);
  if (inner instanceof z.ZodObject) return Object.keys(inner.shape).join(', ');
  return '(see docs/starting-runs.md)';
}

function unwrap(schema: z.ZodType): z.ZodType {
  return schema instanceof z.ZodOptional ? unwrap(schema.unwrap() as z.ZodType) : schema;
}

function valueAt(input: object, path: readonly PropertyKey[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
