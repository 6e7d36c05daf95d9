/**
 * The `cloudHsmCluster` probe on its own, through the real `@aws-sdk/client-cloudhsm-v2` against
 * the simulator's CloudHSM v2 endpoint: every way an answer is judged, and every way the question
 * can fail to be asked. What the cluster really is comes from the simulator's control API.
 */
import { describe, expect, it } from 'vitest';
import {
  cloudHsmClientProvider,
  NOT_CHECKABLE,
  probeCloudHsmCluster,
} from '../../src/probes/cloudhsm-cluster';
import { clusterId, useSimulator } from '../sim/helpers';
import { CLOSED_PORT_URL } from './support';

const h = useSimulator();
const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

function client(endpoint = h.sim.url) {
  return cloudHsmClientProvider({ endpoint, credentials: TEST_CREDENTIALS, requestTimeoutMs: 2_000 })({
    region: 'us-east-1',
  });
}

const oneActive = { minActiveHsms: 1, minAvailabilityZones: 1 };

describe('cloudHsmCluster probe', () => {
  it('is healthy with enough ACTIVE HSMs, and lists every HSM with its zone and state', async () => {
    const cluster = await h.control.putCluster({
      ClusterId: clusterId(),
      Hsms: [
        { AvailabilityZone: 'us-east-1a' },
        { AvailabilityZone: 'us-east-1b' },
        { AvailabilityZone: 'us-east-1c', State: 'DEGRADED' },
      ],
    });
    const result = await probeCloudHsmCluster(client(), cluster.ClusterId, {
      minActiveHsms: 2,
      minAvailabilityZones: 2,
    });
    expect(result.status).toBe('healthy');
    expect(result.summary).toBe(
      `cluster ${cluster.ClusterId} ACTIVE, 2 of 3 HSMs ACTIVE in 2 Availability Zones (us-east-1a, us-east-1b); need 2 ACTIVE HSMs in 2 Availability Zones`,
    );
    expect(result.evidence).toMatchObject({
      clusterState: 'ACTIVE',
      activeHsms: 2,
      availabilityZones: ['us-east-1a', 'us-east-1b'],
      notChecked: NOT_CHECKABLE,
    });
    expect(result.evidence.hsms).toEqual(
      cluster.Hsms.map((hsm) => ({
        hsmId: hsm.HsmId,
        availabilityZone: hsm.AvailabilityZone,
        state: hsm.State,
      })),
    );
    // The request id of the answer is the simulator's, so a probe can be found in its log.
    const call = (await h.control.calls()).filter((c) => c.operation === 'DescribeClusters').at(-1);
    expect(result.evidence.requestId).toBe(call?.requestId);
  });

  it('is unhealthy with too few ACTIVE HSMs, or all of them in one zone, and healthy once one is added elsewhere', async () => {
    const cluster = await h.control.putCluster({
      ClusterId: clusterId(),
      Hsms: [{ AvailabilityZone: 'us-east-1a' }, { AvailabilityZone: 'us-east-1a' }],
    });
    const spread = { minActiveHsms: 2, minAvailabilityZones: 2 };
    const sameZone = await probeCloudHsmCluster(client(), cluster.ClusterId, spread);
    expect(sameZone.status).toBe('unhealthy');
    expect(sameZone.summary).toMatch(/2 of 2 HSMs ACTIVE in 1 Availability Zone \(us-east-1a\)/);

    const threeNeeded = await probeCloudHsmCluster(client(), cluster.ClusterId, {
      minActiveHsms: 3,
      minAvailabilityZones: 1,
    });
    expect(threeNeeded.status).toBe('unhealthy');

    await h.control.addHsm(cluster.ClusterId, { AvailabilityZone: 'us-east-1b' });
    expect((await probeCloudHsmCluster(client(), cluster.ClusterId, spread)).status).toBe('healthy');
  });

  it('counts only ACTIVE HSMs: DEGRADED, CREATE_IN_PROGRESS and DELETED ones do not let KMS connect', async () => {
    const cluster = await h.control.putCluster({
      ClusterId: clusterId(),
      Hsms: [{ State: 'DEGRADED' }, { State: 'CREATE_IN_PROGRESS' }, { State: 'DELETED' }],
    });
    const result = await probeCloudHsmCluster(client(), cluster.ClusterId, oneActive);
    expect(result.status).toBe('unhealthy');
    expect(result.evidence.activeHsms).toBe(0);
    expect(result.summary).toMatch(/0 of 3 HSMs ACTIVE in 0 Availability Zones; need 1 ACTIVE HSM$/);
  });

  it('is unhealthy while the cluster itself is not ACTIVE, whatever its HSMs say', async () => {
    const cluster = await h.control.putCluster({ ClusterId: clusterId() });
    for (const state of ['UPDATE_IN_PROGRESS', 'DEGRADED'] as const) {
      await h.control.setClusterState(cluster.ClusterId, state);
      const result = await probeCloudHsmCluster(client(), cluster.ClusterId, oneActive);
      expect(result.status, state).toBe('unhealthy');
      expect(result.summary, state).toContain(`${state}, 2 of 2 HSMs ACTIVE`);
      expect(result.summary, state).toContain('the cluster must be ACTIVE');
    }
  });

  it('says a cluster that does not exist is not found, as a connect would (CLUSTER_NOT_FOUND)', async () => {
    const result = await probeCloudHsmCluster(client(), clusterId(), oneActive);
    expect(result.status).toBe('unhealthy');
    expect(result.summary).toMatch(/not found \(a connect would end FAILED with CLUSTER_NOT_FOUND\)/);
  });

  it('answers error when the worker may not ask, naming the permission, and when the store names no cluster', async () => {
    const cluster = await h.control.putCluster({ ClusterId: clusterId() });
    await h.control.addFault({
      operation: 'DescribeClusters',
      errorType: 'CloudHsmAccessDeniedException',
      count: 1,
    });
    const denied = await probeCloudHsmCluster(client(), cluster.ClusterId, oneActive);
    expect(denied.status).toBe('error');
    expect(denied.summary).toBe(
      'DescribeClusters failed: CloudHsmAccessDeniedException (the worker or execution role needs cloudhsm:DescribeClusters)',
    );
    expect(denied.evidence).toMatchObject({ httpStatus: 400, error: 'CloudHsmAccessDeniedException' });

    const none = await probeCloudHsmCluster(client(), undefined, oneActive);
    expect(none.status).toBe('error');
    expect(none.summary).toMatch(/names no CloudHSM cluster/);
  });

  it('answers unreachable, not unhealthy, when no answer comes: a refused connection or a server fault', async () => {
    const cluster = await h.control.putCluster({ ClusterId: clusterId() });
    const refused = await probeCloudHsmCluster(client(CLOSED_PORT_URL), cluster.ClusterId, oneActive);
    expect(refused.status).toBe('unreachable');
    expect(refused.summary).toMatch(/^CloudHSM is unreachable from the worker/);

    await h.control.addFault({
      operation: 'DescribeClusters',
      errorType: 'CloudHsmInternalFailureException',
      count: 1,
    });
    await h.control.clearCalls();
    const fault = await probeCloudHsmCluster(client(), cluster.ClusterId, oneActive);
    expect(fault.status).toBe('unreachable');
    // Asked once: the probe's own schedule is its retry, not the SDK's.
    expect((await h.control.calls()).filter((c) => c.operation === 'DescribeClusters')).toHaveLength(1);
    expect(fault.evidence).toMatchObject({ httpStatus: 500, error: 'CloudHsmInternalFailureException' });
    // The fault was used up: the next question is answered.
    expect((await probeCloudHsmCluster(client(), cluster.ClusterId, oneActive)).status).toBe('healthy');
  });
});
