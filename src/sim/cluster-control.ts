/**
 * The control API's CloudHSM cluster routes, to rehearse what a CloudHSM key store's connect meets:
 *
 *   GET    /_sim/clusters[?account=&region=]             {"clusters": [<cluster>]}
 *   POST   /_sim/clusters                                <cluster input> → 201 (200 when it replaced one)
 *   GET    /_sim/clusters/:clusterId[?account=&region=]  <cluster>
 *   PATCH  /_sim/clusters/:clusterId[?…]                 {State?, StateMessage?} → <cluster>
 *   DELETE /_sim/clusters/:clusterId[?…]                 {"ok": true}
 *   POST   /_sim/clusters/:clusterId/hsms[?…]            {AvailabilityZone?, State?, StateMessage?} → 201 <hsm>
 *   PATCH  /_sim/clusters/:clusterId/hsms/:hsmId[?…]     {State?, StateMessage?} → <hsm>
 *   DELETE /_sim/clusters/:clusterId/hsms/:hsmId[?…]     {"ok": true}
 *
 * A cluster is created in the partition of its `Account` and `Region` (the default partition when
 * absent), like a store. Cluster ids are unique within a partition only, so the routes of one
 * cluster look in every partition unless `account` and/or `region` narrow them, and ask for them
 * when the id is in several. `<cluster>` is DescribeClusters' `Cluster` with `CreateTimestamp` as
 * ISO 8601, plus `Account` and `Region`; `<hsm>` is its `Hsm`.
 */
import {
  addHsm,
  buildCluster,
  clusterView,
  hsmView,
  type ClusterRecord,
  type HsmRecord,
} from './cloudhsm-clusters';
import { storesQuerySchema } from './control-schemas';
import { invalid, ok, only, parse, parseValue, type ControlResponse } from './control-http';
import type { Partition } from './partition';
import type { JsonObject } from './protocol';
import {
  clusterInputSchema,
  clusterPatchSchema,
  hsmInputSchema,
  hsmPatchSchema,
  type ClusterControlInput,
} from './readiness-schemas';
import { partitionOfInput } from './seeding';
import { ControlError, type Simulator } from './simulator';

export interface ClusterRouteRequest {
  method: string;
  /** The path segments after `/_sim/clusters`. */
  path: readonly string[];
  query: URLSearchParams;
  body: string;
}

export function handleClusterRoute(sim: Simulator, request: ClusterRouteRequest): ControlResponse {
  const { method, path, body } = request;
  const [clusterId, sub, hsmId, extra] = path;
  const filter = parseValue(storesQuerySchema, Object.fromEntries(request.query));
  if (clusterId === undefined) {
    return only(method, ['GET', 'POST'], () => {
      if (method === 'POST') return createCluster(sim, parse(clusterInputSchema, body));
      const clusters = partitionsOf(sim, filter).flatMap((p) =>
        [...p.state.clusters.values()].map((cluster) => controlView(p, cluster)),
      );
      return ok({ clusters });
    });
  }
  if (extra !== undefined || (sub !== undefined && sub !== 'hsms')) throw notFound(path);
  const { partition, cluster } = findCluster(sim, clusterId, filter);
  if (sub === undefined) {
    return only(method, ['GET', 'PATCH', 'DELETE'], () => {
      if (method === 'DELETE') {
        partition.state.clusters.delete(cluster.clusterId);
        sim.persist();
        return ok({ ok: true });
      }
      if (method === 'PATCH') {
        const patch = parse(clusterPatchSchema, body);
        if (patch.State !== undefined) cluster.state = patch.State;
        if (patch.StateMessage !== undefined) cluster.stateMessage = patch.StateMessage ?? undefined;
        sim.persist();
      }
      return ok(controlView(partition, cluster));
    });
  }
  if (hsmId === undefined) {
    return only(method, ['POST'], () => {
      const input = parse(hsmInputSchema, body);
      assertZoneInRegion(input.AvailabilityZone, partition.region, 'AvailabilityZone');
      const hsm = addHsm(cluster, partition.region, {
        availabilityZone: input.AvailabilityZone,
        state: input.State,
        stateMessage: input.StateMessage,
      });
      sim.persist();
      return { status: 201, body: hsmView(cluster, hsm) };
    });
  }
  return only(method, ['PATCH', 'DELETE'], () => {
    const hsm = findHsm(cluster, hsmId);
    if (method === 'DELETE') {
      cluster.hsms = cluster.hsms.filter((other) => other !== hsm);
      sim.persist();
      return ok({ ok: true });
    }
    const patch = parse(hsmPatchSchema, body);
    if (patch.State !== undefined) hsm.state = patch.State;
    if (patch.StateMessage !== undefined) hsm.stateMessage = patch.StateMessage ?? undefined;
    sim.persist();
    return ok(hsmView(cluster, hsm));
  });
}

