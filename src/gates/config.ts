/**
 * The Prometheus servers and HTTP gates a worker may ask, and the credentials for each: the
 * worker's configuration, never the request's. A request names a source; the worker decides
 * where it is and what authenticates to it. So whoever can start a run can neither point the
 * worker at a server of their own (an SSRF into the worker's network, or a gate that always says
 * "open") nor make it send a credential meant for another server.
 *
 * Configuration, read once at worker start (`gatesConfigFromEnvironment`):
 * - `KEYSTORE_MAINT_GATES_FILE`: a JSON file, or `KEYSTORE_MAINT_GATES`: the same JSON inline —
 *   `{"prometheus": {"main": {"url": "https://prometheus.internal:9090",
 *   "bearerTokenFile": "/run/secrets/prometheus-token"}}, "http": {"change-freeze":
 *   {"url": "https://freeze.internal/gate", "secretFile": "/run/secrets/freeze-gate"}}}`;
 *   a Prometheus source may instead name a `basicAuthFile` holding `user:password`, and any source
 *   a `timeout` (default 10 s, 1 s to 1 min);
 * - `https://` only, unless `KEYSTORE_MAINT_GATES_ALLOW_HTTP=1` (development: plain http lets
 *   anyone on the path read and fake answers); no credentials or fragment in a URL, and no query
 *   in a Prometheus URL (the API path is appended to it).
 *
 * The same file names the worker's hooks (docs/hooks.md): `"hooks": {"change-mgmt": {"url":
 * "https://…", "secretFile": "…", "timeout": "10s"}}`. A hook is an HTTP endpoint with a signing
 * secret, exactly like an HTTP gate (the same signed POST, the same signed answer), so it lives
 * beside them rather than in a file of its own: one place to configure the services the worker
 * may call before and after a drain, one `ALLOW_HTTP` switch, and no new worker wiring.
 *
 * It also names the worker's notification destinations (`"notifications"`, src/notify/config.ts,
 * docs/notifications.md) and the Temporal Web UI their messages link to (`"temporalUiUrl"`).
 *
 * Credential files are read when used, so a rotated file takes effect without a restart; a
 * configured file that is missing or empty blocks its gate (it is never asked unauthenticated),
 * and leaves its hook unanswered (a veto at `beforeDrain`, unless the request says otherwise).
 */
import { readFileSync } from 'node:fs';
import { fileValue, type ReadWhenUsed } from '../util/read-when-used';
import { z } from 'zod';
import { durationSchema } from '../domain/duration-schema';
import { GATE_SOURCE_NAME_PATTERN } from '../domain/gates';
import {
  destinationSchema,
  NO_NOTIFICATIONS,
  NotificationsConfigError,
  notificationsConfig,
  type NotificationsConfig,
} from '../notify/config';

export const GATES_ENV = 'KEYSTORE_MAINT_GATES';
export const GATES_FILE_ENV = 'KEYSTORE_MAINT_GATES_FILE';
export const GATES_ALLOW_HTTP_ENV = 'KEYSTORE_MAINT_GATES_ALLOW_HTTP';

/** How long one check of a gate may take unless its source says otherwise. */
export const DEFAULT_GATE_TIMEOUT_MS = 10_000;

/** A configured credential, read when used. */
export type GateCredential = ReadWhenUsed;

export interface PrometheusSource {
  readonly name: string;
  /** The server's base URL, without a trailing slash (`/api/v1/...` is appended). */
  readonly url: string;
  readonly timeoutMs: number;
  /** The `Authorization` header's credential: a bearer token or a basic `user:password`. */
  readonly auth: ({ readonly scheme: 'Bearer' | 'Basic' } & GateCredential) | undefined;
}

export interface HttpGateTarget {
  readonly name: string;
  readonly url: string;
  readonly timeoutMs: number;
  /** Signs requests and must sign answers (src/traffic/webhook-signature.ts); absent: unsigned. */
  readonly secret: GateCredential | undefined;
}

