/**
 * Fleet maintenance: many custom key stores maintained in rolling waves, like an SSM maintenance
 * window with MaxConcurrency and MaxErrors. The request, its validation, how a name pattern
 * selects stores, and what the fleet reports. Pure and deterministic: the fleet workflow
 * validates its own input with it, and the store-listing activity matches names with it.
 *
 * - `stores` (ids, run in the given order) or `namePattern` (a glob such as `prod-*`, matched
 *   against the whole CustomKeyStoreName; resolved once, when the fleet starts, and run in name
 *   order);
 * - `request`: the maintenance request every store gets (without `customKeyStoreId`, `region`,
 *   `requestedBy` and `reason`, which the fleet supplies);
 * - `maxConcurrency` (default 1: strictly one store after another);
 * - `maxErrors` (default 0): how many runs may end other than `COMPLETED` before the fleet stops
 *   starting new ones — SSM's rule: with 0 the first failure stops the wave, with 2 the third does.
 *   Runs already under way are never interrupted by this; they finish.
 * - or `locations` (instead of `stores`/`namePattern`/`region`), for stores in many accounts and
 *   Regions, like SSM Automation's `TargetLocations`: each location names accounts, Regions, the
 *   execution role to assume in each account, which stores (ids, a name pattern, or all), and its
 *   own `maxConcurrency` and `maxErrors`; the top-level limits then bound the whole fleet. One
 *   account-Region of a location is a *target*: the unit of KMS's quotas and of the fleet's report.
 */
import { fleetHooksSchema, resolveHooks, type FleetHooksStatus, type ResolvedFleetHooks } from './hooks';
import { z } from 'zod';
import { FAILURE_TYPES } from './errors';
import type { EndState } from './phases';
import { accountLabel, executionRoleArn, type StoreLocation } from './location';
import {
  accountIdSchema,
  CUSTOM_KEY_STORE_ID_PATTERN,
  executionRoleSchema,
  externalIdSchema,
  freeText as text,
  maintenanceRequestSchema,
  withoutNulls,
  REGION_PATTERN,
  validateMaintenanceRequest,
  type MaintenanceRequest,
} from './request';

export const FLEET_LIMITS = {
  stores: { max: 5_000 },
  locations: { max: 50 },
  /** Account-Regions (targets) over all locations together. */
  targets: { max: 500 },
  maxConcurrency: { default: 1, min: 1, max: 1_000 },
  maxErrors: { default: 0, min: 0 },
  /**
   * Stores started per workflow run before the fleet continues as new (the history of one run
   * holds every child's start and result, a few KB each). Temporal's own suggestion
   * (`continueAsNewSuggested`) also triggers it.
   */
  continueAsNewAfterStores: { default: 250, min: 1, max: 1_000 },
} as const;

/** Failure types of the fleet workflow (stable: alerts and clients match on them). */
export const FLEET_FAILURE_TYPES = {
  /** The fleet request is invalid; the message names every bad field. Nothing was started. */
  invalidRequest: 'InvalidFleetRequest',
  /** `namePattern` matched no store in the Region. Nothing was started. */
  noStores: 'FleetMatchedNoStores',
  /** At least one store's run ended other than COMPLETED; the details carry the fleet result. */
  runsFailed: 'FleetRunsFailed',
} as const;

/** The maintenance request each store gets, without the fields the fleet supplies. */
/** Built on each use, never kept at module level (see src/domain/request.ts). */
export const fleetTemplateSchema = () =>
  maintenanceRequestSchema().omit({
    customKeyStoreId: true,
    region: true,
    account: true,
    executionRole: true,
    externalId: true,
    requestedBy: true,
    reason: true,
  });

const storeIdsSchema = () =>
  z
    .array(
      z
        .string({ error: 'must be a custom key store id' })
        .regex(
          CUSTOM_KEY_STORE_ID_PATTERN,
          'must be a custom key store id: "cks-" followed by 17 hex digits',
        ),
      { error: 'must be a list of custom key store ids' },
    )
    .min(1, 'list at least one store')
    .max(FLEET_LIMITS.stores.max, `at most ${FLEET_LIMITS.stores.max} stores per fleet`);

const namePatternSchema = () =>
  z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(256);

const regionSchema = () => z.string().regex(REGION_PATTERN, 'must be an AWS Region code such as us-east-1');

function countSchema(min: number, max?: number) {
  const n = z.number({ error: 'must be a whole number' }).int('must be a whole number').min(min);
  return max === undefined ? n : n.max(max);
}

