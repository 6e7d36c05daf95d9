/**
 * What a real run would do, step by step, for a dry run's result: phases, what each does, and
 * which KMS operations it would call. Pure: built from the validated request, the store's state
 * and the traffic plan preflight made.
 */
import type { ConnectionState } from '../src/domain/connection-state';
import { formatDuration } from '../src/domain/duration';
import type { ResolvedMaintenanceRequest } from '../src/domain/request';
import type { PlanStep } from '../src/domain/status';
import type { DrainPlan } from '../src/domain/traffic';

export function dryRunPlan(
  req: ResolvedMaintenanceRequest,
  state: ConnectionState,
  drainPlan: DrainPlan | undefined,
): PlanStep[] {
  const window = req.window;
  const windowText =
    'durationMs' in window
      ? formatDuration(window.durationMs)
      : `until ${new Date(window.untilMs).toISOString()}`;
  return [
    ...(req.approval.required
      ? [
          {
            phase: 'AWAITING_APPROVAL' as const,
            description: `wait up to ${formatDuration(req.approval.timeoutMs)} for approval`,
            kmsOperations: [],
          },
        ]
      : []),
    {
      phase: 'DRAINING',
      description: describeDrain(req, drainPlan),
      kmsOperations: req.drain.provider === 'alias' ? ['UpdateAlias'] : [],
    },
    {
      phase: 'DISCONNECTING',
      description: state === 'DISCONNECTED' ? 'store already DISCONNECTED: no call' : 'disconnect the store',
      kmsOperations: state === 'DISCONNECTED' ? [] : ['DisconnectCustomKeyStore'],
    },
    {
      phase: 'WAITING_DISCONNECTED',
      description: `poll every ~${formatDuration(req.pollIntervalMs)} until DISCONNECTED (at most ${formatDuration(req.timeouts.disconnectMs)})`,
      kmsOperations: ['DescribeCustomKeyStores'],
    },
    {
      phase: 'IN_WINDOW',
      description: `hold the window ${windowText} (extensions up to ${formatDuration(req.maxWindowMs)} in all)`,
      kmsOperations: [],
    },
    {
      phase: 'RECONNECTING',
      description: `${
        req.probes
          ? `first ask the readiness probes (${probeNames(req)}) every ${formatDuration(req.probes.checkEveryMs)} and hold the store disconnected until they say ready (at most ${formatDuration(req.maxWindowMs)} from the window's start), then `
          : ''
      }connect the store (up to ${req.reconnectAttempts} attempts for transient errors)`,
      kmsOperations: ['ConnectCustomKeyStore'],
    },
    {
      phase: 'WAITING_CONNECTED',
      description: `poll until CONNECTED (at most ${formatDuration(req.timeouts.connectMs)})`,
      kmsOperations: ['DescribeCustomKeyStores'],
    },
    {
      phase: 'VERIFYING',
      description: `confirm CONNECTED: every read for ${formatDuration(req.confirmSettleMs)} must agree${
        req.canaryKeyId ? `; then the canary with ${req.canaryKeyId}` : ''
      }`,
      kmsOperations: req.canaryKeyId
        ? ['DescribeCustomKeyStores', 'GenerateDataKey', 'Decrypt']
        : ['DescribeCustomKeyStores'],
    },
    {
      phase: 'RESTORING',
      description: `restore traffic with provider ${req.drain.provider}`,
      kmsOperations: req.drain.provider === 'alias' ? ['ListAliases', 'UpdateAlias'] : [],
    },
  ];
}

function probeNames(req: ResolvedMaintenanceRequest): string {
  return [req.probes?.xksHealth ? 'xksHealth' : '', req.probes?.cloudHsmCluster ? 'cloudHsmCluster' : '']
    .filter(Boolean)
    .join(', ');
}

function describeDrain(req: ResolvedMaintenanceRequest, plan: DrainPlan | undefined): string {
  const settle = req.drain.settle ? `, then settle ${formatDuration(req.drain.settle)}` : '';
  switch (plan?.provider) {
    case 'alias':
      return `point ${plan.aliases.map((a) => `${a.aliasName} (now ${a.originalTargetKeyId})`).join(', ')} at ${plan.fallbackKeyId}${settle}`;
    case 'webhook':
      return `POST drain to ${plan.url}, poll ${plan.statusUrl} until drained${settle}`;
    default:
      return `no traffic change (provider none)${settle}`;
  }
}
