/**
 * The Temporal checks, with the settings every command uses (`temporalSettings`): the frontend is
 * reachable, the namespace exists, the search attributes are registered as Keyword, and a worker
 * polls the task queue and its `-kms` queue. Each gRPC call has the check's time limit as its
 * deadline; when one check fails, those that depend on it are reported as not checked.
 */
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { kmsTaskQueue } from '../domain/kms-budget';
import { SEARCH_ATTRIBUTES } from '../domain/names';
import { temporalSettings, type TemporalSettings } from '../temporal/connection';
import {
  bounded,
  formatMs,
  messageOf,
  plural,
  result,
  shellWord,
  type CheckName,
  type CheckResult,
  type DoctorSettings,
} from './check';

/**
 * A poller last seen longer ago than this has stopped. A live worker's poll is a long poll that
 * the server answers within about a minute, after which the worker polls again, so its last
 * access time is never much older than that. (A worker that stopped more recently still shows.)
 */
export const POLLER_STALE_MS = 120_000;

// gRPC status codes.
const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_UNAUTHENTICATED = 16;

// Values of temporal.api.enums.v1.
const NAMESPACE_STATE_REGISTERED = 1;
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;
const INDEXED_VALUE_TYPE_KEYWORD = 2;
const INDEXED_VALUE_TYPES: Readonly<Record<number, string>> = {
  1: 'Text',
  2: 'Keyword',
  3: 'Int',
  4: 'Double',
  5: 'Bool',
  6: 'Datetime',
  7: 'KeywordList',
};

const DEPENDENT_CHECKS: readonly CheckName[] = [
  'temporal.namespace',
  'temporal.search-attributes',
  'temporal.worker',
  'temporal.kms-worker',
];

/** A gRPC call with the check's deadline (and a time limit around it, should the deadline not hold). */
type Call = <T>(fn: () => Promise<T>) => Promise<T>;

function grpcCode(err: unknown): number | undefined {
  return isGrpcServiceError(err) ? Number(err.code) : undefined;
}

function errorText(err: unknown): string {
  if (isGrpcServiceError(err)) return err.details || err.message;
  return messageOf(err);
}

function authFix(err: unknown): string | undefined {
  const code = grpcCode(err);
  if (code === GRPC_UNAUTHENTICATED || code === GRPC_PERMISSION_DENIED) {
    return 'the server refused these credentials: check TEMPORAL_API_KEY or the TLS client certificate, and that they grant access to this namespace';
  }
  return undefined;
}

const OTHER_FIX = 'check the Temporal settings and the server logs';

function unreachableFix(env: NodeJS.ProcessEnv): string {
  const parts = [
    'start a local server with `keystore-maint dev-server`, or point TEMPORAL_ADDRESS (or --address, or a TOML profile: TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) at your Temporal frontend',
    'with mTLS set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (and TEMPORAL_TLS_SERVER_CA_CERT_PATH), on Temporal Cloud TEMPORAL_API_KEY (docs/operations.md)',
  ];
  if (env.TEMPORAL_API_KEY !== undefined && env.TEMPORAL_API_KEY.trim() === '') {
    parts.unshift('TEMPORAL_API_KEY is set but empty, which turns TLS on: unset it for a plaintext server');
  }
  return parts.join('; ');
}

function formatSeconds(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  return `${seconds}s`;
}

