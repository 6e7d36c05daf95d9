/**
 * The XKS proxy authentication credentials a worker may sign health probes with: the worker's
 * configuration, never the request's. KMS never returns a store's `RawSecretAccessKey`, so
 * whoever probes must be given it; a request names the credential (`probes.xksHealth.proxy`) and
 * the secret stays on the worker, out of every request, history and audit event.
 *
 * Configuration, read once at worker start (`xksProxiesFromEnvironment`):
 * - `KEYSTORE_MAINT_XKS_PROXIES_FILE`: a JSON file, or `KEYSTORE_MAINT_XKS_PROXIES`: the same JSON
 *   inline — `{"proxies": {"payments-xks": {"accessKeyId": "…", "secretFile": "/run/secrets/xks"}}}`
 *   (`secretEnv`: a variable starting with `KEYSTORE_MAINT_XKS_SECRET`, instead of `secretFile`).
 * - `endpoint` (optional): where the worker reaches the proxy when that is not the store's
 *   `XksProxyUriEndpoint` (an internal name, a VPC endpoint's DNS name); `https://` only, unless
 *   `KEYSTORE_MAINT_XKS_ALLOW_HTTP=1` (development and the simulator's stand-in).
 *
 * Secrets are read when used, so a rotated secret file takes effect without a restart. So is the
 * access key id when it comes from a file (`accessKeyIdFile`): a proxy credential rotated during a
 * window — both halves, in the files the worker mounts — is what the probe before the reconnect
 * signs with, with no worker restart.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PROXY_NAME_PATTERN } from '../domain/probes';

export const XKS_PROXIES_ENV = 'KEYSTORE_MAINT_XKS_PROXIES';
export const XKS_PROXIES_FILE_ENV = 'KEYSTORE_MAINT_XKS_PROXIES_FILE';
export const XKS_ALLOW_HTTP_ENV = 'KEYSTORE_MAINT_XKS_ALLOW_HTTP';
export const XKS_SECRET_ENV = 'KEYSTORE_MAINT_XKS_SECRET';

export interface XksProxyCredential {
  readonly name: string;
  /** The `AccessKeyId` now, or undefined when its file is empty, missing or not an access key id. */
  accessKeyId(): string | undefined;
  /** Where the access key id comes from, for messages. */
  readonly accessKeyIdSource: string;
  /** The `RawSecretAccessKey` now, or undefined when its file or variable is empty or missing. */
  secret(): string | undefined;
  /** Where the secret comes from, for messages (never the secret). */
  readonly secretSource: string;
  /** Overrides the store's `XksProxyUriEndpoint` (scheme and authority, no path). */
  readonly endpoint?: string;
}

export interface XksProxies {
  get(name: string): XksProxyCredential | undefined;
  readonly names: readonly string[];
}

/** The worker's XKS proxy configuration is unusable; the message names the field and the fix. */
export class XksProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XksProxyConfigError';
  }
}

// KMS's XksProxyAuthenticationCredential: AccessKeyId is 20–30 characters of A–Z and 2–7.
const ACCESS_KEY_ID = /^[A-Z2-7]{20,30}$/;

const proxySchema = () =>
  z
    .strictObject({
      accessKeyId: z.string().regex(ACCESS_KEY_ID, 'must be 20 to 30 characters of A-Z and 2-7').optional(),
      accessKeyIdFile: z.string().min(1).optional(),
      secretFile: z.string().min(1).optional(),
      secretEnv: z
        .string()
        .regex(
          /^KEYSTORE_MAINT_XKS_SECRET[A-Z0-9_]*$/,
          `must name a variable starting with ${XKS_SECRET_ENV}`,
        )
        .optional(),
      endpoint: z.string().optional(),
    })
    .refine((c) => (c.secretFile === undefined) !== (c.secretEnv === undefined), {
      message: 'give exactly one of "secretFile" or "secretEnv"',
    })
    .refine((c) => (c.accessKeyId === undefined) !== (c.accessKeyIdFile === undefined), {
      message: 'give exactly one of "accessKeyId" or "accessKeyIdFile"',
    });

