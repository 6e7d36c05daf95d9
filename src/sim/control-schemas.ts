/**
 * Request shapes of the control API (`/_sim/...`) and of the seed file, with zod. Objects are
 * strict: an unknown or misspelt field is an error naming it, not silently ignored, because a test
 * that seeds the wrong thing should fail loudly.
 */
import { z } from 'zod';
import { ACCOUNT_PATTERN, delaySchema, quotaRpsSchema, REGION_PATTERN, storeLimitSchema } from './config';
import { DEFAULT_MAX_SESSION_SECONDS } from './iam';
import { KEY_ID_PATTERN } from './keys';
import {
  CONNECTION_ERROR_CODES,
  CONNECTION_ERROR_CODES_BY_TYPE,
  CONNECTION_STATES,
  STORE_TYPES,
  XKS_CONNECTIVITY_TYPES,
} from './model';
import { EXCEPTION_NAME_PATTERN } from './protocol';
import { STORE_ID_PATTERN } from './stores';

export const connectOutcomeSchema = z.strictObject({
  failWith: z.enum(CONNECTION_ERROR_CODES),
  times: z.int().min(1).max(1_000_000).optional(),
});

/** Where a store, key or alias goes; the default partition (the options' account and Region) when absent. */
const partitionFields = {
  Account: z.string().regex(ACCOUNT_PATTERN, 'must be a 12-digit AWS account id').optional(),
  Region: z.string().regex(REGION_PATTERN, 'must be a Region like us-east-1').optional(),
};

export const accountSchema = z.string().regex(ACCOUNT_PATTERN, 'must be a 12-digit AWS account id');

const storeFields = {
  ...partitionFields,
  CustomKeyStoreType: z.enum(STORE_TYPES),
  CustomKeyStoreName: z.string().min(1).max(256).optional(),
  CustomKeyStoreId: z.string().regex(STORE_ID_PATTERN, 'must be cks- and 17 hex digits').optional(),
  ConnectionState: z.enum(CONNECTION_STATES).optional(),
  ConnectionErrorCode: z.enum(CONNECTION_ERROR_CODES).optional(),
  CloudHsmClusterId: z
    .string()
    .regex(/^cluster-[2-7a-zA-Z]{11,16}$/, 'must match ^cluster-[2-7a-zA-Z]{11,16}$')
    .optional(),
  XksProxyConnectivity: z.enum(XKS_CONNECTIVITY_TYPES).optional(),
  XksProxyUriEndpoint: z
    .string()
    .regex(/^https:\/\/[a-zA-Z0-9.-]+$/, 'must match ^https://[a-zA-Z0-9.-]+$')
    .optional(),
  XksProxyUriPath: z
    .string()
    .regex(/^(\/[a-zA-Z0-9/_-]+\/kms\/xks\/v\d{1,2})$|^(\/kms\/xks\/v\d{1,2})$/, 'must end with /kms/xks/v1')
    .optional(),
  XksProxyVpcEndpointServiceName: z.string().min(20).max(64).optional(),
  connectDelayMs: delaySchema.optional(),
  disconnectDelayMs: delaySchema.optional(),
  consistencyLagMs: delaySchema.optional(),
  connectOutcome: connectOutcomeSchema.optional(),
};

export const simStoreInputSchema = z.strictObject(storeFields).superRefine((input, ctx) => {
  report(connectionFieldProblems(input), ctx);
  if (input.CustomKeyStoreType === 'AWS_CLOUDHSM') {
    for (const field of [
      'XksProxyConnectivity',
      'XksProxyUriEndpoint',
      'XksProxyUriPath',
      'XksProxyVpcEndpointServiceName',
    ] as const) {
      if (input[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is only for EXTERNAL_KEY_STORE stores' });
      }
    }
  } else if (input.CloudHsmClusterId !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['CloudHsmClusterId'], message: 'is only for AWS_CLOUDHSM stores' });
  }
  if (input.connectOutcome) {
    report(
      errorCodeProblems(input.CustomKeyStoreType, input.connectOutcome.failWith, [
        'connectOutcome',
        'failWith',
      ]),
      ctx,
    );
  }
});

export type SimStoreInput = z.infer<typeof simStoreInputSchema>;

/** PATCH /_sim/stores/:id. `connectOutcome: null` clears a pending outcome. */
export const storePatchSchema = z.strictObject({
  connectDelayMs: delaySchema.nullable().optional(),
  disconnectDelayMs: delaySchema.nullable().optional(),
  consistencyLagMs: delaySchema.nullable().optional(),
  connectOutcome: connectOutcomeSchema.nullable().optional(),
  ConnectionState: z.enum(CONNECTION_STATES).optional(),
  ConnectionErrorCode: z.enum(CONNECTION_ERROR_CODES).optional(),
});

export type StorePatch = z.infer<typeof storePatchSchema>;

export const faultInputSchema = z
  .strictObject({
    operation: z.string().min(1),
    errorType: z
      .string()
      .regex(EXCEPTION_NAME_PATTERN, 'must be an exception name like ThrottlingException')
      .optional(),
    message: z.string().min(1).max(2048).optional(),
    count: z.int().min(1).max(1_000_000).optional(),
    probability: z.number().min(0).max(1).optional(),
    latencyMs: delaySchema.optional(),
    /** `after`: the operation takes effect, then the latency and the exception (a lost answer). */
    when: z.enum(['before', 'after']).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.errorType === undefined && input.latencyMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['errorType'], message: 'is required unless latencyMs is given' });
    }
  });

