/**
 * What runs report, as zod schemas: a maintenance run's `status` query answer and result, and a
 * fleet's. They describe the interfaces in status.ts and fleet.ts for callers in other languages
 * (the JSON Schema files under schema/, scripts/generate-schemas.ts); nothing parses with them at
 * run time.
 *
 * The compiler proves that each schema and its interface describe the same JSON (the assertions
 * at the end of this file): changing one without the other fails `tsc`.
 */
import { z } from 'zod';
import type { AuditEvent } from './audit-event';
import { CONNECTION_STATES, KEY_STORE_TYPES } from './connection-state';
import { FLEET_OUTCOMES, type FleetResult, type FleetStatus } from './fleet';
import { END_STATES, PHASES } from './phases';
import type { MaintenanceResult, MaintenanceStatus } from './status';

/** A point in time as the workflow writes it: ISO-8601 in UTC, e.g. `2026-12-06T02:00:00.000Z`. */
export const timestampSchema = z.string().meta({ format: 'date-time' });

const count = z.number().int().min(0);
const record = z.record(z.string(), z.unknown());

export const runPhaseSchema = z.enum([...PHASES, ...END_STATES]);
export const endStateSchema = z.enum(END_STATES);

export const phaseSpanSchema = z.object({
  phase: runPhaseSchema,
  startedAt: timestampSchema,
  endedAt: timestampSchema.optional(),
});

export const connectionErrorReportSchema = z.object({
  code: z.string().meta({ description: 'The ConnectionErrorCode KMS reported.' }),
  meaning: z.string(),
  action: z.string().meta({ description: 'What the operator should do next.' }),
});

const readinessReportSchema = z.object({
  ready: z.boolean(),
  checkedAt: timestampSchema,
  summary: z.string(),
  probes: z.array(
    z.object({
      probe: z.enum(['xksHealth', 'cloudHsmCluster']),
      status: z.enum(['healthy', 'unhealthy', 'unreachable', 'error']),
      summary: z.string(),
      evidence: record,
    }),
  ),
});

export const readinessStatusSchema = z
  .object({
    preflight: readinessReportSchema.optional(),
    last: readinessReportSchema.optional(),
    waiting: z.object({ since: timestampSchema, until: timestampSchema }).optional(),
    forced: z.object({ by: z.string(), at: timestampSchema }).optional(),
  })
  .meta({
    description: 'What the readiness probes said (docs/probes.md); present when the request has probes.',
  });

export const gatesStatusSchema = z
  .object({
    last: z
      .object({
        open: z.boolean(),
        checkedAt: timestampSchema,
        summary: z.string(),
        gates: z.array(
          z.object({
            kind: z.enum(['cloudWatchAlarms', 'prometheus', 'http']),
            name: z.string(),
            open: z.boolean(),
            evidence: record,
            reason: z.string(),
            error: z.string().optional(),
          }),
        ),
      })
      .optional(),
    waiting: z.object({ since: timestampSchema, until: timestampSchema }).optional(),
  })
  .meta({ description: 'What the gates said before the drain; present when the request has gates.' });