/** One entry of `locations`: accounts × Regions, the role to assume there, and which stores. */
export const fleetLocationSchema = () =>
  z.strictObject({
    accounts: z
      .array(accountIdSchema(), { error: 'must be a list of 12-digit account ids' })
      .min(1, 'list at least one account')
      .max(FLEET_LIMITS.targets.max),
    regions: z
      .array(regionSchema(), { error: 'must be a list of Region codes, e.g. ["us-east-1", "eu-west-1"]' })
      .min(1, 'list at least one Region')
      .max(40),
    executionRole: executionRoleSchema().optional(),
    externalId: externalIdSchema().optional(),
    stores: storeIdsSchema().optional(),
    namePattern: namePatternSchema().optional(),
    maxConcurrency: countSchema(FLEET_LIMITS.maxConcurrency.min, FLEET_LIMITS.maxConcurrency.max).optional(),
    maxErrors: countSchema(FLEET_LIMITS.maxErrors.min).optional(),
  });

export type FleetLocation = z.input<ReturnType<typeof fleetLocationSchema>>;

export const fleetRequestSchema = () =>
  z.strictObject({
    stores: storeIdsSchema().optional(),
    namePattern: namePatternSchema().optional(),
    region: regionSchema().optional(),
    locations: z
      .array(fleetLocationSchema(), { error: 'must be a list of locations' })
      .min(1, 'list at least one location')
      .max(FLEET_LIMITS.locations.max, `at most ${FLEET_LIMITS.locations.max} locations per fleet`)
      .optional(),
    request: fleetTemplateSchema(),
    maxConcurrency: z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(FLEET_LIMITS.maxConcurrency.min)
      .max(FLEET_LIMITS.maxConcurrency.max)
      .optional(),
    maxErrors: z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(FLEET_LIMITS.maxErrors.min)
      .optional(),
    continueAsNewAfterStores: z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(FLEET_LIMITS.continueAsNewAfterStores.min)
      .max(FLEET_LIMITS.continueAsNewAfterStores.max)
      .optional(),
    /** Hooks of the fleet itself: `beforeFleet` may veto it, `afterFleet` hears how it ended (docs/hooks.md). */
    hooks: fleetHooksSchema().optional(),
    requestedBy: text(256),
    // Each store's run gets this reason with " (fleet <workflow id>)" appended; its limit is 1024.
    reason: text(900),
  });

/** The fleet request as callers write it. */
export type FleetRequest = z.input<ReturnType<typeof fleetRequestSchema>>;
export type FleetTemplate = z.input<ReturnType<typeof fleetTemplateSchema>>;

export type FleetSelection =
  | { readonly kind: 'stores'; readonly storeIds: readonly string[] }
  | { readonly kind: 'pattern'; readonly namePattern: string }
  | { readonly kind: 'locations'; readonly targets: readonly FleetTarget[] };

/**
 * One account-Region of a location: where KMS is called, as whom, which stores, and the limits of
 * the location it belongs to (shared by all its targets).
 */
export interface FleetTarget extends StoreLocation {
  /** The location's index in `locations`: its limits and its report. */
  readonly location: number;
  readonly region: string;
  readonly select:
    | { readonly kind: 'stores'; readonly storeIds: readonly string[] }
    | { readonly kind: 'pattern'; readonly namePattern: string };
}

/** The selection as the status shows it: a `locations` fleet's targets are listed in `targets`. */
export type FleetStatusSelection =
  | Exclude<FleetSelection, { readonly kind: 'locations' }>
  | { readonly kind: 'locations'; readonly locations: number; readonly targets: number };

export function statusSelection(selection: FleetSelection, locations: number): FleetStatusSelection {
  return selection.kind === 'locations'
    ? { kind: 'locations', locations, targets: selection.targets.length }
    : selection;
}

/** A location's own limits. */
export interface FleetLocationLimits {
  readonly maxConcurrency: number | undefined;
  readonly maxErrors: number | undefined;
}

export interface ResolvedFleetRequest {
  readonly selection: FleetSelection;
  /** Per location (by index), for `locations` fleets; empty otherwise. */
  readonly locationLimits: readonly FleetLocationLimits[];
  readonly region: string | undefined;
  /** As given (durations as strings): it becomes each store's request. */
  readonly template: FleetTemplate;
  readonly maxConcurrency: number;
  readonly maxErrors: number;
  readonly continueAsNewAfterStores: number;
  readonly requestedBy: string;
  readonly reason: string;
  /** Absent: no fleet hooks. */
  readonly hooks?: ResolvedFleetHooks;
}

