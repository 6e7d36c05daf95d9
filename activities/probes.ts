/**
 * Readiness probe activities (docs/probes.md). `probeReadiness` asks every probe of the request
 * once; `awaitReadiness` asks every `checkEvery` until the store is ready, the answer changes, or
 * the deadline passes — so a run that waits hours for a proxy to recover records one activity per
 * change of the answer, not one per check, and its history does not grow with the wait.
 */
import { DescribeCustomKeyStoresCommand, type CustomKeyStoresListEntry } from '@aws-sdk/client-kms';
import { Context, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { redactSecrets } from '../src/audit/secrets';
import { FAILURE_TYPES } from '../src/domain/errors';
import { roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import type { ProbeResult, ReadinessReport, ResolvedProbes } from '../src/domain/probes';
import { kmsFailure } from '../src/kms/errors';
import { probeCloudHsmCluster, type CloudHsmClientProvider } from '../src/probes/cloudhsm-cluster';
import { probeXksHealth } from '../src/probes/xks-health';
import type { XksProxies } from '../src/probes/xks-proxies';
import { budgetedKmsCall, type KmsCallDeps } from './kms-call';

export interface ProbeActivityDeps extends KmsCallDeps {
  /** The XKS proxy credentials configured on the worker, by name. */
  readonly xksProxies: XksProxies;
  readonly cloudHsm: CloudHsmClientProvider;
}

export interface ProbeInput extends KmsTarget {
  readonly customKeyStoreId: string;
  readonly probes: ResolvedProbes;
}

export interface AwaitReadinessInput extends ProbeInput {
  /** Epoch ms: past it, the last report is returned, ready or not. */
  readonly untilMs: number;
  /** The summary the workflow already has: a report with another one is returned at once. */
  readonly lastSummary?: string | undefined;
}

export function createProbeActivities(deps: ProbeActivityDeps) {
  async function describe(
    input: ProbeInput,
  ): Promise<{ entry: CustomKeyStoresListEntry; requestId?: string }> {
    try {
      const out = await budgetedKmsCall(
        deps,
        {
          target: input,
          operation: 'DescribeCustomKeyStores',
          sessionName: roleSessionNameFor(input.customKeyStoreId),
        },
        (kms) => kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: input.customKeyStoreId })),
      );
      const entry = out.CustomKeyStores?.[0];
      if (!entry) {
        throw ApplicationFailure.nonRetryable(
          `custom key store ${input.customKeyStoreId} was not found in ${input.region}`,
          FAILURE_TYPES.keyStoreNotFound,
        );
      }
      return { entry, ...(out.$metadata.requestId ? { requestId: out.$metadata.requestId } : {}) };
    } catch (err) {
      if (err instanceof ApplicationFailure || err instanceof CancelledFailure) throw err;
      throw kmsFailure(err, {
        operation: 'DescribeCustomKeyStores',
        customKeyStoreId: input.customKeyStoreId,
      });
    }
  }

  async function check(input: ProbeInput): Promise<ReadinessReport> {
    const { entry } = await describe(input);
    const type = entry.CustomKeyStoreType ?? 'AWS_CLOUDHSM';
    const { probes } = input;
    const results: Promise<ProbeResult>[] = [];
    // A fleet's template may name both probes: each store gets the one for its type.
    if (probes.xksHealth && type === 'EXTERNAL_KEY_STORE') {
      const spec = probes.xksHealth;
      results.push(
        probeXksHealth(
          {
            customKeyStoreId: input.customKeyStoreId,
            region: input.region,
            connectivity: entry.XksProxyConfiguration?.Connectivity,
            uriEndpoint: entry.XksProxyConfiguration?.UriEndpoint,
            uriPath: entry.XksProxyConfiguration?.UriPath,
            accessKeyId: entry.XksProxyConfiguration?.AccessKeyId,
            vpcEndpointServiceName: entry.XksProxyConfiguration?.VpcEndpointServiceName,
          },
          deps.xksProxies.get(spec.proxy),
          spec.proxy,
          { minActive: spec.minActive, timeoutMs: probes.timeoutMs },
        ),
      );
    }
    if (probes.cloudHsmCluster && type === 'AWS_CLOUDHSM') {
      results.push(
        probeCloudHsmCluster(
          deps.cloudHsm(input, roleSessionNameFor(input.customKeyStoreId)),
          entry.CloudHsmClusterId,
          probes.cloudHsmCluster,
        ),
      );
    }
    if (results.length === 0) results.push(Promise.resolve(noProbeFor(type)));
    // Evidence enters the history and the audit trail, whose sinks refuse anything secret-looking.
    const done = (await Promise.all(results)).map((r) => ({ ...r, evidence: redactSecrets(r.evidence) }));
    for (const r of done) deps.metrics?.probeResult(r.probe, r.status);
    const ready = done.every(
      (r) =>
        r.status === 'healthy' ||
        (r.status === 'unreachable' &&
          r.probe === 'xksHealth' &&
          probes.xksHealth?.ifUnreachable === 'connect'),
    );
    return {
      ready,
      checkedAt: new Date().toISOString(),
      summary: done.map((r) => `${r.probe} ${r.status}: ${r.summary}`).join('; '),
      probes: done,
    };
  }

  return {
    /** Every probe of the request, once. */
    async probeReadiness(input: ProbeInput): Promise<ReadinessReport> {
      return check(input);
    },

    /**
     * Probes every `checkEvery` (heartbeating with the last report) until ready, a summary other
     * than `lastSummary`, or `untilMs`; a cancelled activity stops at once.
     */
    async awaitReadiness(input: AwaitReadinessInput): Promise<ReadinessReport> {
      const ctx = Context.current();
      for (;;) {
        const report = await check(input);
        ctx.heartbeat({ summary: report.summary, checkedAt: report.checkedAt });
        if (report.ready || report.summary !== input.lastSummary || Date.now() >= input.untilMs)
          return report;
        const next = Math.min(input.probes.checkEveryMs, Math.max(0, input.untilMs - Date.now()));
        const end = Date.now() + next;
        // Short sleeps, each with a heartbeat, so cancellation and a dead worker are seen quickly.
        for (let left = next; left > 0; left = end - Date.now()) {
          await sleep(Math.min(left, 2_000));
          ctx.heartbeat({ summary: report.summary, checkedAt: report.checkedAt });
        }
      }
    },
  };
}

/** The request's probes are all for the other type of store: a mistake, not a pass. */
function noProbeFor(type: string): ProbeResult {
  const wanted = type === 'EXTERNAL_KEY_STORE' ? 'xksHealth' : 'cloudHsmCluster';
  return {
    probe: wanted,
    status: 'error',
    summary: `the store is ${type} and the request has no probe for it; add "${wanted}" to "probes"`,
    evidence: { storeType: type },
  };
}
