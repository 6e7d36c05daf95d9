/**
 * Simulated CloudHSM v2 clusters, one set per partition (account and Region), as
 * `DescribeClusters` shows them and as KMS consults them when a CloudHSM key store connects.
 *
 * Every store that names a cluster the partition does not have gets a healthy one (ACTIVE, two
 * ACTIVE HSMs in two Availability Zones), whether the store came from CreateCustomKeyStore, the
 * control API, a seed or a state file: stores existed before clusters did, and a store whose
 * connect suddenly fails with `CLUSTER_NOT_FOUND` would break every older test and rehearsal.
 * Removing or degrading a cluster is always an explicit act of the control API.
 *
 * Enum values and id shapes follow the CloudHSM v2 service model (`@aws-sdk/client-cloudhsm-v2`).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { ClusterState, HsmState } from '@aws-sdk/client-cloudhsm-v2';
import { epochSeconds, type JsonObject } from './protocol';
import { newClusterId } from './stores';

export type ClusterStateName = (typeof ClusterState)[keyof typeof ClusterState];
export type HsmStateName = (typeof HsmState)[keyof typeof HsmState];

export const CLUSTER_STATES = Object.values(ClusterState);
export const HSM_STATES = Object.values(HsmState);

export const CLUSTER_ID_PATTERN = /^cluster-[2-7a-zA-Z]{11,16}$/;
export const HSM_ID_PATTERN = /^hsm-[2-7a-zA-Z]{11,16}$/;
/** The model's `ExternalAz`, anchored. */
export const AVAILABILITY_ZONE_PATTERN = /^[a-z]{2}(-(gov))?-(east|west|north|south|central){1,2}-\d[a-z]$/;
export const DEFAULT_HSM_TYPE = 'hsm1.medium';

export interface HsmRecord {
  hsmId: string;
  availabilityZone: string;
  subnetId: string;
  eniId: string;
  eniIp: string;
  state: HsmStateName;
  stateMessage?: string | undefined;
}

export interface ClusterRecord {
  clusterId: string;
  createdAt: number;
  state: ClusterStateName;
  stateMessage?: string | undefined;
  hsmType: string;
  vpcId: string;
  securityGroup: string;
  /** Availability Zone → subnet, one per zone an HSM was ever placed in. */
  subnetMapping: Record<string, string>;
  hsms: HsmRecord[];
}

export interface HsmInput {
  availabilityZone?: string | undefined;
  state?: HsmStateName | undefined;
  stateMessage?: string | undefined;
  hsmId?: string | undefined;
}

export interface ClusterInput {
  clusterId?: string | undefined;
  state?: ClusterStateName | undefined;
  stateMessage?: string | undefined;
  hsmType?: string | undefined;
  vpcId?: string | undefined;
  hsms?: readonly HsmInput[] | undefined;
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function letters(count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return out;
}

function hex(count: number): string {
  return randomBytes(Math.ceil(count / 2))
    .toString('hex')
    .slice(0, count);
}

export function newHsmId(): string {
  return `hsm-${letters(11)}`;
}

/** `<region>a`, `<region>b`, …: the zone letters every Region has. */
export function availabilityZone(region: string, index: number): string {
  return `${region}${String.fromCharCode(97 + (index % 6))}`;
}

/**
 * A cluster as asked for; what is not given is a healthy default: ACTIVE, and two ACTIVE HSMs in
 * the Region's first two Availability Zones (CloudHSM key stores need two zones to create keys).
 */
export function buildCluster(region: string, input: ClusterInput, now: number): ClusterRecord {
  const cluster: ClusterRecord = {
    clusterId: input.clusterId ?? newClusterId(),
    createdAt: now,
    state: input.state ?? 'ACTIVE',
    stateMessage: input.stateMessage,
    hsmType: input.hsmType ?? DEFAULT_HSM_TYPE,
    vpcId: input.vpcId ?? `vpc-${hex(17)}`,
    securityGroup: `sg-${hex(17)}`,
    subnetMapping: {},
    hsms: [],
  };
  const hsms = input.hsms ?? [{}, {}];
  hsms.forEach((hsm, index) =>
    addHsm(cluster, region, {
      ...hsm,
      availabilityZone: hsm.availabilityZone ?? availabilityZone(region, index),
    }),
  );
  return cluster;
}

/** Places a new HSM (default ACTIVE) in a zone, adding the zone's subnet if the cluster had none. */
export function addHsm(cluster: ClusterRecord, region: string, input: HsmInput): HsmRecord {
  const zone = input.availabilityZone ?? availabilityZone(region, cluster.hsms.length);
  const subnetId = (cluster.subnetMapping[zone] ??= `subnet-${hex(17)}`);
  const zoneIndex = Object.keys(cluster.subnetMapping).indexOf(zone);
  const hsm: HsmRecord = {
    hsmId: input.hsmId ?? newHsmId(),
    availabilityZone: zone,
    subnetId,
    eniId: `eni-${hex(17)}`,
    eniIp: `10.0.${zoneIndex}.${10 + cluster.hsms.length}`,
    state: input.state ?? 'ACTIVE',
    stateMessage: input.stateMessage,
  };
  cluster.hsms.push(hsm);
  return hsm;
}

/**
 * The cluster a CloudHSM key store names, created healthy if the partition has none by that id.
 * Returns true when one was created.
 */
export function ensureCluster(
  clusters: Map<string, ClusterRecord>,
  clusterId: string,
  region: string,
  now: number,
): boolean {
  if (clusters.has(clusterId)) return false;
  clusters.set(clusterId, buildCluster(region, { clusterId }, now));
  return true;
}

export function activeHsmCount(cluster: ClusterRecord): number {
  return cluster.hsms.filter((hsm) => hsm.state === 'ACTIVE').length;
}

/** A `Cluster` of the CloudHSM v2 model, timestamps in epoch seconds as AWS JSON 1.1 sends them. */
export function clusterView(cluster: ClusterRecord): JsonObject {
  return {
    BackupPolicy: 'DEFAULT',
    BackupRetentionPolicy: { Type: 'DAYS', Value: '90' },
    ClusterId: cluster.clusterId,
    CreateTimestamp: epochSeconds(cluster.createdAt),
    Hsms: cluster.hsms.map((hsm) => hsmView(cluster, hsm)),
    HsmType: cluster.hsmType,
    SecurityGroup: cluster.securityGroup,
    State: cluster.state,
    StateMessage: cluster.stateMessage,
    SubnetMapping: { ...cluster.subnetMapping },
    VpcId: cluster.vpcId,
  };
}

export function hsmView(cluster: ClusterRecord, hsm: HsmRecord): JsonObject {
  return {
    AvailabilityZone: hsm.availabilityZone,
    ClusterId: cluster.clusterId,
    SubnetId: hsm.subnetId,
    EniId: hsm.eniId,
    EniIp: hsm.eniIp,
    HsmId: hsm.hsmId,
    State: hsm.state,
    StateMessage: hsm.stateMessage,
  };
}
