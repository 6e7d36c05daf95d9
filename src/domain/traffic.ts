/**
 * Traffic providers: how callers are moved off a store before it is disconnected, and back after
 * it is verified. KMS does not drain callers; a disconnected store simply fails their calls.
 *
 * - `none`: nothing is changed — an explicit choice, recorded as such in the audit;
 * - `alias`: each listed KMS alias that points to a key in the store is pointed at a fallback key
 *   outside the store (UpdateAlias), and back to its recorded original target afterwards;
 * - `webhook`: a traffic controller is told `drain` / `restore` by a signed HTTP POST and polled
 *   on a status URL until it reports the change done. The request names the controller; where it
 *   is and which secret signs for it are the worker's configuration (src/traffic/
 *   webhook-controllers.ts), so nobody who can start a run can point the worker elsewhere.
 *
 * Every provider may wait `settle` after draining, for callers' cached data keys and connection
 * pools to run dry.
 */
import { z } from 'zod';
import { durationSchema } from './duration-schema';

/** Secrets named by the worker's controller configuration must use variables with this prefix. */
export const WEBHOOK_SECRET_ENV = 'KEYSTORE_MAINT_WEBHOOK_SECRET';
export const WEBHOOK_SIGNATURE_HEADER = 'x-keystore-maint-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'x-keystore-maint-timestamp';
export const WEBHOOK_NONCE_HEADER = 'x-keystore-maint-nonce';
/** A notification's event id (docs/notifications.md): the same on every attempt, for deduplication. */
export const WEBHOOK_EVENT_ID_HEADER = 'x-keystore-maint-event-id';
/** A controller name, as the worker's configuration and requests spell it. */
export const CONTROLLER_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A receiver should refuse requests whose timestamp is further than this from its clock. */
export const WEBHOOK_MAX_SKEW_SECONDS = 300;

const HOUR = 3_600_000;

// Built on each use, never kept at module level (see src/domain/request.ts).
const settle = () => durationSchema({ min: 0, max: 1 * HOUR }).optional();

const aliasName = () =>
  z
    .string()
    .regex(/^alias\/[a-zA-Z0-9/_-]{1,250}$/, 'must be an alias name like "alias/payments-data"')
    .refine(
      (name) => !name.startsWith('alias/aws/'),
      'AWS managed aliases (alias/aws/...) cannot be changed',
    );

const keyId = () =>
  z
    .string()
    .regex(
      /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/)?([0-9a-f-]{36}|mrk-[0-9a-f]{32})$/,
      'must be a key id (UUID) or key ARN',
    );

const httpUrl = () =>
  z
    .string()
    .url('must be an absolute http(s) URL')
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

const webhookTimeout = () => durationSchema({ min: 1_000, max: 1 * HOUR }).optional();

/** Where a webhook goes is the worker's decision: a request that says where is refused, with the fix. */
const movedToWorker = (field: string) =>
  z
    .undefined({
      error: `${field} is no longer accepted in a request: traffic controllers and their secrets are configured on the worker (KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE); name one with "controller" (docs/traffic.md)`,
    })
    .optional();

const noneSpec = () => z.strictObject({ provider: z.literal('none'), settle: settle() });
const aliasSpec = () =>
  z.strictObject({
    provider: z.literal('alias'),
    aliases: z
      .array(aliasName(), { error: 'must be a list of alias names' })
      .min(1, 'list at least one alias')
      .max(50, 'at most 50 aliases per run')
      .refine((list) => new Set(list).size === list.length, 'lists an alias twice'),
    fallbackKeyId: keyId(),
    settle: settle(),
  });

export const drainSpecSchema = () =>
  z.discriminatedUnion(
    'provider',
    [
      noneSpec(),
      aliasSpec(),
      z.strictObject({
        provider: z.literal('webhook'),
        /** A controller configured on the worker, by name. */
        controller: z
          .string({ error: 'must name a traffic controller configured on the worker, e.g. "payments-mesh"' })
          .regex(
            CONTROLLER_NAME_PATTERN,
            'must be a controller name: lower-case letters, digits, ".", "_", "-"',
          ),
        /** How long drain (or restore) may take in all; default 5 minutes. */
        timeout: webhookTimeout(),
        settle: settle(),
        url: movedToWorker('url'),
        statusUrl: movedToWorker('statusUrl'),
        secretEnv: movedToWorker('secretEnv'),
      }),
    ],
    { error: 'must be one of: none, alias, webhook' },
  );

/**
 * The webhook spec as runs started before controllers were configured on the worker wrote it
 * (URL in the request). Kept only so those runs replay; the worker accepts such a URL only when it
 * is a configured controller's.
 */
export const legacyDrainSpecSchema = () =>
  z.discriminatedUnion('provider', [
    noneSpec(),
    aliasSpec(),
    z.strictObject({
      provider: z.literal('webhook'),
      url: httpUrl(),
      statusUrl: httpUrl().optional(),
      timeout: webhookTimeout(),
      secretEnv: z.string().optional(),
      settle: settle(),
    }),
  ]);

export type DrainSpec =
  z.output<ReturnType<typeof drainSpecSchema>> | z.output<ReturnType<typeof legacyDrainSpecSchema>>;
export type DrainSpecInput = z.input<ReturnType<typeof drainSpecSchema>>;

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5 * 60_000;

/** What an alias pointed at before the drain. */
export interface AliasTarget {
  readonly aliasName: string;
  readonly originalTargetKeyId: string;
}

/** Checked before anything changes; for `alias`, the originals that restore will put back. */
export type DrainPlan =
  | { readonly provider: 'none' }
  | { readonly provider: 'alias'; readonly fallbackKeyId: string; readonly aliases: readonly AliasTarget[] }
  | {
      readonly provider: 'webhook';
      /** The controller's name in the worker's configuration (absent in runs of older workers). */
      readonly controller?: string;
      readonly url: string;
      readonly statusUrl: string;
    };

/** The body a webhook receives (and signs over, with the timestamp). */
export interface WebhookBody {
  readonly action: 'drain' | 'restore';
  readonly customKeyStoreId: string;
  readonly workflowId: string;
  readonly runId: string;
}

/** What the status URL answers. */
export interface WebhookStatus {
  readonly state: 'pending' | 'drained' | 'restored' | 'failed';
  readonly message?: string;
}