const hookReportSchema = z.object({
  hook: z.string().meta({ description: 'The name of the hook on the worker.' }),
  at: timestampSchema,
  decision: z.enum(['allowed', 'vetoed', 'proceeded', 'ok', 'failed']),
  answered: z.boolean(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  error: z.string().optional().meta({ description: 'Why there is no usable answer.' }),
  attempts: count,
  elapsedMs: count,
});

export const hooksStatusSchema = z
  .object({
    beforeDrain: hookReportSchema.optional(),
    afterRestore: hookReportSchema.optional(),
    onNeedsAttention: hookReportSchema.optional(),
  })
  .meta({ description: "What each point's hook did (docs/hooks.md); present when the request has hooks." });

export const notificationsStatusSchema = z
  .object({
    sent: count,
    failed: count,
    skipped: count.meta({ description: "Not wanted by the destination's own events filter on the worker." }),
    pending: count.meta({ description: 'Deliveries still being tried.' }),
    lastProblem: z.string().optional(),
  })
  .meta({
    description:
      'What became of the notifications (docs/notifications.md); present when the request has notify.',
  });

export const fleetHooksStatusSchema = z
  .object({ beforeFleet: hookReportSchema.optional(), afterFleet: hookReportSchema.optional() })
  .meta({
    description: "What the fleet's hooks did (docs/hooks.md); present when the fleet request has hooks.",
  });

export const drainPlanSchema = z.discriminatedUnion('provider', [
  z.object({ provider: z.literal('none') }),
  z.object({
    provider: z.literal('alias'),
    fallbackKeyId: z.string(),
    aliases: z.array(z.object({ aliasName: z.string(), originalTargetKeyId: z.string() })),
  }),
  z.object({
    provider: z.literal('webhook'),
    controller: z.string().optional(),
    url: z.string(),
    statusUrl: z.string(),
  }),
]);

export const drainRecordSchema = z.object({
  provider: z.enum(['none', 'alias', 'webhook']),
  drainedAt: timestampSchema,
  changes: z.array(record),
});

export const auditReportSchema = z.object({
  written: count.meta({ description: 'Events the sink has stored (or set aside with a marker).' }),
  unwritten: count.meta({ description: 'Events not stored yet: a write under way, or the sink failing.' }),
  failures: count.meta({ description: 'Writes that failed (each is retried with the next batch).' }),
  refused: count.meta({
    description: 'Events the sink refused; an `audit.refused` marker took their place.',
  }),
  lastProblem: z.string().optional(),
});

export const kmsCallDetailSchema = z.object({
  operation: z.string(),
  requestId: z.string().optional(),
  result: z.string().optional(),
});

export const auditEventSchema = z.object({
  schemaVersion: z.number().int(),
  workflowId: z.string(),
  runId: z.string(),
  seq: z.number().int().min(1),
  at: timestampSchema,
  phase: z.string(),
  action: z.string(),
  actor: z.string(),
  detail: z.looseObject({ kms: kmsCallDetailSchema.optional() }),
  outcome: z.enum(['ok', 'failed', 'refused', 'skipped', 'info']),
  error: z.object({ type: z.string(), message: z.string() }).optional(),
});

export const planStepSchema = z.object({
  phase: runPhaseSchema,
  description: z.string(),
  kmsOperations: z.array(z.string()),
});

const who = z.object({ by: z.string(), reason: z.string(), at: timestampSchema });

export const maintenanceStatusSchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  customKeyStoreId: z.string(),
  region: z.string().optional(),
  phase: runPhaseSchema,
  outcome: endStateSchema.optional(),
  dryRun: z.boolean(),
  requestedBy: z.string().optional(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  timeline: z.array(phaseSpanSchema),
  window: z.object({
    startedAt: timestampSchema.optional(),
    endsAt: timestampSchema.optional(),
    latestEnd: timestampSchema
      .meta({ description: 'The latest end that extensions may reach (start + maxWindow).' })
      .optional(),
  }),
  store: z.object({
    type: z.enum(KEY_STORE_TYPES).optional(),
    name: z.string().optional(),
    lastObservedState: z.enum(CONNECTION_STATES).optional(),
    lastObservedAt: timestampSchema.optional(),
    changedSinceObserved: z
      .literal(true)
      .meta({
        description:
          'Present (true) when the run changed, or may have changed, the store after its last read: the state now is unknown to the run.',
      })
      .optional(),
    connectionErrorCode: z.string().optional(),
  }),
  connectAttempts: count,
  approval: z.object({
    required: z.boolean(),
    approvedBy: z.string().optional(),
    approvedAt: timestampSchema.optional(),
  }),
  extensions: z.array(z.object({ by: z.string(), at: timestampSchema, newEnd: timestampSchema })),
  windowEndedEarlyBy: z.string().optional(),
  abort: who.optional(),
  drainPlan: drainPlanSchema.optional(),
  drain: drainRecordSchema.optional(),
  trafficRestored: z.boolean(),
  trafficRestore: z.object({ restored: z.array(record), leftAlone: z.array(record) }).optional(),
  connectionError: connectionErrorReportSchema.optional(),
  failure: z
    .object({ type: z.string(), message: z.string() })
    .meta({
      description:
        'FAILED runs: the stable type of what ended the run (e.g. GateBlocked, PreflightRefused, KeyStoreConnectFailed; Error when untyped) and its message.',
    })
    .optional(),
  readiness: readinessStatusSchema.optional(),
  gates: gatesStatusSchema.optional(),
  hooks: hooksStatusSchema.optional(),
  notifications: notificationsStatusSchema.optional(),
  message: z.string().meta({ description: 'One line for humans: what is happening, or how the run ended.' }),
  audit: auditReportSchema,
  events: z.array(auditEventSchema),
});