export type FleetValidation =
  | { readonly ok: true; readonly request: ResolvedFleetRequest }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Stands in for the store id when the template is checked as a whole maintenance request. */
const PLACEHOLDER_STORE_ID = 'cks-00000000000000000';

/**
 * Validates a fleet request as received (any JSON) at `nowMs`. Every problem is reported, each
 * naming its field. The template is also checked as a complete maintenance request, so a fleet
 * never starts runs that would all refuse their input.
 */
export function validateFleetRequest(
  input: unknown,
  nowMs: number,
  options: {
    /**
     * The stores were already selected (a continued fleet run, or the replay of one started when
     * `/regex/` patterns were accepted): the pattern is never matched again, so its old form passes.
     */
    readonly patternAlreadyResolved?: boolean;
  } = {},
): FleetValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      problems: [
        'the fleet request must be one JSON object, e.g. {"namePattern": "prod-*", "request": {"window": {"duration": "2h"}}, "requestedBy": "…", "reason": "…"}',
      ],
    };
  }
  // `null` means absent, as for a single maintenance request (withoutNulls).
  input = withoutNulls(input);
  const parsed = fleetRequestSchema().safeParse(input);
  const problems: string[] = parsed.success
    ? []
    : parsed.error.issues.map(
        (issue) => `${issue.path.map(String).join('.') || '(request)'}: ${issue.message}`,
      );
  const raw = input as Partial<Record<keyof FleetRequest, unknown>>;
  const selections = [raw.stores, raw.namePattern, raw.locations].filter((v) => v !== undefined).length;
  if (selections !== 1) {
    problems.push(
      'give exactly one of "stores" (a list of store ids), "namePattern" (a glob like "prod-*") or "locations" (accounts and Regions, docs/fleet.md)',
    );
  }
  if (raw.locations !== undefined && raw.region !== undefined) {
    problems.push('region: a fleet with "locations" takes its Regions from each location; drop "region"');
  }
  if (Array.isArray(raw.locations)) problems.push(...locationProblems(raw.locations as unknown[]));
  if (typeof raw.namePattern === 'string' && raw.namePattern.trim()) {
    const compiled = compileNamePattern(raw.namePattern);
    const oldForm = options.patternAlreadyResolved === true && REGEX_FORM.test(raw.namePattern.trim());
    if (!compiled.ok && !oldForm) problems.push(`namePattern: ${compiled.problem}`);
  }
  if (Array.isArray(raw.stores)) {
    const seen = new Set<unknown>();
    const twice = new Set<unknown>();
    for (const id of raw.stores as unknown[]) {
      if (seen.has(id)) twice.add(id);
      seen.add(id);
    }
    if (twice.size) problems.push(`stores: lists ${[...twice].map(String).join(', ')} more than once`);
  }
  const template = (typeof raw.request === 'object' && raw.request !== null ? raw.request : {}) as Record<
    string,
    unknown
  >;
  const window = template.window as Record<string, unknown> | undefined;
  if (window && typeof window === 'object' && 'until' in window) {
    problems.push(
      'request.window: a fleet needs a duration ({"duration": "2h"}), not "until": each store gets its own window when its turn comes',
    );
  }
  const drain = template.drain as Record<string, unknown> | undefined;
  if (drain && typeof drain === 'object' && drain.provider === 'alias') {
    problems.push(
      'request.drain: the alias provider names aliases of one store; a fleet can use "none" or "webhook" (the controller is told which store)',
    );
  }
  if (template.canaryKeyId !== undefined) {
    problems.push('request.canaryKeyId: a canary key belongs to one store; a fleet cannot use one');
  }
  if (parsed.success && !problems.length) {
    // The template as written (its durations as strings), completed as any store's request.
    const check = validateMaintenanceRequest(
      {
        ...template,
        customKeyStoreId: PLACEHOLDER_STORE_ID,
        requestedBy: parsed.data.requestedBy,
        reason: parsed.data.reason,
      },
      nowMs,
    );
    if (!check.ok) problems.push(...check.problems.map((p) => `request.${p}`));
  }
  if (!parsed.success || problems.length) return { ok: false, problems };
  const r = parsed.data;
  return {
    ok: true,
    request: {
      selection: r.locations
        ? { kind: 'locations', targets: targetsOf(r.locations) }
        : r.stores
          ? { kind: 'stores', storeIds: r.stores }
          : { kind: 'pattern', namePattern: r.namePattern ?? '' },
      locationLimits: (r.locations ?? []).map((l) => ({
        maxConcurrency: l.maxConcurrency,
        maxErrors: l.maxErrors,
      })),
      region: r.region,
      template: raw.request as FleetTemplate,
      maxConcurrency: r.maxConcurrency ?? FLEET_LIMITS.maxConcurrency.default,
      maxErrors: r.maxErrors ?? FLEET_LIMITS.maxErrors.default,
      continueAsNewAfterStores: r.continueAsNewAfterStores ?? FLEET_LIMITS.continueAsNewAfterStores.default,
      requestedBy: r.requestedBy,
      reason: r.reason,
      ...(r.hooks ? { hooks: resolveHooks(r.hooks) } : {}),
    },
  };
}

