/**
 * Simulator options, their validation, and the timing profiles. A store's effective timing is its
 * own override, else the global override (an option or `PATCH /_sim/config`), else the profile's
 * value for its store type. The `fast` profile keeps tests and demos snappy; `realistic` uses
 * CloudHSM-like minutes (KMS documents up to ~20 min for CloudHSM connects, ~5 min for external
 * key stores).
 */
import { z } from 'zod';
import type { StoreTimings, StoreType } from './model';

export interface SimulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** AWS account id in ARNs; default '111122223333'. */
  account?: string;
  /** Region in ARNs; default 'us-east-1'. With `account`, it names the default partition. */
  region?: string;
  /**
   * The Regions served (default `[region]`); must include `region` and lie in its partition (an
   * AWS account belongs to one partition). A KMS request signed for another Region is refused.
   */
  regions?: string[];
  /** Default 'fast' (connect 2000, disconnect 1000, lag 500); 'realistic': CloudHSM-like minutes. */
  profile?: 'fast' | 'realistic';
  /** Override the profile for every store type. */
  connectDelayMs?: number;
  disconnectDelayMs?: number;
  consistencyLagMs?: number;
  /**
   * Requests per second for each custom key store operation, per account and Region; default 5;
   * 0 = unlimited.
   */
  quotaRps?: number;
  /**
   * Custom key stores per account and Region; default 10, KMS's limit (not adjustable in KMS).
   * 0 = unlimited, for load tests that want more stores in one partition than KMS allows.
   */
  storeLimit?: number;
  /** Loaded if present; written atomically (temp file + rename) after every change. */
  stateFile?: string;
  /** JSON seed applied at start when the state file has no stores. */
  seedFile?: string;
  /** Optional request log, one line per request. */
  log?: (line: string) => void;
}

export type ProfileName = 'fast' | 'realistic';

interface ProfileTimings {
  connectDelayMs: Readonly<Record<StoreType, number>>;
  disconnectDelayMs: Readonly<Record<StoreType, number>>;
  consistencyLagMs: number;
}

const MINUTE = 60_000;

export const PROFILES: Readonly<Record<ProfileName, ProfileTimings>> = {
  fast: {
    connectDelayMs: { AWS_CLOUDHSM: 2000, EXTERNAL_KEY_STORE: 2000 },
    disconnectDelayMs: { AWS_CLOUDHSM: 1000, EXTERNAL_KEY_STORE: 1000 },
    consistencyLagMs: 500,
  },
  realistic: {
    connectDelayMs: { AWS_CLOUDHSM: 12 * MINUTE, EXTERNAL_KEY_STORE: 3 * MINUTE },
    disconnectDelayMs: { AWS_CLOUDHSM: 1 * MINUTE, EXTERNAL_KEY_STORE: 20_000 },
    consistencyLagMs: 5_000,
  },
};

/** Node timers cannot wait longer than this; a day is plenty for any rehearsal anyway. */
export const MAX_DELAY_MS = 24 * 60 * MINUTE;

export const delaySchema = z.int().min(0).max(MAX_DELAY_MS);
export const quotaRpsSchema = z.number().min(0).max(1_000_000);
export const storeLimitSchema = z.int().min(0).max(1_000_000);
export const ACCOUNT_PATTERN = /^[0-9]{12}$/;
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-[0-9]+$/;
/** KMS's quota of custom key stores per account and Region. */
export const KMS_STORE_LIMIT = 10;

const optionsSchema = z.strictObject({
  port: z.int().min(0).max(65535).optional(),
  host: z.string().min(1).optional(),
  account: z.string().regex(ACCOUNT_PATTERN, 'must be 12 digits').optional(),
  region: z.string().regex(REGION_PATTERN, 'must look like us-east-1').optional(),
  regions: z
    .array(z.string().regex(REGION_PATTERN, 'must be Regions like us-east-1'))
    .min(1, 'must list at least one Region')
    .optional(),
  profile: z.enum(['fast', 'realistic']).optional(),
  connectDelayMs: delaySchema.optional(),
  disconnectDelayMs: delaySchema.optional(),
  consistencyLagMs: delaySchema.optional(),
  quotaRps: quotaRpsSchema.optional(),
  storeLimit: storeLimitSchema.optional(),
  stateFile: z.string().min(1).optional(),
  seedFile: z.string().min(1).optional(),
  log: z
    .custom<(line: string) => void>((value) => typeof value === 'function', 'must be a function')
    .optional(),
});

