/**
 * Where the worker serves its metrics, from the environment:
 *
 * - `KEYSTORE_MAINT_METRICS_PORT`: the port of `/metrics` (keystore-maint's own series); unset or
 *   empty: no metrics endpoint. `0` is refused: the system would pick a port that no Prometheus
 *   configuration can name.
 * - `KEYSTORE_MAINT_METRICS_HOST`: the address to bind, default `0.0.0.0` (every interface, as a
 *   container needs for Prometheus to reach it); `127.0.0.1` keeps it on the machine.
 * - `KEYSTORE_MAINT_SDK_METRICS_ADDRESS`: `host:port` for the Temporal SDK's own Prometheus
 *   exporter (worker slots, poll latencies, workflow task failures); unset: off.
 */
export const DEFAULT_METRICS_HOST = '0.0.0.0';

export interface MetricsEndpoint {
  readonly host: string;
  readonly port: number;
}

export class MetricsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsConfigError';
  }
}

function port(name: string, raw: string): number {
  const value = Number(raw);
  if (value === 0 && raw.trim() !== '') {
    throw new MetricsConfigError(
      `${name}=${raw}: port 0 would let the system pick a port that no Prometheus scrape configuration can name; set a fixed port (e.g. 9464), or unset ${name} to turn the metrics endpoint off`,
    );
  }
  if (!/^\d+$/.test(raw) || !Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new MetricsConfigError(
      `${name}="${raw}" is not a port: use a whole number from 1 to 65535 (e.g. 9464), or unset it to turn the metrics endpoint off`,
    );
  }
  return value;
}

/** The metrics endpoint, or undefined when `KEYSTORE_MAINT_METRICS_PORT` is unset (metrics off). */
export function metricsEndpointFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): MetricsEndpoint | undefined {
  const raw = env.KEYSTORE_MAINT_METRICS_PORT?.trim();
  if (!raw) return undefined;
  const host = env.KEYSTORE_MAINT_METRICS_HOST?.trim() || DEFAULT_METRICS_HOST;
  return { host, port: port('KEYSTORE_MAINT_METRICS_PORT', raw) };
}

/** `KEYSTORE_MAINT_SDK_METRICS_ADDRESS` (`host:port`, `[::]:port`), or undefined when unset. */
export function sdkMetricsAddressFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.KEYSTORE_MAINT_SDK_METRICS_ADDRESS?.trim();
  if (!raw) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(raw);
  if (!match?.[2]) {
    throw new MetricsConfigError(
      `KEYSTORE_MAINT_SDK_METRICS_ADDRESS="${raw}" is not host:port; use e.g. 0.0.0.0:9465 (or [::]:9465), or unset it to turn the SDK's metrics off`,
    );
  }
  port('KEYSTORE_MAINT_SDK_METRICS_ADDRESS', match[2]);
  const endpoint = metricsEndpointFromEnvironment(env);
  if (endpoint && endpoint.port === Number(match[2])) {
    throw new MetricsConfigError(
      `KEYSTORE_MAINT_SDK_METRICS_ADDRESS (${raw}) and KEYSTORE_MAINT_METRICS_PORT (${endpoint.port}) name the same port; give the SDK's exporter its own (e.g. 9465)`,
    );
  }
  return raw;
}
