/**
 * The traffic controllers a worker may call, and the secret that signs for each: the worker's
 * configuration, never the request's. A request names a controller; the worker decides where it
 * is and which secret signs for it. So whoever can start a run cannot point the worker at a server
 * of their own (and collect a validly signed drain to replay to the real controller), nor pick a
 * secret meant for another controller.
 *
 * Configuration, read once at worker start (`webhookControllersFromEnvironment`):
 * - `KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE`: a JSON file, or `KEYSTORE_MAINT_WEBHOOK_CONTROLLERS`:
 *   the same JSON inline —
 *   `{"controllers": {"payments-mesh": {"url": "https://…", "statusUrl": "https://…",
 *   "secretFile": "/run/secrets/payments-mesh"}}}` (`secretEnv`: a variable starting with
 *   `KEYSTORE_MAINT_WEBHOOK_SECRET`, instead of `secretFile`; `statusUrl` defaults to
 *   `url` + `/status`);
 * - `https://` only, unless `KEYSTORE_MAINT_WEBHOOK_ALLOW_HTTP=1` (development: plain http lets
 *   anyone on the path read and fake answers); no credentials or fragment in a URL.
 *
 * Secrets are read when used, so a rotated secret file takes effect without a restart.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONTROLLER_NAME_PATTERN, WEBHOOK_SECRET_ENV } from '../domain/traffic';

export const WEBHOOK_CONTROLLERS_ENV = 'KEYSTORE_MAINT_WEBHOOK_CONTROLLERS';
export const WEBHOOK_CONTROLLERS_FILE_ENV = 'KEYSTORE_MAINT_WEBHOOK_CONTROLLERS_FILE';
export const WEBHOOK_ALLOW_HTTP_ENV = 'KEYSTORE_MAINT_WEBHOOK_ALLOW_HTTP';

export interface WebhookController {
  readonly name: string;
  readonly url: string;
  readonly statusUrl: string;
  /** The signing secret now, or undefined when its file or variable is empty or missing. */
  secret(): string | undefined;
  /** Where the secret comes from, for messages (never the secret). */
  readonly secretSource: string;
}

export interface WebhookControllers {
  get(name: string): WebhookController | undefined;
  /** A configured controller whose drain URL is exactly `url` (runs of older workers named URLs). */
  byUrl(url: string): WebhookController | undefined;
  readonly names: readonly string[];
  /** Plain http allowed (development only). */
  readonly allowHttp: boolean;
}

/** The worker's webhook configuration is unusable; the message names the field and the fix. */
export class WebhookConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookConfigError';
  }
}

const controllerSchema = z
  .strictObject({
    url: z.string(),
    statusUrl: z.string().optional(),
    secretFile: z.string().min(1).optional(),
    secretEnv: z
      .string()
      .regex(
        /^KEYSTORE_MAINT_WEBHOOK_SECRET[A-Z0-9_]*$/,
        `must name a variable starting with ${WEBHOOK_SECRET_ENV}`,
      )
      .optional(),
  })
  .refine((c) => (c.secretFile === undefined) !== (c.secretEnv === undefined), {
    message: 'give exactly one of "secretFile" or "secretEnv"',
  });

const configSchema = z.strictObject({
  controllers: z.record(
    z
      .string()
      .regex(CONTROLLER_NAME_PATTERN, 'controller names are lower-case letters, digits, ".", "_", "-"'),
    controllerSchema,
  ),
});

function checkUrl(value: string, field: string, allowHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookConfigError(`${field}: "${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new WebhookConfigError(
      `${field}: ${url.protocol}// is not allowed; use https:// (plain http only for development, with ${WEBHOOK_ALLOW_HTTP_ENV}=1)`,
    );
  }
  if (url.username || url.password) {
    throw new WebhookConfigError(`${field}: a URL must not carry credentials; the HMAC secret authenticates`);
  }
  if (url.hash) throw new WebhookConfigError(`${field}: a URL must not have a fragment (#…)`);
  return url.toString();
}

