/**
 * The state file: every partition (account and Region: stores, keys, aliases, CloudHSM clusters),
 * the health set for XKS proxies, and IAM (registered access keys, roles, issued sessions) as JSON, written after every change by writing a temporary
 * file next to it and renaming it over the old one, so a crash or a kill never leaves a
 * half-written file. Pending transitions are stored with their wall-clock due time, so after a
 * restart a store whose connect finished while the simulator was down is `CONNECTED` (or `FAILED`)
 * at once. Sessions are kept so that credentials issued before a restart still work after it, as
 * STS's do.
 *
 * Version 2 is written; a version 1 file (one account and Region, from before partitions) is read
 * into the default partition. Clusters and XKS proxies came later within version 2: a file without
 * them reads as none (the simulator then gives every CloudHSM key store a healthy cluster); so did
 * each partition's CloudWatch alarms (`cloudWatchAlarms`, none when absent).
 *
 * The file holds the simulated keys' secrets and the sessions' secrets and tokens: they are the
 * simulator's own test material, needed to decrypt old ciphertext and to keep sessions valid after
 * a restart, and protect nothing real.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  AVAILABILITY_ZONE_PATTERN,
  CLUSTER_STATES,
  HSM_STATES,
  type ClusterRecord,
} from './cloudhsm-clusters';
import type { Iam } from './iam';
import {
  CONNECTION_ERROR_CODES,
  CONNECTION_STATES,
  STORE_TYPES,
  XKS_CONNECTIVITY_TYPES,
  type KeyRecord,
  type StoreRecord,
} from './model';
import type { Partition } from './partition';
import { hasAlarms, persistedAlarmSchema, restoreAlarms, serializeAlarms } from './cloudwatch-alarms';
import { SimState } from './state';
import { EKM_HEALTH_STATUSES, type SavedXksProxy, type XksProxies } from './xks-proxies';

export const STATE_FILE_VERSION = 2;

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

const hsmSchema = z.object({
  hsmId: z.string().min(1),
  availabilityZone: z.string().regex(AVAILABILITY_ZONE_PATTERN),
  subnetId: z.string().min(1),
  eniId: z.string().min(1),
  eniIp: z.string().min(1),
  state: z.enum(HSM_STATES),
  stateMessage: z.string().optional(),
});

const clusterSchema = z.object({
  clusterId: z.string().min(1),
  createdAt: timeSchema,
  state: z.enum(CLUSTER_STATES),
  stateMessage: z.string().optional(),
  hsmType: z.string().min(1),
  vpcId: z.string().min(1),
  securityGroup: z.string().min(1),
  subnetMapping: z.record(z.string(), z.string()),
  hsms: z.array(hsmSchema),
});

const xksProxySchema = z.object({
  host: z.string().min(1),
  uriPath: z.string().min(1),
  health: z.object({
    xksProxyFleetSize: z.int().min(0),
    ekmFleetDetails: z.array(
      z.object({ id: z.string(), model: z.string(), healthStatus: z.enum(EKM_HEALTH_STATUSES) }),
    ),
    failure: z
      .discriminatedUnion('mode', [
        z.object({ mode: z.literal('unreachable') }),
        z.object({ mode: z.literal('timeout'), delayMs: z.int().min(0) }),
        z.object({ mode: z.literal('invalidResponse') }),
        z.object({ mode: z.literal('accessDenied') }),
      ])
      .optional(),
  }),
});

const partitionContentSchema = {
  nextSeq: z.int().min(1),
  stores: z.array(storeSchema),
  keys: z.array(keySchema),
  aliases: z.array(aliasSchema),
  /** CloudWatch metric alarms (cloudwatch-alarms.ts); absent in files written before them. */
  cloudWatchAlarms: z.array(persistedAlarmSchema).optional(),
  clusters: z.array(clusterSchema).optional(),
};

const accountSchema = z.string().regex(/^[0-9]{12}$/);

const partitionSchema = z.object({
  account: accountSchema,
  region: z.string().min(1),
  ...partitionContentSchema,
});

const roleSchema = z.object({
  account: accountSchema,
  name: z.string().min(1),
  path: z.string().min(1),
  roleId: z.string().min(1),
  trustedAccounts: z.array(accountSchema),
  externalId: z.string().optional(),
  maxSessionDuration: z.int().min(1),
  createdAt: timeSchema,
});

const sessionSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string(),
  sessionToken: z.string().min(1),
  account: accountSchema,
  roleName: z.string().min(1),
  roleSessionName: z.string().min(1),
  assumedRoleId: z.string().min(1),
  arn: z.string().min(1),
  expiresAt: timeSchema,
  issuedAt: timeSchema,
});

const stateFileSchema = z.object({
  version: z.literal(STATE_FILE_VERSION),
  savedAt: z.string(),
  partitions: z.array(partitionSchema),
  accessKeys: z.array(z.object({ accessKeyId: z.string().min(1), account: accountSchema })),
  roles: z.array(roleSchema),
  sessions: z.array(sessionSchema),
  xksProxies: z.array(xksProxySchema).optional(),
});