/**
 * The problems of `locations` that its schema cannot see: store ids given for more than one
 * account-Region (an id names a store in one), a pattern with them, a role without a way to trust
 * it, the same account-Region twice, too many targets.
 */
function locationProblems(locations: readonly unknown[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  let targets = 0;
  locations.forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null) return;
    const l = entry as Partial<Record<keyof FleetLocation, unknown>>;
    const accounts = Array.isArray(l.accounts) ? (l.accounts as unknown[]) : [];
    const regions = Array.isArray(l.regions) ? (l.regions as unknown[]) : [];
    targets += accounts.length * regions.length;
    if (l.stores !== undefined && l.namePattern !== undefined) {
      problems.push(`locations.${i}: give "stores" or "namePattern", not both (neither: every store)`);
    }
    if (l.stores !== undefined && accounts.length * regions.length > 1) {
      problems.push(
        `locations.${i}.stores: a store id names a store in one account and Region; give one account and one Region with "stores", or use "namePattern"`,
      );
    }
    if (typeof l.namePattern === 'string' && l.namePattern.trim()) {
      const compiled = compileNamePattern(l.namePattern);
      if (!compiled.ok) problems.push(`locations.${i}.namePattern: ${compiled.problem}`);
    }
    if (l.externalId !== undefined && l.executionRole === undefined) {
      problems.push(`locations.${i}.externalId: is only used to assume "executionRole"; give the role too`);
    }
    for (const account of accounts) {
      for (const region of regions) {
        const key = `${String(account)}/${String(region)}`;
        const first = seen.get(key);
        if (first !== undefined) {
          problems.push(
            `locations.${i}: account ${String(account)} in ${String(region)} is already in locations.${first}; each account-Region may appear once`,
          );
        } else {
          seen.set(key, i);
        }
      }
    }
  });
  if (targets > FLEET_LIMITS.targets.max) {
    problems.push(
      `locations: ${targets} account-Regions in all; at most ${FLEET_LIMITS.targets.max} per fleet (split it into several fleets)`,
    );
  }
  return problems;
}

/** Every account-Region of every location, in the order written: accounts, then Regions. */
function targetsOf(locations: readonly z.output<ReturnType<typeof fleetLocationSchema>>[]): FleetTarget[] {
  return locations.flatMap((l, location) =>
    l.accounts.flatMap((account) =>
      l.regions.map((region): FleetTarget => ({
        location,
        account,
        region,
        ...(l.executionRole !== undefined ? { executionRole: l.executionRole } : {}),
        ...(l.externalId !== undefined ? { externalId: l.externalId } : {}),
        select: l.stores
          ? { kind: 'stores', storeIds: l.stores }
          : { kind: 'pattern', namePattern: l.namePattern ?? '*' },
      })),
    ),
  );
}

/** `<account>/<region>` of a target, as the fleet's status names it. */
export function targetLabel(target: { readonly account?: string; readonly region: string }): string {
  return `${accountLabel(target)}/${target.region}`;
}

/** A target's execution role ARN, for its report; undefined when the worker's own credentials are used. */
export function targetRoleArn(target: FleetTarget): string | undefined {
  return executionRoleArn(target);
}

/** The maintenance request of one store of the fleet. */
export function storeRequest(
  fleet: ResolvedFleetRequest,
  customKeyStoreId: string,
  region: string,
  fleetWorkflowId: string,
  location: StoreLocation = {},
): MaintenanceRequest {
  return {
    ...fleet.template,
    customKeyStoreId,
    region,
    ...location,
    requestedBy: fleet.requestedBy,
    reason: `${fleet.reason} (fleet ${fleetWorkflowId})`,
  };
}