function secretReader(
  env: NodeJS.ProcessEnv,
  spec: { secretFile?: string | undefined; secretEnv?: string | undefined },
): { read: () => string | undefined; source: string } {
  const readFile = (path: string) => {
    try {
      return readFileSync(path, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
  if (spec.secretFile) {
    const path = spec.secretFile;
    return { read: () => readFile(path), source: `file ${path}` };
  }
  const variable = spec.secretEnv ?? WEBHOOK_SECRET_ENV;
  return {
    read: () => {
      const direct = env[variable];
      if (direct) return direct;
      const file = env[`${variable}_FILE`];
      return file ? readFile(file) : undefined;
    },
    source: `${variable} (or ${variable}_FILE)`,
  };
}

/** Builds the registry from a parsed configuration object (JSON as written). */
export function webhookControllers(
  config: unknown,
  options: { allowHttp?: boolean; env?: NodeJS.ProcessEnv; where?: string } = {},
): WebhookControllers {
  const where = options.where ?? 'the webhook controller configuration';
  const allowHttp = options.allowHttp ?? false;
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') || '(top level)';
    throw new WebhookConfigError(
      `${where}: ${path}: ${issue?.message ?? 'invalid'} (expected {"controllers": {"<name>": {"url": "https://…", "secretFile": "…"}}})`,
    );
  }
  const env = options.env ?? process.env;
  const controllers = new Map<string, WebhookController>();
  for (const [name, spec] of Object.entries(parsed.data.controllers)) {
    const url = checkUrl(spec.url, `${where}: controllers.${name}.url`, allowHttp);
    const statusUrl = checkUrl(
      spec.statusUrl ?? `${url.replace(/\/$/, '')}/status`,
      `${where}: controllers.${name}.statusUrl`,
      allowHttp,
    );
    const secret = secretReader(env, spec);
    controllers.set(name, { name, url, statusUrl, secret: secret.read, secretSource: secret.source });
  }
  return {
    get: (name) => controllers.get(name),
    byUrl: (url) => [...controllers.values()].find((c) => c.url === url || c.url === safeNormalize(url)),
    names: [...controllers.keys()].sort(),
    allowHttp,
  };
}

function safeNormalize(url: string): string {
  try {
    return new URL(url).toString();
  } catch {
    return url;
  }
}

/** No controllers: a worker without webhook configuration refuses webhook drains with the fix. */
export const NO_WEBHOOK_CONTROLLERS: WebhookControllers = {
  get: () => undefined,
  byUrl: () => undefined,
  names: [],
  allowHttp: false,
};

/** The worker's registry from its environment; throws `WebhookConfigError` when it is unusable. */
export function webhookControllersFromEnvironment(env: NodeJS.ProcessEnv = process.env): WebhookControllers {
  const allowHttp = env[WEBHOOK_ALLOW_HTTP_ENV] === '1' || env[WEBHOOK_ALLOW_HTTP_ENV] === 'true';
  const file = env[WEBHOOK_CONTROLLERS_FILE_ENV];
  const inline = env[WEBHOOK_CONTROLLERS_ENV];
  if (file && inline) {
    throw new WebhookConfigError(
      `set either ${WEBHOOK_CONTROLLERS_FILE_ENV} or ${WEBHOOK_CONTROLLERS_ENV}, not both`,
    );
  }
  let text: string | undefined = inline;
  let where = WEBHOOK_CONTROLLERS_ENV;
  if (file) {
    where = `${WEBHOOK_CONTROLLERS_FILE_ENV} (${file})`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new WebhookConfigError(
        `${where}: cannot read it: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (text === undefined || !text.trim()) return { ...NO_WEBHOOK_CONTROLLERS, allowHttp };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebhookConfigError(`${where}: not valid JSON`);
  }
  return webhookControllers(json, { allowHttp, env, where });
}