/** Thrown by `startKmsSimulator` for a bad option; names the option. */
export class SimulatorOptionsError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`Invalid simulator option "${option}": ${message}`);
    this.name = 'SimulatorOptionsError';
  }
}

export interface ResolvedOptions {
  port: number;
  host: string;
  account: string;
  region: string;
  /** Served Regions, `region` first, without duplicates. */
  regions: string[];
  profile: ProfileName;
  overrides: StoreTimings;
  quotaRps: number;
  storeLimit: number;
  stateFile?: string | undefined;
  seedFile?: string | undefined;
  log?: ((line: string) => void) | undefined;
}

export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const option =
      issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : String(issue?.path[0] ?? '?');
    throw new SimulatorOptionsError(
      option,
      issue?.code === 'unrecognized_keys' ? 'unknown option' : (issue?.message ?? 'invalid'),
    );
  }
  const o = parsed.data;
  const region = o.region ?? 'us-east-1';
  return {
    port: o.port ?? 0,
    host: o.host ?? '127.0.0.1',
    account: o.account ?? '111122223333',
    region,
    regions: servedRegions(region, o.regions),
    profile: o.profile ?? 'fast',
    overrides: {
      connectDelayMs: o.connectDelayMs,
      disconnectDelayMs: o.disconnectDelayMs,
      consistencyLagMs: o.consistencyLagMs,
    },
    quotaRps: o.quotaRps ?? 5,
    storeLimit: o.storeLimit ?? KMS_STORE_LIMIT,
    stateFile: o.stateFile,
    seedFile: o.seedFile,
    log: o.log,
  };
}

/**
 * `regions` must contain the default Region (the default partition is served) and stay in its
 * partition: an account lives in one partition, and its ARNs name it.
 */
function servedRegions(region: string, regions: readonly string[] | undefined): string[] {
  if (!regions) return [region];
  if (!regions.includes(region)) {
    throw new SimulatorOptionsError(
      'regions',
      `must include the default Region "${region}" (option "region"); add it, or set "region" to one of ${regions.join(', ')}`,
    );
  }
  const foreign = regions.find((r) => partitionOf(r) !== partitionOf(region));
  if (foreign !== undefined) {
    throw new SimulatorOptionsError(
      'regions',
      `"${foreign}" is in partition ${partitionOf(foreign)}, not ${partitionOf(region)} like "${region}"; one simulator serves one partition`,
    );
  }
  return [...new Set([region, ...regions])];
}

/** The partition of a Region, as in ARNs. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The global, runtime-adjustable settings (`PATCH /_sim/config`). */
export interface RuntimeConfig {
  profile: ProfileName;
  overrides: StoreTimings;
  quotaRps: number;
  storeLimit: number;
}

export interface EffectiveTimings {
  connectDelayMs: number;
  disconnectDelayMs: number;
  consistencyLagMs: number;
}

export function effectiveTimings(
  config: RuntimeConfig,
  type: StoreType,
  store: StoreTimings,
): EffectiveTimings {
  const profile = PROFILES[config.profile];
  return {
    connectDelayMs: store.connectDelayMs ?? config.overrides.connectDelayMs ?? profile.connectDelayMs[type],
    disconnectDelayMs:
      store.disconnectDelayMs ?? config.overrides.disconnectDelayMs ?? profile.disconnectDelayMs[type],
    consistencyLagMs: store.consistencyLagMs ?? config.overrides.consistencyLagMs ?? profile.consistencyLagMs,
  };
}