const configSchema = () =>
  z.strictObject({
    proxies: z.record(
      z.string().regex(PROXY_NAME_PATTERN, 'proxy names are letters, digits, ".", "_", "-"'),
      proxySchema(),
    ),
  });

function checkEndpoint(value: string, field: string, allowHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new XksProxyConfigError(`${field}: "${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new XksProxyConfigError(
      `${field}: ${url.protocol}// is not allowed; use https:// (plain http only for development, with ${XKS_ALLOW_HTTP_ENV}=1)`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new XksProxyConfigError(
      `${field}: give scheme, host and optional path prefix only (no credentials, query or fragment)`,
    );
  }
  return url.toString().replace(/\/$/, '');
}

function readTrimmedFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Builds the registry from a parsed configuration object (JSON as written). */
export function xksProxies(
  config: unknown,
  options: { allowHttp?: boolean; env?: NodeJS.ProcessEnv; where?: string } = {},
): XksProxies {
  const where = options.where ?? 'the XKS proxy configuration';
  const parsed = configSchema().safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map(String).join('.') || '(top level)';
    throw new XksProxyConfigError(
      `${where}: ${path}: ${issue?.message ?? 'invalid'} (expected {"proxies": {"<name>": {"accessKeyId": "…" or "accessKeyIdFile": "…", "secretFile": "…"}}})`,
    );
  }
  const env = options.env ?? process.env;
  const proxies = new Map<string, XksProxyCredential>();
  for (const [name, spec] of Object.entries(parsed.data.proxies)) {
    const endpoint =
      spec.endpoint !== undefined
        ? checkEndpoint(spec.endpoint, `${where}: proxies.${name}.endpoint`, options.allowHttp ?? false)
        : undefined;
    const file = spec.secretFile;
    const variable = spec.secretEnv;
    const secret = file
      ? { read: () => readTrimmedFile(file), source: `file ${file}` }
      : {
          read: () => {
            const direct = env[variable ?? ''];
            if (direct) return direct;
            const viaFile = env[`${variable ?? ''}_FILE`];
            return viaFile ? readTrimmedFile(viaFile) : undefined;
          },
          source: `${variable ?? ''} (or ${variable ?? ''}_FILE)`,
        };
    const keyFile = spec.accessKeyIdFile;
    const fixedKey = spec.accessKeyId;
    proxies.set(name, {
      name,
      accessKeyId: () => {
        if (fixedKey !== undefined) return fixedKey;
        const read = readTrimmedFile(keyFile ?? '');
        return read !== undefined && ACCESS_KEY_ID.test(read) ? read : undefined;
      },
      accessKeyIdSource: keyFile !== undefined ? `file ${keyFile}` : 'the configuration',
      secret: secret.read,
      secretSource: secret.source,
      ...(endpoint ? { endpoint } : {}),
    });
  }
  return { get: (name) => proxies.get(name), names: [...proxies.keys()].sort() };
}

export const NO_XKS_PROXIES: XksProxies = { get: () => undefined, names: [] };

/** The worker's registry from its environment; throws `XksProxyConfigError` when it is unusable. */
export function xksProxiesFromEnvironment(env: NodeJS.ProcessEnv = process.env): XksProxies {
  const allowHttp = env[XKS_ALLOW_HTTP_ENV] === '1' || env[XKS_ALLOW_HTTP_ENV] === 'true';
  const file = env[XKS_PROXIES_FILE_ENV];
  const inline = env[XKS_PROXIES_ENV];
  if (file && inline) {
    throw new XksProxyConfigError(`set either ${XKS_PROXIES_FILE_ENV} or ${XKS_PROXIES_ENV}, not both`);
  }
  let text: string | undefined = inline;
  let where = XKS_PROXIES_ENV;
  if (file) {
    where = `${XKS_PROXIES_FILE_ENV} (${file})`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new XksProxyConfigError(
        `${where}: cannot read it: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (text === undefined || !text.trim()) return NO_XKS_PROXIES;
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new XksProxyConfigError(
      `${where}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return xksProxies(config, { allowHttp, env, where });
}
