/**
 * The state file: the simulator's account (stores, keys, aliases) as JSON, written after every
 * change by writing a temporary file next to it and renaming it over the old one, so a crash or a
 * kill never leaves a half-written file. Pending transitions are stored with their wall-clock due
 * time, so after a restart a store whose connect finished while the simulator was down is
 * `CONNECTED` (or `FAILED`) at once.
 *
 * The file holds the simulated keys' secrets (base64): they are the simulator's own test key
 * material, needed to decrypt old ciphertext after a restart, and protect nothing real.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  CONNECTION_ERROR_CODES,
  CONNECTION_STATES,
  STORE_TYPES,
  XKS_CONNECTIVITY_TYPES,
  type KeyRecord,
  type StoreRecord,
} from './model';
import { SimState } from './state';

export const STATE_FILE_VERSION = 1;

const errorCodeSchema = z.enum(CONNECTION_ERROR_CODES);
const timeSchema = z.number().finite();

const storeSchema = z.object({
  id: z.string().min(1),
  seq: z.int().min(1),
  name: z.string().min(1),
  type: z.enum(STORE_TYPES),
  createdAt: timeSchema,
  cloudHsm: z
    .object({ clusterId: z.string(), trustAnchorCertificate: z.string(), keyStorePassword: z.string() })
    .optional(),
  xks: z
    .object({
      connectivity: z.enum(XKS_CONNECTIVITY_TYPES),
      uriEndpoint: z.string(),
      uriPath: z.string(),
      vpcEndpointServiceName: z.string().optional(),
      vpcEndpointServiceOwner: z.string().optional(),
      accessKeyId: z.string(),
      rawSecretAccessKey: z.string(),
    })
    .optional(),
  state: z.enum(CONNECTION_STATES),
  errorCode: errorCodeSchema.optional(),
  pending: z
    .object({
      to: z.enum(['CONNECTED', 'FAILED', 'DISCONNECTED']),
      at: timeSchema,
      errorCode: errorCodeSchema.optional(),
    })
    .optional(),
  history: z.array(
    z.object({ at: timeSchema, state: z.enum(CONNECTION_STATES), errorCode: errorCodeSchema.optional() }),
  ),
  timings: z.object({
    connectDelayMs: z.number().optional(),
    disconnectDelayMs: z.number().optional(),
    consistencyLagMs: z.number().optional(),
  }),
  connectOutcome: z.object({ failWith: errorCodeSchema, times: z.int().min(1) }).optional(),
});

const keySchema = z.object({
  id: z.string().min(1),
  seq: z.int().min(1),
  createdAt: timeSchema,
  description: z.string(),
  enabled: z.boolean(),
  origin: z.enum(['AWS_KMS', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']),
  customKeyStoreId: z.string().optional(),
  xksKeyId: z.string().optional(),
  secret: z.base64(),
});

const aliasSchema = z.object({
  name: z.string().min(1),
  targetKeyId: z.string().min(1),
  createdAt: timeSchema,
  updatedAt: timeSchema,
});

const stateFileSchema = z.object({
  version: z.literal(STATE_FILE_VERSION),
  savedAt: z.string(),
  nextSeq: z.int().min(1),
  stores: z.array(storeSchema),
  keys: z.array(keySchema),
  aliases: z.array(aliasSchema),
});

type PersistedKey = z.infer<typeof keySchema>;

export function serializeState(state: SimState, now: number): z.infer<typeof stateFileSchema> {
  return {
    version: STATE_FILE_VERSION,
    savedAt: new Date(now).toISOString(),
    nextSeq: state.nextSeq,
    stores: state.storesInOrder(),
    keys: state.keysInOrder().map((key): PersistedKey => ({ ...key, secret: key.secret.toString('base64') })),
    aliases: state.aliasesInOrder(),
  };
}

export function deserializeState(json: unknown, source: string): SimState {
  const parsed = stateFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `State file ${source} is not a keystore-maint simulator state file (version ${STATE_FILE_VERSION}): ` +
        `${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const state = new SimState();
  state.nextSeq = parsed.data.nextSeq;
  for (const store of parsed.data.stores) {
    const record: StoreRecord = { ...store, history: store.history.map((entry) => ({ ...entry })) };
    state.stores.set(record.id, record);
  }
  for (const key of parsed.data.keys) {
    const record: KeyRecord = { ...key, secret: Buffer.from(key.secret, 'base64') };
    state.keys.set(record.id, record);
  }
  for (const alias of parsed.data.aliases) state.aliases.set(alias.name, { ...alias });
  // Never hand out a creation number twice, even if the file was edited by hand.
  const maxSeq = Math.max(0, ...[...state.stores.values(), ...state.keys.values()].map((r) => r.seq));
  state.nextSeq = Math.max(state.nextSeq, maxSeq + 1);
  return state;
}

/** The saved state, or undefined when the file does not exist yet. Throws on a corrupt file. */
export function loadStateFile(path: string): SimState | undefined {
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(
      `State file ${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      {
        cause: err,
      },
    );
  }
  return deserializeState(json, path);
}

/** Writes the state next to `path` and renames it into place (atomic on POSIX file systems). */
export function saveStateFile(path: string, state: SimState, now: number): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(serializeState(state, now), null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
