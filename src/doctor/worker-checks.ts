/**
 * The worker's own configuration, read as `keystore-maint worker` reads it at start (so `doctor
 * --worker` belongs where the worker runs, with its environment): the audit sink and its key, the
 * webhook traffic controllers and their secrets, the XKS proxy credentials and gate sources, the
 * KMS budget and the workflow bundle. Local
 * reads only; nothing is written or contacted. Secrets (the key, a database URL, a webhook secret)
 * are never printed: the key by its id only, the database by its table.
 */
import { tracedBundlePath, tracingEnabled } from '../tracing';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { auditConfigFromEnv, loadAuditKey, requiredAuditKeyFile, type AuditConfig } from '../audit';
import { GATES_ENV, GATES_FILE_ENV, gatesConfigFromEnvironment, type GatesConfig } from '../gates/config';
import { describeKmsBudget, kmsBudgetFromEnvironment } from '../kms/rate-limit';
import { XKS_PROXIES_ENV, XKS_PROXIES_FILE_ENV, xksProxiesFromEnvironment } from '../probes/xks-proxies';
import {
  WEBHOOK_CONTROLLERS_ENV,
  WEBHOOK_CONTROLLERS_FILE_ENV,
  webhookControllersFromEnvironment,
} from '../traffic/webhook-controllers';
import { messageOf, plural, result, type CheckResult } from './check';

const AUDIT_KEY_FIX =
  'create a key and point the worker at it: openssl rand -hex 32 > audit_key (a mounted secret the worker can read), ' +
  'KEYSTORE_MAINT_AUDIT_KEY_FILE=<its path> (docs/audit.md)';