export type NamePatternResult =
  | { readonly ok: true; readonly matches: (name: string) => boolean }
  | { readonly ok: false; readonly problem: string };

/**
 * The form regular expressions had when `namePattern` accepted them: `/…/`, optionally with
 * flags. Such a pattern is refused rather than taken as a glob, so that a request written for the
 * old form fails loudly instead of silently matching nothing.
 */
const REGEX_FORM = /^\/.+\/[a-z]*$/s;

/**
 * A glob matched against the whole name: `*` any run of characters (also none), `?` exactly one
 * character; everything else stands for itself, case-sensitively.
 *
 * Regular expressions (`/…/`) are refused: the store listing would run them on the worker, and a
 * pattern with nested quantifiers such as `/^(a+)+$/` backtracks exponentially on a long name
 * that does not match, freezing the worker. Globs are matched by `globMatches`, which never
 * backtracks more than one step (see there), never by a regular expression built from the
 * pattern: even `.*` without nesting backtracks polynomially (`*a*a*a*a*a*a*a*a*a*a*a*a*b`
 * translated to a regular expression runs for minutes against a name of 60 `a`s).
 */
export function compileNamePattern(pattern: string): NamePatternResult {
  const glob = pattern.trim();
  if (REGEX_FORM.test(glob)) {
    return {
      ok: false,
      problem:
        'regular expressions ("/…/") are not supported, because one can take the worker exponential time; use a glob on the whole name: * for any characters, ? for one, e.g. "prod-eu-*" or "tenant-??-xks" (globs match case-sensitively; a name that starts with "/" can be matched with a leading "?")',
    };
  }
  const symbols = Array.from(glob);
  return { ok: true, matches: (name) => globMatches(symbols, Array.from(name)) };
}

/**
 * Whether `name` matches the glob `pattern` as a whole (both as arrays of characters, i.e. code
 * points, so `?` is one character even outside the Basic Multilingual Plane).
 *
 * The usual two-pointer match with one backtracking point: on a mismatch, only the most recent
 * `*` takes one more character, and earlier stars are never revisited. That is enough: once a
 * later `*` is reached, whatever more an earlier star could have taken, the later one can take
 * instead. Between two restarts the pointers move forward together at most once per pattern
 * character, and each restart begins at a name position strictly further than the one before, so
 * there are at most name-length restarts: O(pattern length × name length) steps in the worst case,
 * linear in the name for a given pattern (at most 256 characters), with no exponential or
 * high-degree polynomial case whatever the pattern.
 */