export const configPatchSchema = z.strictObject({
  quotaRps: quotaRpsSchema.optional(),
  storeLimit: storeLimitSchema.optional(),
  profile: z.enum(['fast', 'realistic']).optional(),
  connectDelayMs: delaySchema.nullable().optional(),
  disconnectDelayMs: delaySchema.nullable().optional(),
  consistencyLagMs: delaySchema.nullable().optional(),
});

export const seedKeySchema = z.strictObject({
  ...partitionFields,
  KeyId: z.string().regex(KEY_ID_PATTERN, 'must be a lower-case UUID').optional(),
  /** The store by id or by name (a store of this seed or of the state). Omit for an AWS_KMS key. */
  CustomKeyStoreId: z.string().optional(),
  CustomKeyStoreName: z.string().optional(),
  Description: z.string().max(8192).optional(),
  Enabled: z.boolean().optional(),
  XksKeyId: z
    .string()
    .regex(/^[a-zA-Z0-9-_.]+$/)
    .max(128)
    .optional(),
});

export type SimKeyInput = z.infer<typeof seedKeySchema>;

export const seedAliasSchema = z.strictObject({
  ...partitionFields,
  AliasName: z.string().regex(/^alias\/[a-zA-Z0-9:/_-]+$/, 'must be alias/<name>'),
  /** A KeyId of this seed, or another key's id, in the same partition. */
  TargetKeyId: z.string(),
});

export type SimAliasInput = z.infer<typeof seedAliasSchema>;

export const seedSchema = z.strictObject({
  stores: z.array(simStoreInputSchema).optional(),
  keys: z.array(seedKeySchema).optional(),
  aliases: z.array(seedAliasSchema).optional(),
});

export type Seed = z.infer<typeof seedSchema>;

export const callsQuerySchema = z.strictObject({
  operation: z.string().min(1).optional(),
  customKeyStoreId: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  principal: z.string().min(1).optional(),
});

/** `GET /_sim/stores?account=&region=`: either or both narrow the list; neither lists every partition. */
export const storesQuerySchema = z.strictObject({
  account: accountSchema.optional(),
  region: z.string().regex(REGION_PATTERN, 'must be a Region like us-east-1').optional(),
});

/** `POST /_sim/access-keys`: a long-term access key of an account's IAM user `simulated`. */
export const accessKeyInputSchema = z.strictObject({
  AccessKeyId: z
    .string()
    .regex(/^[\w]{16,128}$/, 'must be 16 to 128 letters, digits or underscores, like AKIAIOSFODNN7EXAMPLE')
    .refine(
      (id) => !id.startsWith('ASIA'),
      'must not start with ASIA: those are temporary keys, issued by AssumeRole',
    ),
  Account: accountSchema,
});

/** `POST /_sim/roles`: an IAM role, its trust (accounts, external id) and its session limit. */
export const roleInputSchema = z.strictObject({
  Account: accountSchema.optional(),
  RoleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'must be 1 to 64 characters of [A-Za-z0-9_+=,.@-]'),
  /** `/` (the default) or `/segments/`, as IAM paths are. */
  Path: z
    .string()
    .max(512)
    .regex(/^\/(?:[\u0021-\u007E]+\/)?$/, 'must be / or start and end with /, like /service/')
    .optional(),
  /** Accounts whose principals may assume the role; default: the simulator's default account. */
  TrustedAccounts: z.array(accountSchema).min(1).optional(),
  /** When set, AssumeRole must give exactly this ExternalId. */
  ExternalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2 to 1224 characters of [A-Za-z0-9_+=,.@:/-]')
    .optional(),
  /** Seconds, 3600 (IAM's default) to 43200. */
  MaxSessionDuration: z.int().min(DEFAULT_MAX_SESSION_SECONDS).max(43_200).optional(),
});

export type RoleInput = z.infer<typeof roleInputSchema>;

/** `PATCH /_sim/sessions/:accessKeyId`: move a session's expiration, e.g. into the past. */
export const sessionPatchSchema = z.strictObject({
  Expiration: z.iso.datetime({ offset: true }),
});

interface ConnectionFields {
  CustomKeyStoreType?: (typeof STORE_TYPES)[number] | undefined;
  ConnectionState?: (typeof CONNECTION_STATES)[number] | undefined;
  ConnectionErrorCode?: (typeof CONNECTION_ERROR_CODES)[number] | undefined;
}

/** A problem with one field of a control-API request. */
export interface FieldProblem {
  path: PropertyKey[];
  message: string;
}

/** `ConnectionErrorCode` goes with `FAILED` and only then, and must suit the store type. */
export function connectionFieldProblems(input: ConnectionFields): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (input.ConnectionState === 'FAILED' && input.ConnectionErrorCode === undefined) {
    problems.push({ path: ['ConnectionErrorCode'], message: 'is required with ConnectionState FAILED' });
  }
  if (input.ConnectionErrorCode !== undefined && input.ConnectionState !== 'FAILED') {
    problems.push({ path: ['ConnectionErrorCode'], message: 'is allowed only with ConnectionState FAILED' });
  }
  if (input.CustomKeyStoreType && input.ConnectionErrorCode) {
    problems.push(
      ...errorCodeProblems(input.CustomKeyStoreType, input.ConnectionErrorCode, ['ConnectionErrorCode']),
    );
  }
  return problems;
}

export function errorCodeProblems(
  type: (typeof STORE_TYPES)[number],
  code: (typeof CONNECTION_ERROR_CODES)[number],
  path: PropertyKey[],
): FieldProblem[] {
  return CONNECTION_ERROR_CODES_BY_TYPE[type].includes(code)
    ? []
    : [{ path, message: `${code} is not a ConnectionErrorCode of ${type} stores` }];
}

function report(problems: readonly FieldProblem[], ctx: z.RefinementCtx): void {
  for (const problem of problems)
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
}
