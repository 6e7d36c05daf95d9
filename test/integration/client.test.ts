/** The typed client other services use: every call and every typed error, on the real stack. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMaintenanceClient,
  InvalidMaintenanceRequestError,
  MaintenanceAlreadyRunningError,
  MaintenanceNotFoundError,
  MaintenanceUpdateRejectedError,
  type MaintenanceClient,
} from '../../src';
import {
  connectedStore,
  eventually,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

let env: MaintenanceEnv;
let client: MaintenanceClient;
beforeAll(async () => {
  env = await startMaintenanceEnv();
  client = await createMaintenanceClient({
    client: env.temporal.client,
    taskQueue: env.taskQueue,
    region: REGION,
  });
});
afterAll(async () => env?.close());

describe('createMaintenanceClient', () => {
  it('starts, lists, steers and reads a run, with typed errors', async () => {
    const id = await connectedStore(env.control);
    const started = await client.start(env.request(id, { window: { duration: '5m' }, maxWindow: '10m' }));
    expect(started.workflowId).toBe(`keystore-maint/${REGION}/${id}`);

    const second = await client.start(env.request(id)).catch((err: unknown) => err);
    expect(second).toBeInstanceOf(MaintenanceAlreadyRunningError);
    expect((second as MaintenanceAlreadyRunningError).runningWorkflowId).toBe(started.workflowId);

    await eventually(async () => (await client.getStatus(id)).phase === 'IN_WINDOW', 'IN_WINDOW');
    expect((await client.getStatus(started.workflowId)).customKeyStoreId).toBe(id);
    const inWindow = await eventually(
      async () =>
        (await client.list({ phase: 'IN_WINDOW', customKeyStoreId: id })).find(
          (r) => r.workflowId === started.workflowId,
        ),
      'the run in the IN_WINDOW list',
    );
    expect(inWindow.phase).toBe('IN_WINDOW');

    const extended = await client.extendWindow(id, { by: 'svc', duration: '1m' });
    expect(Date.parse(extended.windowEndsAt)).toBeGreaterThan(Date.now());
    const tooFar = await client.extendWindow(id, { by: 'svc', duration: '1h' }).catch((err: unknown) => err);
    expect(tooFar).toBeInstanceOf(MaintenanceUpdateRejectedError);
    expect((tooFar as Error).message).toMatch(/past maxWindow/);
    const approve = await client.approve(id, { by: 'svc' }).catch((err: unknown) => err);
    expect((approve as Error).message).toMatch(/does not require approval/);

    await client.abort(id, { by: 'svc', reason: 'test abort' });
    const result = await client.result(id);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.abort).toMatchObject({ by: 'svc', reason: 'test abort' });
  });

  it('reads the result of a NEEDS_ATTENTION run instead of throwing', async () => {
    const id = await connectedStore(env.control);
    await env.control.patchStore(id, { connectOutcome: { failWith: 'USER_NOT_FOUND', times: 3 } });
    await client.start(env.request(id));
    const result = await client.result(id);
    expect(result.outcome).toBe('NEEDS_ATTENTION');
    expect(result.connectionError?.code).toBe('USER_NOT_FOUND');
  });

  it('refuses invalid requests and unknown runs with typed errors', async () => {
    const invalid = await client
      .start({ customKeyStoreId: 'cks-nope', window: { duration: '1h' }, reason: 'x', requestedBy: 'y' })
      .catch((err: unknown) => err);
    expect(invalid).toBeInstanceOf(InvalidMaintenanceRequestError);
    expect((invalid as InvalidMaintenanceRequestError).problems[0]).toMatch(/^customKeyStoreId:/);
    await expect(client.getStatus('cks-0000000000000f00d')).rejects.toBeInstanceOf(MaintenanceNotFoundError);
    await expect(client.endWindowNow('cks-0000000000000f00d', { by: 'x' })).rejects.toBeInstanceOf(
      MaintenanceNotFoundError,
    );
  });
});