/** A hook (docs/hooks.md): called like an HTTP gate; `timeoutMs` bounds all its attempts together. */
export type HookTarget = HttpGateTarget;

export interface GatesConfig {
  prometheus(name: string): PrometheusSource | undefined;
  http(name: string): HttpGateTarget | undefined;
  hook(name: string): HookTarget | undefined;
  readonly prometheusNames: readonly string[];
  readonly httpNames: readonly string[];
  readonly hookNames: readonly string[];
  /** Notification destinations (`"notifications"`, src/notify/config.ts) and the UI link base. */
  readonly notifications: NotificationsConfig;
  /** Plain http allowed (development only). */
  readonly allowHttp: boolean;
}

/** The worker's gate configuration is unusable; the message names the field and the fix. */
export class GatesConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatesConfigError';
  }
}

const EXAMPLE =
  '{"prometheus": {"<name>": {"url": "https://…", "bearerTokenFile": "…"}}, "http": {"<name>": {"url": "https://…", "secretFile": "…"}}, "hooks": {"<name>": {"url": "https://…", "secretFile": "…", "timeout": "10s"}}, "notifications": {"<name>": {"kind": "slack", "urlFile": "…"}}, "temporalUiUrl": "https://…"}';

const timeout = () => durationSchema({ min: 1_000, max: 60_000 }).optional();
const file = () => z.string().min(1, 'must be a file path').optional();
/** A map from names a request can spell (GATE_SOURCE_NAME_PATTERN) to `value`. */
const named = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).superRefine((map, ctx) => {
    for (const key of Object.keys(map).filter((k) => !GATE_SOURCE_NAME_PATTERN.test(k))) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: 'names are lower-case letters, digits, ".", "_", "-" (at most 64), as requests spell them',
      });
    }
  });

const configSchema = () =>
  z.strictObject({
    prometheus: named(
      z
        .strictObject({ url: z.string(), bearerTokenFile: file(), basicAuthFile: file(), timeout: timeout() })
        .refine((s) => s.bearerTokenFile === undefined || s.basicAuthFile === undefined, {
          message: 'give at most one of "bearerTokenFile" or "basicAuthFile"',
        }),
    ).optional(),
    http: named(z.strictObject({ url: z.string(), secretFile: file(), timeout: timeout() })).optional(),
    hooks: named(z.strictObject({ url: z.string(), secretFile: file(), timeout: timeout() })).optional(),
    notifications: named(destinationSchema()).optional(),
    temporalUiUrl: z.string().optional(),
  });

function checkUrl(value: string, field: string, allowHttp: boolean, allowQuery: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new GatesConfigError(`${field}: "${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new GatesConfigError(
      `${field}: ${url.protocol}// is not allowed; use https:// (plain http only for development, with ${GATES_ALLOW_HTTP_ENV}=1)`,
    );
  }
  if (url.username || url.password) {
    throw new GatesConfigError(
      `${field}: a URL must not carry credentials; use "bearerTokenFile", "basicAuthFile" or "secretFile"`,
    );
  }
  if (url.hash) throw new GatesConfigError(`${field}: a URL must not have a fragment (#…)`);
  if (url.search && !allowQuery) {
    throw new GatesConfigError(
      `${field}: a Prometheus URL must not have a query (?…); give the server's base URL`,
    );
  }
  return url;
}