export function globMatches(pattern: readonly string[], name: readonly string[]): boolean {
  let p = 0;
  let n = 0;
  let star = -1; // the index in `pattern` of the last `*` seen, or -1
  let starFrom = 0; // the name position where that star's match currently ends
  while (n < name.length) {
    const symbol = pattern[p];
    if (symbol === '*') {
      star = p++;
      starFrom = n;
    } else if (symbol !== undefined && (symbol === '?' || symbol === name[n])) {
      p++;
      n++;
    } else if (star >= 0) {
      // The last star takes one more character; the pattern after it starts again there.
      p = star + 1;
      n = ++starFrom;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** One store in the fleet, as the listing activity found it. */
export interface FleetStoreRef {
  readonly customKeyStoreId: string;
  readonly name?: string;
}

/** Where one store of the fleet stands. */
export type FleetStoreState = 'PENDING' | 'RUNNING' | EndState | 'SKIPPED';

export interface FleetStoreProgress {
  readonly customKeyStoreId: string;
  /** For `locations` fleets: the store's account, Region, and location index. */
  readonly account?: string;
  readonly region?: string;
  readonly location?: number;
  /** CustomKeyStoreName: from the listing, or from the run's result. */
  name?: string;
  /** The store's canonical maintenance workflow id (the per-store lock). */
  readonly workflowId: string;
  state: FleetStoreState;
  runId?: string;
  startedAt?: string;
  endedAt?: string;
  /** How the run ended, or why it was not started (SKIPPED). */
  message?: string;
  /** The failure type when the run did not complete, e.g. MaintenanceAlreadyRunning. */
  errorType?: string;
  connectionErrorCode?: string;
}

/**
 * - `COMPLETED`: every store's run completed;
 * - `COMPLETED_WITH_ERRORS`: every store was run, and at most `maxErrors` did not complete;
 * - `STOPPED`: more than `maxErrors` runs did not complete; the stores not yet started were skipped;
 * - `ABORTED`: the `abort` update (or a Temporal cancellation) stopped the fleet: running
 *   children were cancelled (each undid its changes), the rest skipped.
 */
export const FLEET_OUTCOMES = ['COMPLETED', 'COMPLETED_WITH_ERRORS', 'STOPPED', 'ABORTED'] as const;
export type FleetOutcome = (typeof FLEET_OUTCOMES)[number];

/**
 * - `RESOLVING`: listing the stores that match the pattern;
 * - `RUNNING`: starting runs, at most `maxConcurrency` at a time;
 * - `STOPPING`: `maxErrors` exceeded; waiting for the runs under way;
 * - `ABORTING`: aborted; waiting for the cancelled runs to undo their changes;
 * - `CONTINUING`: waiting for the runs under way before continuing as a new workflow run (history
 *   size); the fleet then goes on with the rest.
 */
export type FleetPhase =
  'RESOLVING' | 'RUNNING' | 'STOPPING' | 'ABORTING' | 'CONTINUING' | FleetOutcome | 'FAILED';

export interface FleetCounts {
  readonly total: number;
  readonly pending: number;
  readonly running: number;
  readonly completed: number;
  /** Runs that ended other than COMPLETED (they count against maxErrors). */
  readonly errors: number;
  readonly skipped: number;
}

export interface FleetStatus {
  readonly workflowId: string;
  readonly runId: string;
  /** How many times the fleet continued as a new run (the status covers all of them). */
  readonly continuedAsNew: number;
  readonly phase: FleetPhase;
  readonly outcome: FleetOutcome | undefined;
  readonly region: string | undefined;
  readonly selection: FleetStatusSelection | undefined;
  readonly maxConcurrency: number;
  readonly maxErrors: number;
  readonly requestedBy: string | undefined;
  readonly reason: string | undefined;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly counts: FleetCounts;
  readonly abort?: { readonly by: string; readonly reason: string; readonly at: string };
  /** What the fleet's hooks did, when the request names them. */
  readonly hooks?: FleetHooksStatus;
  readonly message: string;
  readonly stores: readonly FleetStoreProgress[];
  /** `locations` fleets only: each account-Region, and each location's progress. */
  readonly targets?: readonly FleetTargetProgress[];
  readonly locations?: readonly FleetLocationProgress[];
}

/**
 * One account-Region of a `locations` fleet: `LISTING` its stores, `READY` (its stores are in the
 * fleet's list), or `FAILED` (its stores could not be listed, e.g. the role could not be assumed:
 * one error against its location's and the fleet's maxErrors).
 */
export interface FleetTargetProgress {
  readonly location: number;
  readonly account: string | undefined;
  readonly region: string;
  readonly roleArn?: string;
  state: 'LISTING' | 'READY' | 'FAILED';
  stores: number;
  message?: string;
  errorType?: string;
}

/** A location's progress: its targets' stores counted together, and whether it stopped. */
export interface FleetLocationProgress {
  readonly location: number;
  readonly accounts: readonly string[];
  readonly regions: readonly string[];
  readonly maxConcurrency: number | undefined;
  readonly maxErrors: number | undefined;
  /** Targets that could not be listed (each one error). */
  readonly failedTargets: number;
  /** True when more than its maxErrors failed: no more of its stores are started. */
  readonly stopped: boolean;
  readonly counts: FleetCounts;
}

export interface FleetResult extends FleetStatus {
  readonly outcome: FleetOutcome;
}

export function countStores(stores: readonly FleetStoreProgress[]): FleetCounts {
  const counts = { total: stores.length, pending: 0, running: 0, completed: 0, errors: 0, skipped: 0 };
  for (const store of stores) {
    if (store.state === 'PENDING') counts.pending++;
    else if (store.state === 'RUNNING') counts.running++;
    else if (store.state === 'COMPLETED') counts.completed++;
    else if (store.state === 'SKIPPED') counts.skipped++;
    else counts.errors++;
  }
  return counts;
}

/** The failure type a store gets when its id is locked by another run. */
export const STORE_LOCKED_FAILURE_TYPE = FAILURE_TYPES.alreadyRunning;

/** The middle part of the workflow id of a fleet over `locations`, which has no one Region. */
export const LOCATIONS_FLEET_SCOPE = 'locations';

/** The fleet's workflow id: `keystore-maint-fleet/<region>/<name>`. */
export function fleetWorkflowId(region: string, name: string): string {
  return `keystore-maint-fleet/${region}/${name}`;
}