/** Before partitions: the default partition's content at the top level. */
const stateFileV1Schema = z.object({ version: z.literal(1), savedAt: z.string(), ...partitionContentSchema });

type PersistedKey = z.infer<typeof keySchema>;
type PartitionContent = Omit<z.infer<typeof partitionSchema>, 'account' | 'region'>;

/** What a state file restores. The version 1 file's partition has no account or Region. */
export interface LoadedState {
  partitions: { account?: string; region?: string; state: SimState }[];
  restoreIam(iam: Iam): void;
  xksProxies: SavedXksProxy[];
}

function serializePartition(state: SimState): PartitionContent {
  return {
    nextSeq: state.nextSeq,
    stores: state.storesInOrder(),
    keys: state.keysInOrder().map((key): PersistedKey => ({ ...key, secret: key.secret.toString('base64') })),
    aliases: state.aliasesInOrder(),
    cloudWatchAlarms: serializeAlarms(state),
    clusters: [...state.clusters.values()],
  };
}

export function serializeState(
  partitions: readonly Partition[],
  iam: Iam,
  now: number,
  xksProxies?: XksProxies,
): z.infer<typeof stateFileSchema> {
  return {
    version: STATE_FILE_VERSION,
    savedAt: new Date(now).toISOString(),
    // An empty partition is one a caller merely looked at; it holds nothing worth restoring.
    partitions: partitions
      .filter((p) => !p.state.isEmpty || hasAlarms(p.state))
      .map((p) => ({ account: p.account, region: p.region, ...serializePartition(p.state) })),
    accessKeys: [...iam.accessKeys].map(([accessKeyId, account]) => ({ accessKeyId, account })),
    roles: [...iam.roles.values()],
    sessions: [...iam.sessions.values()],
    xksProxies: xksProxies?.saved() ?? [],
  };
}

function deserializePartition(content: PartitionContent): SimState {
  const state = new SimState();
  state.nextSeq = content.nextSeq;
  for (const store of content.stores) {
    const record: StoreRecord = { ...store, history: store.history.map((entry) => ({ ...entry })) };
    state.stores.set(record.id, record);
  }
  for (const key of content.keys) {
    const record: KeyRecord = { ...key, secret: Buffer.from(key.secret, 'base64') };
    state.keys.set(record.id, record);
  }
  for (const alias of content.aliases) state.aliases.set(alias.name, { ...alias });
  restoreAlarms(state, content.cloudWatchAlarms ?? []);
  for (const cluster of content.clusters ?? []) state.clusters.set(cluster.clusterId, copyCluster(cluster));
  // Never hand out a creation number twice, even if the file was edited by hand.
  const maxSeq = Math.max(0, ...[...state.stores.values(), ...state.keys.values()].map((r) => r.seq));
  state.nextSeq = Math.max(state.nextSeq, maxSeq + 1);
  return state;
}

export function deserializeState(json: unknown, source: string): LoadedState {
  const version = isRecord(json) ? json['version'] : undefined;
  if (version === 1) {
    const v1 = stateFileV1Schema.safeParse(json);
    if (!v1.success) throw notAStateFile(source, v1.error.issues);
    return { partitions: [{ state: deserializePartition(v1.data) }], restoreIam: () => {}, xksProxies: [] };
  }
  const parsed = stateFileSchema.safeParse(json);
  if (!parsed.success) throw notAStateFile(source, parsed.error.issues);
  const data = parsed.data;
  const storeIds = new Set<string>();
  const partitions = data.partitions.map((p) => {
    const state = deserializePartition(p);
    for (const id of state.stores.keys()) {
      // Store ids are global: the control API finds a store by id alone.
      if (storeIds.has(id)) throw new Error(`State file ${source}: store ${id} appears in two partitions`);
      storeIds.add(id);
    }
    return { account: p.account, region: p.region, state };
  });
  return {
    partitions,
    restoreIam(iam) {
      for (const { accessKeyId, account } of data.accessKeys) iam.accessKeys.set(accessKeyId, account);
      for (const role of data.roles) iam.addRole({ ...role, trustedAccounts: [...role.trustedAccounts] });
      for (const session of data.sessions) iam.sessions.set(session.accessKeyId, { ...session });
    },
    xksProxies: data.xksProxies ?? [],
  };
}

function copyCluster(cluster: ClusterRecord): ClusterRecord {
  return {
    ...cluster,
    subnetMapping: { ...cluster.subnetMapping },
    hsms: cluster.hsms.map((hsm) => ({ ...hsm })),
  };
}

function notAStateFile(source: string, issues: readonly z.core.$ZodIssue[]): Error {
  const issue = issues[0];
  return new Error(
    `State file ${source} is not a keystore-maint simulator state file (version 1 or ${STATE_FILE_VERSION}): ` +
      `${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The saved state, or undefined when the file does not exist yet. Throws on a corrupt file. */
export function loadStateFile(path: string): LoadedState | undefined {
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
export function saveStateFile(
  path: string,
  partitions: readonly Partition[],
  iam: Iam,
  now: number,
  xksProxies?: XksProxies,
): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(serializeState(partitions, iam, now, xksProxies), null, 2)}\n`, {
      mode: 0o600,
    });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
