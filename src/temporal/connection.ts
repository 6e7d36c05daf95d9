/**
 * Temporal connection settings from the standard Temporal client configuration
 * (`@temporalio/envconfig`): the TOML profile (`TEMPORAL_CONFIG_FILE`, `TEMPORAL_PROFILE`) and the
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` variables. The
 * same code reaches a local dev server, a self-hosted cluster with mTLS, or Temporal Cloud.
 */
import { Client, Connection, type ClientInterceptors } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';

export interface TemporalSettings {
  readonly address: string;
  readonly namespace: string;
  readonly connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export interface TemporalSettingsOverrides {
  readonly address?: string;
  readonly namespace?: string;
  readonly profile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export function temporalSettings(overrides: TemporalSettingsOverrides = {}): TemporalSettings {
  const env = overrides.env ?? process.env;
  const envVars = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  const config = loadClientConnectConfig({
    ...(overrides.profile ? { profile: overrides.profile } : {}),
    overrideEnvVars: envVars,
  });
  const address = overrides.address ?? config.connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  return {
    address,
    namespace: overrides.namespace ?? config.namespace ?? 'default',
    connectionOptions: { ...config.connectionOptions, address },
  };
}

/** Thrown when the Temporal frontend cannot be reached; says which address and how to fix it. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(
      `cannot reach Temporal at ${address}: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'Start a local server with `keystore-maint dev-server`, or set TEMPORAL_ADDRESS (and TEMPORAL_NAMESPACE, TEMPORAL_API_KEY or TEMPORAL_TLS_* as needed).',
    );
    this.name = 'TemporalUnreachableError';
  }
}

export async function connectClient(
  settings: TemporalSettings,
  interceptors?: ClientInterceptors,
): Promise<Client> {
  try {
    const { address, tls, apiKey, metadata } = settings.connectionOptions;
    const connection = await Connection.connect({
      address,
      ...(tls !== undefined ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(metadata !== undefined ? { metadata } : {}),
      connectTimeout: 5_000,
    });
    return new Client({
      connection,
      namespace: settings.namespace,
      ...(interceptors !== undefined ? { interceptors } : {}),
    });
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, err);
  }
}

export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(settings.connectionOptions);
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, err);
  }
}
