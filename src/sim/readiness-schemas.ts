/**
 * Request shapes of the control API's CloudHSM cluster and XKS proxy routes (cluster-control.ts,
 * xks-control.ts). Strict, like every control-API shape: a misspelt field is an error naming it.
 */
import { z } from 'zod';
import {
  AVAILABILITY_ZONE_PATTERN,
  CLUSTER_ID_PATTERN,
  CLUSTER_STATES,
  HSM_STATES,
} from './cloudhsm-clusters';
import { ACCOUNT_PATTERN, delaySchema, REGION_PATTERN } from './config';
import { EKM_HEALTH_STATUSES } from './xks-proxies';

const stateMessageSchema = z.string().max(300);

export const hsmInputSchema = z.strictObject({
  /** `<Region><letter>` of the cluster's Region; default: the next of a, b, c, … */
  AvailabilityZone: z
    .string()
    .regex(AVAILABILITY_ZONE_PATTERN, 'must be an Availability Zone like us-east-1a')
    .optional(),
  /** Default ACTIVE. */
  State: z.enum(HSM_STATES).optional(),
  StateMessage: stateMessageSchema.optional(),
});

export type HsmControlInput = z.infer<typeof hsmInputSchema>;

/** `POST /_sim/clusters`: creates a cluster, or replaces the one with that `ClusterId`. */
export const clusterInputSchema = z.strictObject({
  Account: z.string().regex(ACCOUNT_PATTERN, 'must be a 12-digit AWS account id').optional(),
  Region: z.string().regex(REGION_PATTERN, 'must be a Region like us-east-1').optional(),
  ClusterId: z.string().regex(CLUSTER_ID_PATTERN, 'must match ^cluster-[2-7a-zA-Z]{11,16}$').optional(),
  /** Default ACTIVE. */
  State: z.enum(CLUSTER_STATES).optional(),
  StateMessage: stateMessageSchema.optional(),
  HsmType: z
    .string()
    .max(32)
    .regex(/^(p|)hsm[0-9][a-z.]*\.[a-zA-Z]+$/, 'must be an HSM type like hsm1.medium')
    .optional(),
  VpcId: z
    .string()
    .regex(/^vpc-[0-9a-fA-F]{8,17}$/, 'must be a VPC id like vpc-0123456789abcdef0')
    .optional(),
  /** Default: two ACTIVE HSMs in the Region's first two Availability Zones; `[]` for none. */
  Hsms: z.array(hsmInputSchema).max(28).optional(),
});

export type ClusterControlInput = z.infer<typeof clusterInputSchema>;

/** `PATCH /_sim/clusters/:id`. `StateMessage: null` removes the message. */
export const clusterPatchSchema = z.strictObject({
  State: z.enum(CLUSTER_STATES).optional(),
  StateMessage: stateMessageSchema.nullable().optional(),
});

/** `PATCH /_sim/clusters/:id/hsms/:hsmId`. */
export const hsmPatchSchema = z.strictObject({
  State: z.enum(HSM_STATES).optional(),
  StateMessage: stateMessageSchema.nullable().optional(),
});

export const ekmInputSchema = z.strictObject({
  healthStatus: z.enum(EKM_HEALTH_STATUSES),
  /** Default `ekm-<position>`. */
  id: z.string().min(1).max(128).optional(),
  /** Default `Simulated EKM 1.0`. */
  model: z.string().min(1).max(128).optional(),
});

export const xksFailureSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('unreachable') }),
  z.strictObject({ mode: z.literal('timeout'), delayMs: delaySchema }),
  z.strictObject({ mode: z.literal('invalidResponse') }),
  z.strictObject({ mode: z.literal('accessDenied') }),
]);

/** `PATCH /_sim/xks-proxies/:customKeyStoreId`. `failure: null` clears the failure mode. */
export const xksProxyPatchSchema = z.strictObject({
  /** One to ten entries, as the XKS specification requires of an answer. */
  ekmFleetDetails: z.array(ekmInputSchema).min(1).max(10).optional(),
  xksProxyFleetSize: z.int().min(1).max(1000).optional(),
  failure: xksFailureSchema.nullable().optional(),
});

export type XksProxyPatch = z.infer<typeof xksProxyPatchSchema>;
