/**
 * Readiness probes (docs/probes.md): questions the runner asks before it takes a store down and
 * before it connects it again, the same ones KMS asks during ConnectCustomKeyStore. A connect
 * into a proxy or cluster that is not ready ends FAILED, and recovering costs a disconnect, a wait
 * and another connect with traffic drained throughout; asking first costs one call.
 *
 * - `xksHealth` (external key stores): the proxy's GetHealthStatus, signed with the proxy
 *   authentication credential the worker holds under the name `proxy` (the credential never
 *   enters the request or the run's history). Ready: it answered, and at least `minActive`
 *   external key managers are ACTIVE.
 * - `cloudHsmCluster` (CloudHSM key stores): CloudHSM v2 DescribeClusters on the store's cluster.
 *   Ready: the cluster is ACTIVE with at least `minActiveHsms` ACTIVE HSMs in at least
 *   `minAvailabilityZones` Availability Zones.
 */
import { z } from 'zod';
import { durationSchema } from './duration-schema';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

export const PROBE_LIMITS = {
  timeout: { default: 10 * SECOND, min: 1 * SECOND, max: 2 * MINUTE },
  checkEvery: { default: 30 * SECOND, min: 1 * SECOND, max: 30 * MINUTE },
  minActive: { default: 1, min: 1, max: 64 },
  minAvailabilityZones: { default: 1, min: 1, max: 6 },
} as const;

/** A worker-side name: letters, digits, `.`, `_`, `-`, as webhook controller names. */
export const PROXY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const count = (limits: { min: number; max: number }) =>
  z.number({ error: 'must be a whole number' }).int('must be a whole number').min(limits.min).max(limits.max);

/** The request's `probes` member (built per validation, like every request schema). */
export const probesSchema = () =>
  z
    .strictObject({
      xksHealth: z
        .strictObject({
          proxy: z
            .string({ error: 'must be the name of an XKS proxy credential configured on the worker' })
            .regex(
              PROXY_NAME_PATTERN,
              'must be the name of an XKS proxy credential configured on the worker (letters, digits, ".", "_", "-"), e.g. "payments-xks"',
            ),
          minActive: count(PROBE_LIMITS.minActive).optional(),
          /** Unreachable from the worker: wait like unhealthy (`block`) or connect anyway (`connect`). */
          ifUnreachable: z.enum(['block', 'connect']).optional(),
        })
        .optional(),
      cloudHsmCluster: z
        .strictObject({
          minActiveHsms: count(PROBE_LIMITS.minActive).optional(),
          minAvailabilityZones: count(PROBE_LIMITS.minAvailabilityZones).optional(),
        })
        .optional(),
      timeout: durationSchema(PROBE_LIMITS.timeout).optional(),
      checkEvery: durationSchema(PROBE_LIMITS.checkEvery).optional(),
      /** Take the store down even if the preflight probe finds it unhealthy (it is audited). */
      allowUnhealthyAtStart: z.boolean({ error: 'must be true or false' }).optional(),
    })
    .refine((p) => p.xksHealth !== undefined || p.cloudHsmCluster !== undefined, {
      message:
        'name at least one probe: "xksHealth" (external key stores) or "cloudHsmCluster" (CloudHSM key stores)',
    });

export type ProbesInput = z.input<ReturnType<typeof probesSchema>>;

export interface ResolvedProbes {
  readonly xksHealth?: {
    readonly proxy: string;
    readonly minActive: number;
    readonly ifUnreachable: 'block' | 'connect';
  };
  readonly cloudHsmCluster?: { readonly minActiveHsms: number; readonly minAvailabilityZones: number };
  readonly timeoutMs: number;
  readonly checkEveryMs: number;
  readonly allowUnhealthyAtStart: boolean;
}

export function resolveProbes(p: z.output<ReturnType<typeof probesSchema>>): ResolvedProbes {
  return {
    ...(p.xksHealth
      ? {
          xksHealth: {
            proxy: p.xksHealth.proxy,
            minActive: p.xksHealth.minActive ?? PROBE_LIMITS.minActive.default,
            ifUnreachable: p.xksHealth.ifUnreachable ?? 'block',
          },
        }
      : {}),
    ...(p.cloudHsmCluster
      ? {
          cloudHsmCluster: {
            minActiveHsms: p.cloudHsmCluster.minActiveHsms ?? PROBE_LIMITS.minActive.default,
            minAvailabilityZones:
              p.cloudHsmCluster.minAvailabilityZones ?? PROBE_LIMITS.minAvailabilityZones.default,
          },
        }
      : {}),
    timeoutMs: p.timeout ?? PROBE_LIMITS.timeout.default,
    checkEveryMs: p.checkEvery ?? PROBE_LIMITS.checkEvery.default,
    allowUnhealthyAtStart: p.allowUnhealthyAtStart ?? false,
  };
}

/**
 * What one probe found. `healthy`: ready for a connect. `unhealthy`: it answered and is not ready.
 * `unreachable`: the worker could not reach it (which, for a proxy behind a VPC endpoint service,
 * says nothing about what KMS can reach). `error`: the question could not be asked (no
 * credential configured, access denied, the store is of the other type): a human must fix it.
 */
export type ProbeStatus = 'healthy' | 'unhealthy' | 'unreachable' | 'error';

export interface ProbeResult {
  readonly probe: 'xksHealth' | 'cloudHsmCluster';
  readonly status: ProbeStatus;
  /** One stable sentence: equal sentences mean nothing changed. */
  readonly summary: string;
  readonly evidence: Record<string, unknown>;
}

export interface ReadinessReport {
  /** Every probe healthy (or unreachable with `ifUnreachable: connect`). */
  readonly ready: boolean;
  readonly checkedAt: string;
  readonly summary: string;
  readonly probes: readonly ProbeResult[];
}