/** Builds the configuration from a parsed JSON object (as written). */
export function gatesConfig(
  config: unknown,
  options: { allowHttp?: boolean; where?: string } = {},
): GatesConfig {
  const where = options.where ?? 'the gates configuration';
  const allowHttp = options.allowHttp ?? false;
  const parsed = configSchema().safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') || '(top level)';
    throw new GatesConfigError(`${where}: ${path}: ${issue?.message ?? 'invalid'} (expected ${EXAMPLE})`);
  }
  const prometheus = new Map<string, PrometheusSource>();
  for (const [sourceName, spec] of Object.entries(parsed.data.prometheus ?? {})) {
    const url = checkUrl(spec.url, `${where}: prometheus.${sourceName}.url`, allowHttp, false);
    const authFile = spec.bearerTokenFile ?? spec.basicAuthFile;
    prometheus.set(sourceName, {
      name: sourceName,
      url: url.toString().replace(/\/+$/, ''),
      timeoutMs: spec.timeout ?? DEFAULT_GATE_TIMEOUT_MS,
      auth:
        authFile === undefined
          ? undefined
          : { scheme: spec.bearerTokenFile !== undefined ? 'Bearer' : 'Basic', ...fileValue(authFile) },
    });
  }
  const http = new Map<string, HttpGateTarget>();
  for (const [gateName, spec] of Object.entries(parsed.data.http ?? {})) {
    const url = checkUrl(spec.url, `${where}: http.${gateName}.url`, allowHttp, true);
    http.set(gateName, {
      name: gateName,
      url: url.toString(),
      timeoutMs: spec.timeout ?? DEFAULT_GATE_TIMEOUT_MS,
      secret: spec.secretFile === undefined ? undefined : fileValue(spec.secretFile),
    });
  }
  const hooks = new Map<string, HookTarget>();
  for (const [hookName, spec] of Object.entries(parsed.data.hooks ?? {})) {
    // A hook's URL may carry a query (a change system's endpoint often does), like an HTTP gate's.
    const url = checkUrl(spec.url, `${where}: hooks.${hookName}.url`, allowHttp, true);
    hooks.set(hookName, {
      name: hookName,
      url: url.toString(),
      timeoutMs: spec.timeout ?? DEFAULT_GATE_TIMEOUT_MS,
      secret: spec.secretFile === undefined ? undefined : fileValue(spec.secretFile),
    });
  }
  let notifications: NotificationsConfig;
  try {
    notifications = notificationsConfig(
      parsed.data.notifications ?? {},
      parsed.data.temporalUiUrl,
      (value, field) => checkUrl(value, `${where}: ${field}`, allowHttp, true),
    );
  } catch (err) {
    if (err instanceof NotificationsConfigError) throw new GatesConfigError(`${where}: ${err.message}`);
    throw err;
  }
  return {
    prometheus: (n) => prometheus.get(n),
    http: (n) => http.get(n),
    hook: (n) => hooks.get(n),
    prometheusNames: [...prometheus.keys()].sort(),
    httpNames: [...http.keys()].sort(),
    hookNames: [...hooks.keys()].sort(),
    notifications,
    allowHttp,
  };
}

/** No sources: a worker without gate configuration refuses Prometheus and HTTP gates with the fix. */
export const NO_GATES_CONFIG: GatesConfig = {
  prometheus: () => undefined,
  http: () => undefined,
  hook: () => undefined,
  prometheusNames: [],
  httpNames: [],
  hookNames: [],
  notifications: NO_NOTIFICATIONS,
  allowHttp: false,
};

/** The worker's gate configuration from its environment; throws `GatesConfigError` when it is unusable. */
export function gatesConfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): GatesConfig {
  const allowHttp = env[GATES_ALLOW_HTTP_ENV] === '1' || env[GATES_ALLOW_HTTP_ENV] === 'true';
  const path = env[GATES_FILE_ENV];
  const inline = env[GATES_ENV];
  if (path && inline) throw new GatesConfigError(`set either ${GATES_FILE_ENV} or ${GATES_ENV}, not both`);
  let text: string | undefined = inline;
  let where = GATES_ENV;
  if (path) {
    where = `${GATES_FILE_ENV} (${path})`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new GatesConfigError(
        `${where}: cannot read it: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (text === undefined || !text.trim()) return { ...NO_GATES_CONFIG, allowHttp };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new GatesConfigError(`${where}: not valid JSON (expected ${EXAMPLE})`);
  }
  return gatesConfig(json, { allowHttp, where });
}