export async function temporalChecks(settings: DoctorSettings): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const withSkipped = (why: string): CheckResult[] => [
    ...results,
    ...DEPENDENT_CHECKS.filter((name) => !results.some((r) => r.name === name)).map((name) =>
      result(name, 'skip', `not checked: ${why}`),
    ),
  ];

  let temporal: TemporalSettings;
  try {
    temporal = temporalSettings({
      ...(settings.address ? { address: settings.address } : {}),
      ...(settings.namespace ? { namespace: settings.namespace } : {}),
      ...(settings.profile ? { profile: settings.profile } : {}),
      env: settings.env,
    });
  } catch (err) {
    results.push(
      result(
        'temporal.connection',
        'fail',
        `the Temporal client configuration cannot be read: ${messageOf(err)}`,
        'fix the TOML profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE or --profile) or the TEMPORAL_* variables',
      ),
    );
    return withSkipped('the Temporal settings cannot be read');
  }

  const { address, namespace } = temporal;
  const { tls, apiKey, metadata } = temporal.connectionOptions;
  const security = apiKey !== undefined ? 'API key, TLS' : tls ? 'TLS' : 'plaintext';
  const limit = settings.timeoutMs;
  let connection: Connection;
  try {
    connection = await bounded(
      limit + 1_000,
      Connection.connect({
        address,
        ...(tls !== undefined ? { tls } : {}),
        ...(apiKey !== undefined ? { apiKey } : {}),
        ...(metadata !== undefined ? { metadata } : {}),
        connectTimeout: limit,
      }),
      (late) => void late.close(),
    );
  } catch (err) {
    results.push(
      result(
        'temporal.connection',
        'fail',
        `cannot reach Temporal at ${address} (${security}): ${errorText(err)}`,
        authFix(err) ?? unreachableFix(settings.env),
      ),
    );
    return withSkipped('Temporal is not reachable');
  }

  const call: Call = (fn) => bounded(limit + 1_000, connection.withDeadline(Date.now() + limit, fn));
  try {
    let version = '';
    try {
      const info = await call(() => connection.workflowService.getSystemInfo({}));
      if (info.serverVersion) version = `Temporal ${info.serverVersion}, `;
    } catch {
      // Reachable all the same (connecting asked the same question); the version is a nicety.
    }
    results.push(result('temporal.connection', 'ok', `reachable at ${address} (${version}${security})`));

    try {
      const described = await call(() => connection.workflowService.describeNamespace({ namespace }));
      const state = described.namespaceInfo?.state;
      if (state !== undefined && state !== null && Number(state) !== NAMESPACE_STATE_REGISTERED) {
        results.push(
          result(
            'temporal.namespace',
            'fail',
            `namespace ${namespace} exists but is not active (state ${String(state)})`,
            'use an active namespace: set TEMPORAL_NAMESPACE (or --namespace)',
          ),
        );
        return withSkipped(`namespace ${namespace} is not active`);
      }
      const ttl = Number(described.config?.workflowExecutionRetentionTtl?.seconds?.toString() ?? 0);
      const retention = ttl > 0 ? `, retention ${formatSeconds(ttl)}` : '';
      results.push(result('temporal.namespace', 'ok', `${namespace} exists${retention}`));
    } catch (err) {
      const notFound = grpcCode(err) === GRPC_NOT_FOUND;
      results.push(
        notFound
          ? result(
              'temporal.namespace',
              'fail',
              `namespace ${namespace} does not exist at ${address}`,
              `set TEMPORAL_NAMESPACE (or --namespace) to your deployment's namespace, or create it: temporal operator namespace create --address ${shellWord(address)} --retention 30d ${shellWord(namespace)} (Temporal Cloud: in the Cloud UI)`,
            )
          : result(
              'temporal.namespace',
              'fail',
              `DescribeNamespace ${namespace} failed: ${errorText(err)}`,
              authFix(err) ?? OTHER_FIX,
            ),
      );
      return withSkipped(`namespace ${namespace} could not be described`);
    }

    results.push(await searchAttributesCheck(connection, call, address, namespace));
    results.push(...(await workerChecks(connection, call, namespace, settings.taskQueue)));
    return results;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function searchAttributesCheck(
  connection: Connection,
  call: Call,
  address: string,
  namespace: string,
): Promise<CheckResult> {
  const expected = Object.values(SEARCH_ATTRIBUTES).map((key) => key.name);
  const create =
    `temporal operator search-attribute create --address ${shellWord(address)} --namespace ${shellWord(namespace)} ` +
    expected.map((name) => `--name ${name} --type Keyword`).join(' ');
  let custom: Readonly<Record<string, number | undefined>>;
  try {
    const listed = await call(() => connection.operatorService.listSearchAttributes({ namespace }));
    custom = listed.customAttributes ?? {};
  } catch (err) {
    const code = grpcCode(err);
    return result(
      'temporal.search-attributes',
      'fail',
      `ListSearchAttributes in ${namespace} failed: ${errorText(err)}`,
      code === GRPC_UNIMPLEMENTED || code === GRPC_PERMISSION_DENIED
        ? `these credentials may not list search attributes: check in the UI (namespace → search attributes) that ${expected.join(' and ')} are Keyword, or register them: ${create}`
        : `${OTHER_FIX}; to register them: ${create}`,
    );
  }
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const name of expected) {
    const type = custom[name];
    if (type === undefined) missing.push(name);
    else if (Number(type) !== INDEXED_VALUE_TYPE_KEYWORD) {
      wrong.push(`${name} is ${INDEXED_VALUE_TYPES[Number(type)] ?? String(type)}`);
    }
  }
  if (missing.length === 0 && wrong.length === 0) {
    return result(
      'temporal.search-attributes',
      'ok',
      `${expected.join(' and ')} are registered as Keyword in ${namespace}`,
    );
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  if (missing.length > 0) {
    problems.push(`not registered: ${missing.join(', ')}`);
    fixes.push(
      `register them (harmless for those that exist): ${create} (Temporal Cloud: the Cloud UI, or tcld namespace search-attributes add)`,
    );
  }
  if (wrong.length > 0) {
    problems.push(`not Keyword: ${wrong.join(', ')}`);
    fixes.push(
      'a search attribute cannot change its type: remove it (temporal operator search-attribute remove --name <name>) and create it as Keyword, or give keystore-maint a namespace of its own',
    );
  }
  return result(
    'temporal.search-attributes',
    'fail',
    `in ${namespace}: ${problems.join('; ')}; runs cannot start without them`,
    fixes.join('; '),
  );
}

interface Pollers {
  /** Pollers seen within `POLLER_STALE_MS`. */
  readonly live: number;
  readonly stale: number;
  /** How long ago the newest poll was, when the server said. */
  readonly newestAgoMs: number | undefined;
}

async function pollersOf(
  connection: Connection,
  call: Call,
  namespace: string,
  taskQueue: string,
  taskQueueType: number,
): Promise<Pollers> {
  const described = await call(() =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
    }),
  );
  const now = Date.now();
  let live = 0;
  let stale = 0;
  let newestAgoMs: number | undefined;
  for (const poller of described.pollers ?? []) {
    const at = poller.lastAccessTime;
    const agoMs =
      at?.seconds === undefined || at.seconds === null
        ? undefined
        : Math.max(0, now - (Number(at.seconds.toString()) * 1_000 + Math.floor((at.nanos ?? 0) / 1e6)));
    if (agoMs !== undefined && agoMs > POLLER_STALE_MS) stale++;
    else live++;
    if (agoMs !== undefined && (newestAgoMs === undefined || agoMs < newestAgoMs)) newestAgoMs = agoMs;
  }
  return { live, stale, newestAgoMs };
}

