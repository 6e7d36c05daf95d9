/**
 * Traffic providers move callers off a store before it is disconnected and back after it is
 * verified. `drain` returns a `DrainRecord` of exactly what it changed; the record lives in the
 * workflow's state, so `restore` undoes exactly that, even after a worker crash in between.
 *
 * Provider `none` changes nothing: an explicit choice (callers tolerate the outage, or traffic is
 * moved by other means), recorded as such in the audit.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DrainRecord } from '../src/domain/status';
import type { DrainSpec } from '../src/domain/request';
import { FAILURE_TYPES } from '../src/domain/errors';

export interface TrafficInput {
  readonly spec: DrainSpec;
  readonly region: string;
  readonly customKeyStoreId: string;
  readonly workflowId: string;
  readonly runId: string;
}

export interface RestoreOutcome {
  readonly restored: readonly Readonly<Record<string, unknown>>[];
  /** Changes someone else made during the window, left alone and reported. */
  readonly leftAlone: readonly Readonly<Record<string, unknown>>[];
}

function unsupported(spec: never): never {
  throw ApplicationFailure.nonRetryable(
    `unknown traffic provider ${JSON.stringify(spec)}`,
    FAILURE_TYPES.invalidRequest,
  );
}

export function createTrafficActivities() {
  function drainTraffic(input: TrafficInput): Promise<DrainRecord> {
    switch (input.spec.provider) {
      case 'none':
        return Promise.resolve({ provider: 'none', drainedAt: new Date().toISOString(), changes: [] });
      default:
        return unsupported(input.spec.provider);
    }
  }

  function verifyDrained(
    input: TrafficInput & { readonly record: DrainRecord },
  ): Promise<{ drained: boolean }> {
    switch (input.spec.provider) {
      case 'none':
        return Promise.resolve({ drained: true });
      default:
        return unsupported(input.spec.provider);
    }
  }

  function restoreTraffic(input: TrafficInput & { readonly record: DrainRecord }): Promise<RestoreOutcome> {
    switch (input.spec.provider) {
      case 'none':
        return Promise.resolve({ restored: [], leftAlone: [] });
      default:
        return unsupported(input.spec.provider);
    }
  }

  return { drainTraffic, verifyDrained, restoreTraffic };
}