function writableDirectory(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function describeSink(config: AuditConfig): string {
  switch (config.kind) {
    case 'file':
      return `file ${config.path}`;
    case 'stdout':
      return 'stdout';
    case 'postgres':
      // Never the URL: it carries a password.
      return `postgres, table ${config.table}`;
  }
}

function auditChecks(env: NodeJS.ProcessEnv): CheckResult[] {
  let config: AuditConfig;
  try {
    config = auditConfigFromEnv(env);
  } catch (err) {
    return [
      result(
        'worker.audit-sink',
        'fail',
        messageOf(err),
        'set KEYSTORE_MAINT_AUDIT_SINK to file (the default), stdout or postgres, with its settings (docs/audit.md)',
      ),
      result('worker.audit-key', 'skip', 'not checked: the audit sink configuration is unusable'),
    ];
  }
  const sink =
    config.kind === 'file' && !writableDirectory(dirname(config.path))
      ? result(
          'worker.audit-sink',
          'fail',
          `file ${config.path}: its directory ${dirname(config.path)} does not exist or is not writable`,
          'create the directory (mount a volume there) and let the worker write to it, or set KEYSTORE_MAINT_AUDIT_FILE (docs/audit.md)',
        )
      : result('worker.audit-sink', 'ok', describeSink(config));
  if (config.kind === 'stdout') {
    return [
      sink,
      result(
        'worker.audit-key',
        'ok',
        'not needed: the stdout sink is not sealed (your log pipeline keeps the record)',
      ),
    ];
  }
  try {
    const keyFile = requiredAuditKeyFile(config, env);
    if (keyFile === undefined) {
      return [
        sink,
        result(
          'worker.audit-key',
          'warn',
          'KEYSTORE_MAINT_AUDIT_UNKEYED=1: the trail is not sealed with a key, so anyone who can write it can rewrite it undetected (development only)',
          `${AUDIT_KEY_FIX}, and unset KEYSTORE_MAINT_AUDIT_UNKEYED`,
        ),
      ];
    }
    const key = loadAuditKey(keyFile);
    return [
      sink,
      result('worker.audit-key', 'ok', `${keyFile} is readable and long enough (key id ${key.id})`),
    ];
  } catch (err) {
    return [sink, result('worker.audit-key', 'fail', messageOf(err), AUDIT_KEY_FIX)];
  }
}

/** The entries of a worker-side registry (controllers, proxy credentials) for which `test` holds. */
function configuredWhere<T>(
  registry: { readonly names: readonly string[]; get(name: string): T | undefined },
  test: (entry: T) => boolean,
): T[] {
  return registry.names.flatMap((name) => {
    const entry = registry.get(name);
    return entry !== undefined && test(entry) ? [entry] : [];
  });
}

function webhookCheck(env: NodeJS.ProcessEnv): CheckResult {
  let controllers;
  try {
    controllers = webhookControllersFromEnvironment(env);
  } catch (err) {
    return result(
      'worker.webhook-controllers',
      'fail',
      messageOf(err),
      `fix ${WEBHOOK_CONTROLLERS_FILE_ENV} (or ${WEBHOOK_CONTROLLERS_ENV}): {"controllers": {"<name>": {"url": "https://…", "secretFile": "…"}}} (docs/traffic.md)`,
    );
  }
  const withoutSecret = configuredWhere(controllers, (c) => c.secret() === undefined);
  if (withoutSecret.length > 0) {
    return result(
      'worker.webhook-controllers',
      'fail',
      `no signing secret for ${withoutSecret.map((c) => `"${c.name}" (${c.secretSource} is missing or empty)`).join(', ')}: its drains would fail`,
      'put each controller\'s shared secret where its "secretFile" or "secretEnv" says (docs/traffic.md)',
    );
  }
  return result(
    'worker.webhook-controllers',
    'ok',
    controllers.names.length > 0
      ? `${plural(controllers.names.length, 'controller')}: ${controllers.names.join(', ')}${controllers.allowHttp ? ' (plain http allowed)' : ''}`
      : `none configured: runs with --drain webhook are refused (fine when none uses it; ${WEBHOOK_CONTROLLERS_FILE_ENV} configures them)`,
  );
}

function xksProxiesCheck(env: NodeJS.ProcessEnv): CheckResult {
  let proxies;
  try {
    proxies = xksProxiesFromEnvironment(env);
  } catch (err) {
    return result(
      'worker.xks-proxies',
      'fail',
      messageOf(err),
      `fix ${XKS_PROXIES_FILE_ENV} (or ${XKS_PROXIES_ENV}): {"proxies": {"<name>": {"accessKeyId": "…" or "accessKeyIdFile": "…", "secretFile": "…"}}} (docs/probes.md)`,
    );
  }
  const withoutKey = configuredWhere(proxies, (p) => p.accessKeyId() === undefined);
  if (withoutKey.length > 0) {
    return result(
      'worker.xks-proxies',
      'fail',
      `no usable access key id for ${withoutKey.map((p) => `"${p.name}" (${p.accessKeyIdSource} is missing, empty or not 20 to 30 characters of A-Z and 2-7)`).join(', ')}: its xksHealth probes would refuse every run`,
      'put each credential\'s AccessKeyId where its "accessKeyIdFile" says (docs/probes.md)',
    );
  }
  const withoutSecret = configuredWhere(proxies, (p) => p.secret() === undefined);
  if (withoutSecret.length > 0) {
    return result(
      'worker.xks-proxies',
      'fail',
      `no secret for ${withoutSecret.map((p) => `"${p.name}" (${p.secretSource} is missing or empty)`).join(', ')}: its xksHealth probes would refuse every run`,
      'put each credential\'s RawSecretAccessKey where its "secretFile" or "secretEnv" says (docs/probes.md)',
    );
  }
  return result(
    'worker.xks-proxies',
    'ok',
    proxies.names.length > 0
      ? `${plural(proxies.names.length, 'XKS proxy credential')}: ${proxies.names.join(', ')}`
      : `none configured: runs with an xksHealth probe are refused (fine when none uses one; ${XKS_PROXIES_FILE_ENV} configures them)`,
  );
}

/** The gates file, read once for the checks of its gate sources and its notification destinations. */
type GatesRead = { readonly config: GatesConfig } | { readonly error: unknown };

function readGates(env: NodeJS.ProcessEnv): GatesRead {
  try {
    return { config: gatesConfigFromEnvironment(env) };
  } catch (error) {
    return { error };
  }
}

function gatesCheck(read: GatesRead): CheckResult {
  try {
    if ('error' in read) throw read.error;
    const gates = read.config;
    const named = [
      ...gates.prometheusNames.map((n) => `prometheus ${n}`),
      ...gates.httpNames.map((n) => `http ${n}`),
    ];
    return result(
      'worker.gates',
      'ok',
      named.length > 0
        ? `${plural(named.length, 'gate source')}: ${named.join(', ')}${gates.allowHttp ? ' (plain http allowed)' : ''}`
        : `none configured: only CloudWatch alarm gates can be used (${GATES_FILE_ENV} configures Prometheus sources and HTTP gates)`,
    );
  } catch (err) {
    return result(
      'worker.gates',
      'fail',
      messageOf(err),
      `fix ${GATES_FILE_ENV} (or ${GATES_ENV}): {"prometheus": {"<name>": {"url": "https://…"}}, "http": {"<name>": {"url": "https://…"}}} (docs/gates.md)`,
    );
  }
}

/**
 * The notification destinations in the gates file. A URL or secret file that is missing now is a
 * warning, not a failure: deliveries read it when they run (and retry), so it can be put in place
 * later, but until then every notification to that destination fails.
 */
function notificationsCheck(read: GatesRead): CheckResult {
  if ('error' in read) {
    return result(
      'worker.notifications',
      'skip',
      'the gates file is unusable (see worker.gates)',
      `fix ${GATES_FILE_ENV} first (docs/notifications.md)`,
    );
  }
  const config = read.config.notifications;
  const names = config.destinationNames;
  if (names.length === 0) {
    return result(
      'worker.notifications',
      'ok',
      `none configured: runs with "notify" are refused (fine when none uses one; "notifications" in ${GATES_FILE_ENV} configures them)`,
    );
  }
  const unreadable = names.flatMap((name) => {
    const d = config.destination(name);
    if (!d || d.kind === 'sns') return [];
    const missing = [d.url, ...(d.kind === 'webhook' && d.secret ? [d.secret] : [])].filter(
      (v) => v.read() === undefined,
    );
    return missing.map((v) => `"${name}" (${v.source} is missing or empty)`);
  });
  const listed = names.map((n) => `${n} (${config.destination(n)?.kind ?? '?'})`).join(', ');
  if (unreadable.length > 0) {
    return result(
      'worker.notifications',
      'warn',
      `${plural(names.length, 'destination')}: ${listed}; unreadable now: ${unreadable.join(', ')}: every delivery to it fails until it is in place`,
      'write the webhook URL or signing secret where "urlFile" or "secretFile" says (docs/notifications.md)',
    );
  }
  return result(
    'worker.notifications',
    'ok',
    `${plural(names.length, 'destination')}: ${listed}${config.temporalUiUrl ? `; messages link to ${config.temporalUiUrl}` : '; no temporalUiUrl: messages carry run ids, not links'}`,
  );
}

function kmsBudgetCheck(env: NodeJS.ProcessEnv): CheckResult {
  try {
    return result('worker.kms-budget', 'ok', describeKmsBudget(kmsBudgetFromEnvironment(env)));
  } catch (err) {
    return result(
      'worker.kms-budget',
      'fail',
      messageOf(err),
      'fix KEYSTORE_MAINT_KMS_BUDGET_RPS (default 4; 0 = off) and KEYSTORE_MAINT_KMS_WORKERS (default 1) (docs/fleet.md)',
    );
  }
}

function bundleCheck(env: NodeJS.ProcessEnv): CheckResult {
  const bundle = env.KEYSTORE_MAINT_WORKFLOW_BUNDLE?.trim();
  if (!bundle) {
    return result(
      'worker.workflow-bundle',
      'ok',
      'KEYSTORE_MAINT_WORKFLOW_BUNDLE is not set: the worker bundles workflows/ at start',
    );
  }
  const traced = tracingEnabled(env) ? tracedBundlePath(bundle) : undefined;
  if (traced) {
    try {
      accessSync(traced, constants.R_OK);
    } catch (err) {
      return result(
        'worker.workflow-bundle',
        'fail',
        `tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT) but the traced bundle ${traced} cannot be read (${messageOf(err)}); the worker would not start`,
        'build both bundles with npm run build (it writes dist/workflow-bundle.js and dist/workflow-bundle.traced.js), or unset KEYSTORE_MAINT_WORKFLOW_BUNDLE',
      );
    }
  }
  try {
    accessSync(bundle, constants.R_OK);
    return result(
      'worker.workflow-bundle',
      'ok',
      `${bundle} is readable${traced ? `, and its traced twin ${traced}` : ''}`,
    );
  } catch (err) {
    return result(
      'worker.workflow-bundle',
      'fail',
      `KEYSTORE_MAINT_WORKFLOW_BUNDLE=${bundle} cannot be read (${messageOf(err)})`,
      'build it (npm run build writes dist/workflow-bundle.js) and point KEYSTORE_MAINT_WORKFLOW_BUNDLE at it, or unset it',
    );
  }
}

export function workerConfigChecks(env: NodeJS.ProcessEnv): CheckResult[] {
  const gates = readGates(env);
  return [
    ...auditChecks(env),
    webhookCheck(env),
    xksProxiesCheck(env),
    gatesCheck(gates),
    notificationsCheck(gates),
    kmsBudgetCheck(env),
    bundleCheck(env),
  ];
}