function pollerText(kind: string, pollers: Pollers): string {
  const stale =
    pollers.stale > 0
      ? ` (${pollers.stale} more stopped polling ${formatMs(POLLER_STALE_MS)} or longer ago)`
      : '';
  return `${plural(pollers.live, `${kind} poller`)}${stale}`;
}

function lastPoll(pollers: Pollers): string {
  return pollers.newestAgoMs === undefined ? '' : `, last poll ${formatMs(pollers.newestAgoMs)} ago`;
}

async function workerChecks(
  connection: Connection,
  call: Call,
  namespace: string,
  taskQueue: string,
): Promise<CheckResult[]> {
  const kmsQueue = kmsTaskQueue(taskQueue);
  const startWorker =
    `start a worker on this task queue: KEYSTORE_MAINT_TASK_QUEUE=${shellWord(taskQueue)} keystore-maint worker ` +
    '(same TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE; clients, schedules and workers must agree on the task queue)';
  const results: CheckResult[] = [];

  try {
    const [workflows, activities] = await Promise.all([
      pollersOf(connection, call, namespace, taskQueue, TASK_QUEUE_TYPE_WORKFLOW),
      pollersOf(connection, call, namespace, taskQueue, TASK_QUEUE_TYPE_ACTIVITY),
    ]);
    const counts = `${pollerText('workflow', workflows)}, ${pollerText('activity', activities)}`;
    if (workflows.live > 0 && activities.live > 0) {
      results.push(result('temporal.worker', 'ok', `${taskQueue}: ${counts}${lastPoll(workflows)}`));
    } else {
      results.push(
        result(
          'temporal.worker',
          'fail',
          `no worker polls task queue ${taskQueue} in ${namespace}: ${counts}; runs would wait and never start`,
          startWorker,
        ),
      );
    }
  } catch (err) {
    results.push(
      result(
        'temporal.worker',
        'fail',
        `DescribeTaskQueue ${taskQueue} failed: ${errorText(err)}`,
        authFix(err) ?? OTHER_FIX,
      ),
    );
  }

  try {
    const kms = await pollersOf(connection, call, namespace, kmsQueue, TASK_QUEUE_TYPE_ACTIVITY);
    results.push(
      kms.live > 0
        ? result('temporal.kms-worker', 'ok', `${kmsQueue}: ${pollerText('activity', kms)}${lastPoll(kms)}`)
        : result(
            'temporal.kms-worker',
            'fail',
            `no worker polls ${kmsQueue} (the queue of the custom-key-store calls) in ${namespace}: ${pollerText('activity', kms)}; disconnects, connects and the waits for them would never run`,
            `${startWorker}; a keystore-maint worker polls ${kmsQueue} by itself (a worker of an older release does not: upgrade it)`,
          ),
    );
  } catch (err) {
    results.push(
      result(
        'temporal.kms-worker',
        'fail',
        `DescribeTaskQueue ${kmsQueue} failed: ${errorText(err)}`,
        authFix(err) ?? OTHER_FIX,
      ),
    );
  }
  return results;
}
