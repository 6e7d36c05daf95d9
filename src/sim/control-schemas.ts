/**
 * Request shapes of the control API (`/_sim/...`) and of the seed file, with zod. Objects are
 * strict: an unknown or misspelt field is an error naming it, not silently ignored, because a test
 * that seeds the wrong thing should fail loudly.
 */
import { z } from 'zod';
import { delaySchema, quotaRpsSchema } from './config';
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

const storeFields = {
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
  profile: z.enum(['fast', 'realistic']).optional(),
  connectDelayMs: delaySchema.nullable().optional(),
  disconnectDelayMs: delaySchema.nullable().optional(),
  consistencyLagMs: delaySchema.nullable().optional(),
});

export const seedKeySchema = z.strictObject({
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

export const seedSchema = z.strictObject({
  stores: z.array(simStoreInputSchema).optional(),
  keys: z.array(seedKeySchema).optional(),
  aliases: z
    .array(
      z.strictObject({
        AliasName: z.string().regex(/^alias\/[a-zA-Z0-9:/_-]+$/, 'must be alias/<name>'),
        /** A KeyId of this seed, or another key's id. */
        TargetKeyId: z.string(),
      }),
    )
    .optional(),
});

export type Seed = z.infer<typeof seedSchema>;

export const callsQuerySchema = z.strictObject({
  operation: z.string().min(1).optional(),
  customKeyStoreId: z.string().min(1).optional(),
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
