/**
 * Traffic activities: plan (preflight), drain, verify, restore — one per step, dispatching to the
 * provider named in the request (see src/domain/traffic.ts). All are idempotent. The plan and the
 * drain record live in the workflow's state, so a worker crash anywhere between drain and restore
 * still restores exactly what was changed, and nothing else.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { DrainRecord } from '../src/domain/status';
import type { DrainPlan, DrainSpec, WebhookBody } from '../src/domain/traffic';
import { roleSessionNameFor, type KmsTarget } from '../src/domain/location';
import type { KmsClientProvider } from '../src/kms/client';
import type { WebhookControllers } from '../src/traffic/webhook-controllers';
import { aliasesDrained, drainAliases, planAliasDrain, restoreAliases } from './traffic-alias';
import { planWebhookDrain, sendWebhookAction, waitForWebhookState } from './traffic-webhook';

export interface TrafficInput extends KmsTarget {
  readonly spec: DrainSpec;
  readonly customKeyStoreId: string;
  readonly workflowId: string;
  readonly runId: string;
}

export interface RestoreOutcome {
  readonly restored: readonly Readonly<Record<string, unknown>>[];
  /** Changes someone else made during the window, left alone and reported. */
  readonly leftAlone: readonly Readonly<Record<string, unknown>>[];
}

export interface TrafficDeps {
  readonly kms: KmsClientProvider;
  /** The traffic controllers this worker may call, and their secrets (its configuration). */
  readonly webhookControllers: WebhookControllers;
}

function mismatch(spec: DrainSpec, plan: DrainPlan): never {
  throw ApplicationFailure.nonRetryable(
    `traffic plan for provider ${plan.provider} does not match the request's provider ${spec.provider}`,
    'TrafficPlanMismatch',
  );
}

function body(input: TrafficInput, action: WebhookBody['action']): WebhookBody {
  return {
    action,
    customKeyStoreId: input.customKeyStoreId,
    workflowId: input.workflowId,
    runId: input.runId,
  };
}

export function createTrafficActivities(deps: TrafficDeps) {
  /** Preflight: checks the provider's preconditions and records what restore will need. */
  async function planDrain(input: TrafficInput): Promise<DrainPlan> {
    const { spec } = input;
    switch (spec.provider) {
      case 'none':
        return { provider: 'none' };
      case 'alias':
        return planAliasDrain(
          deps.kms(input, roleSessionNameFor(input.customKeyStoreId)),
          spec,
          input.customKeyStoreId,
        );
      case 'webhook':
        return Promise.resolve(planWebhookDrain(spec, deps.webhookControllers));
    }
  }

  async function drainTraffic(input: TrafficInput & { readonly plan: DrainPlan }): Promise<DrainRecord> {
    const { spec, plan } = input;
    const drainedAt = () => new Date().toISOString();
    if (spec.provider === 'none' && plan.provider === 'none') {
      return { provider: 'none', drainedAt: drainedAt(), changes: [] };
    }
    if (spec.provider === 'alias' && plan.provider === 'alias') {
      const changes = await drainAliases(deps.kms(input, roleSessionNameFor(input.customKeyStoreId)), plan);
      return { provider: 'alias', drainedAt: drainedAt(), changes };
    }
    if (spec.provider === 'webhook' && plan.provider === 'webhook') {
      const sent = await sendWebhookAction(plan, deps.webhookControllers, body(input, 'drain'));
      return {
        provider: 'webhook',
        drainedAt: drainedAt(),
        changes: [
          {
            action: 'drain',
            ...(plan.controller ? { controller: plan.controller } : {}),
            url: plan.url,
            ...sent,
          },
        ],
      };
    }
    return mismatch(spec, plan);
  }

  async function verifyDrained(
    input: TrafficInput & { readonly plan: DrainPlan },
  ): Promise<{ drained: boolean; polls?: number }> {
    const { spec, plan } = input;
    if (spec.provider === 'none' && plan.provider === 'none') return { drained: true };
    if (spec.provider === 'alias' && plan.provider === 'alias') {
      return {
        drained: await aliasesDrained(deps.kms(input, roleSessionNameFor(input.customKeyStoreId)), plan),
      };
    }
    if (spec.provider === 'webhook' && plan.provider === 'webhook') {
      const { polls } = await waitForWebhookState(
        spec,
        plan,
        deps.webhookControllers,
        body(input, 'drain'),
        'drained',
      );
      return { drained: true, polls };
    }
    return mismatch(spec, plan);
  }

  async function restoreTraffic(input: TrafficInput & { readonly plan: DrainPlan }): Promise<RestoreOutcome> {
    const { spec, plan } = input;
    if (spec.provider === 'none' && plan.provider === 'none') return { restored: [], leftAlone: [] };
    if (spec.provider === 'alias' && plan.provider === 'alias')
      return restoreAliases(deps.kms(input, roleSessionNameFor(input.customKeyStoreId)), plan);
    if (spec.provider === 'webhook' && plan.provider === 'webhook') {
      const restore = body(input, 'restore');
      const sent = await sendWebhookAction(plan, deps.webhookControllers, restore);
      const { polls } = await waitForWebhookState(spec, plan, deps.webhookControllers, restore, 'restored');
      return {
        restored: [
          {
            action: 'restore',
            ...(plan.controller ? { controller: plan.controller } : {}),
            url: plan.url,
            ...sent,
            polls,
          },
        ],
        leftAlone: [],
      };
    }
    return mismatch(spec, plan);
  }

  return { planDrain, drainTraffic, verifyDrained, restoreTraffic };
}