function createCluster(sim: Simulator, input: ClusterControlInput): ControlResponse {
  const partition = partitionOfInput(sim, input);
  (input.Hsms ?? []).forEach((hsm, i) =>
    assertZoneInRegion(hsm.AvailabilityZone, partition.region, `Hsms.${i}.AvailabilityZone`),
  );
  const replaced = input.ClusterId !== undefined && partition.state.clusters.has(input.ClusterId);
  const cluster = buildCluster(
    partition.region,
    {
      clusterId: input.ClusterId,
      state: input.State,
      stateMessage: input.StateMessage,
      hsmType: input.HsmType,
      vpcId: input.VpcId,
      hsms: input.Hsms?.map((hsm) => ({
        availabilityZone: hsm.AvailabilityZone,
        state: hsm.State,
        stateMessage: hsm.StateMessage,
      })),
    },
    sim.now(),
  );
  partition.state.clusters.set(cluster.clusterId, cluster);
  sim.persist();
  return { status: replaced ? 200 : 201, body: controlView(partition, cluster) };
}

function partitionsOf(sim: Simulator, filter: { account?: string | undefined; region?: string | undefined }) {
  return sim
    .allPartitions()
    .filter((p) => (filter.account ?? p.account) === p.account && (filter.region ?? p.region) === p.region);
}

function findCluster(
  sim: Simulator,
  clusterId: string,
  filter: { account?: string | undefined; region?: string | undefined },
): { partition: Partition; cluster: ClusterRecord } {
  const found = partitionsOf(sim, filter).flatMap((partition) => {
    const cluster = partition.state.clusters.get(clusterId);
    return cluster ? [{ partition, cluster }] : [];
  });
  const [first, second] = found;
  if (!first) throw new ControlError(404, 'ClusterNotFound', `No CloudHSM cluster ${clusterId}`, 'clusterId');
  if (second) {
    throw invalid(
      'account',
      `CloudHSM cluster ${clusterId} exists in several partitions (${found
        .map(({ partition }) => `${partition.account}/${partition.region}`)
        .join(', ')}); give ?account= and ?region=`,
    );
  }
  return first;
}

function findHsm(cluster: ClusterRecord, hsmId: string): HsmRecord {
  const hsm = cluster.hsms.find((candidate) => candidate.hsmId === hsmId);
  if (!hsm)
    throw new ControlError(404, 'HsmNotFound', `No HSM ${hsmId} in cluster ${cluster.clusterId}`, 'hsmId');
  return hsm;
}

/** An HSM lives in an Availability Zone of its cluster's Region. */
function assertZoneInRegion(zone: string | undefined, region: string, field: string): void {
  if (zone !== undefined && !(zone.startsWith(region) && zone.length === region.length + 1)) {
    throw invalid(field, `${field}: ${zone} is not an Availability Zone of ${region}`);
  }
}

function controlView(partition: Partition, cluster: ClusterRecord): JsonObject {
  return {
    ...clusterView(cluster),
    CreateTimestamp: new Date(cluster.createdAt).toISOString(),
    Account: partition.account,
    Region: partition.region,
  };
}

function notFound(path: readonly string[]): ControlError {
  return new ControlError(404, 'NotFound', `No control API route /_sim/clusters/${path.join('/')}`);
}