export const maintenanceResultSchema = maintenanceStatusSchema.extend({
  outcome: endStateSchema,
  plan: z
    .array(planStepSchema)
    .meta({ description: 'Only in a dry run: what a real run would do.' })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Fleets

const FLEET_STORE_STATES = ['PENDING', 'RUNNING', ...END_STATES, 'SKIPPED'] as const;
const FLEET_PHASES = [
  'RESOLVING',
  'RUNNING',
  'STOPPING',
  'ABORTING',
  'CONTINUING',
  ...FLEET_OUTCOMES,
  'FAILED',
] as const;

const accountSchema = z.string().meta({ description: 'A 12-digit AWS account id.' });

export const fleetStoreProgressSchema = z.object({
  customKeyStoreId: z.string(),
  account: accountSchema.optional(),
  region: z.string().optional(),
  location: count.optional().meta({ description: 'Index of the store\'s entry in "locations".' }),
  name: z.string().optional(),
  workflowId: z.string().meta({ description: "The store's canonical maintenance workflow id." }),
  state: z.enum(FLEET_STORE_STATES),
  runId: z.string().optional(),
  startedAt: timestampSchema.optional(),
  endedAt: timestampSchema.optional(),
  message: z.string().optional(),
  errorType: z.string().optional(),
  connectionErrorCode: z.string().optional(),
});

const fleetCountsSchema = z.object({
  total: count,
  pending: count,
  running: count,
  completed: count,
  errors: count,
  skipped: count,
});

export const fleetStatusSchema = z.object({
  workflowId: z.string(),
  runId: z.string(),
  continuedAsNew: count,
  phase: z.enum(FLEET_PHASES),
  outcome: z.enum(FLEET_OUTCOMES).optional(),
  region: z.string().optional(),
  selection: z
    .discriminatedUnion('kind', [
      z.object({ kind: z.literal('stores'), storeIds: z.array(z.string()) }),
      z.object({ kind: z.literal('pattern'), namePattern: z.string() }),
      z.object({ kind: z.literal('locations'), locations: count, targets: count }),
    ])
    .optional(),
  maxConcurrency: count,
  maxErrors: count,
  requestedBy: z.string().optional(),
  reason: z.string().optional(),
  startedAt: timestampSchema,
  endedAt: timestampSchema.optional(),
  counts: fleetCountsSchema,
  abort: who.optional(),
  hooks: fleetHooksStatusSchema.optional(),
  message: z.string(),
  stores: z.array(fleetStoreProgressSchema),
  targets: z
    .array(
      z.object({
        location: count,
        account: accountSchema.optional(),
        region: z.string(),
        roleArn: z.string().optional(),
        state: z.enum(['LISTING', 'READY', 'FAILED']),
        stores: count,
        message: z.string().optional(),
        errorType: z.string().optional(),
      }),
    )
    .optional()
    .meta({
      description: 'Fleets with "locations": each account-Region and whether its stores could be listed.',
    }),
  locations: z
    .array(
      z.object({
        location: count,
        accounts: z.array(accountSchema),
        regions: z.array(z.string()),
        maxConcurrency: count.optional(),
        maxErrors: count.optional(),
        failedTargets: count,
        stopped: z.boolean(),
        counts: fleetCountsSchema,
      }),
    )
    .optional()
    .meta({ description: 'Fleets with "locations": the progress of each location.' }),
});

export const fleetResultSchema = fleetStatusSchema.extend({ outcome: z.enum(FLEET_OUTCOMES) });

// ---------------------------------------------------------------------------------------------
// Proof that the schemas and the interfaces describe the same JSON

/**
 * A type as its JSON travels: `readonly` dropped, and a property whose type admits `undefined`
 * optional (JSON has no `undefined`: such a property is simply absent). Recursive, and
 * distributive over unions.
 */
export type Wire<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends readonly (infer E)[]
    ? Wire<E>[]
    : T extends object
      ? Flat<
          {
            -readonly [K in keyof T as undefined extends T[K] ? never : K]: Wire<T[K]>;
          } & {
            -readonly [K in keyof T as undefined extends T[K] ? K : never]?: Wire<Exclude<T[K], undefined>>;
          }
        >
      : T;

type Flat<T> = { [K in keyof T]: T[K] };

/** True only when A and B are the same type (not merely assignable to each other). */
export type Same<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;

/** Whether A is assignable to B. */
export type Extends<A, B> = [A] extends [B] ? true : false;

type Both<A extends boolean, B extends boolean> = [A, B] extends [true, true] ? true : false;

/**
 * Both ways: each is assignable to the other, and they are the same type once both are on the
 * wire (assignability alone would let an optional property be missing on either side).
 */
export type Matches<Interface, Schema extends z.ZodType> = Both<
  Both<Extends<Wire<Interface>, Wire<z.output<Schema>>>, Extends<Wire<z.output<Schema>>, Wire<Interface>>>,
  Same<Wire<Interface>, Wire<z.output<Schema>>>
>;

/** Fails to compile unless its argument is `true`. */
export type Assert<T extends true> = T;

// If one of these fails, a schema above and its interface (status.ts, fleet.ts, audit-event.ts)
// no longer describe the same JSON: change both, then `npm run schema`.
export type _StatusMatches = Assert<Matches<MaintenanceStatus, typeof maintenanceStatusSchema>>;
export type _ResultMatches = Assert<Matches<MaintenanceResult, typeof maintenanceResultSchema>>;
export type _AuditEventMatches = Assert<Matches<AuditEvent, typeof auditEventSchema>>;
export type _FleetStatusMatches = Assert<Matches<FleetStatus, typeof fleetStatusSchema>>;
export type _FleetResultMatches = Assert<Matches<FleetResult, typeof fleetResultSchema>>;
