/**
 * No secrets anywhere: a full run with a webhook secret and a canary, on a real worker process
 * writing the real JSON Lines trail, leaves neither the secret nor any data key plaintext in the
 * audit sink, the workflow history (fetched through the client) or the worker's log.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKmsClient } from '../../src/kms/client';
import {
  connectedStore,
  outcomeOf,
  REGION,
  startMaintenanceEnv,
  TEST_CREDENTIALS,
  type MaintenanceEnv,
} from '../support/maintenance-env';
import { startController, webhookEnvironment, type Controller } from '../support/traffic-controller';
import { startWorkerProcess } from '../support/worker-process';

const SECRET = 'whsec-never-in-any-record-9b8c7d6e5f4a';

let env: MaintenanceEnv;
let controller: Controller;
beforeAll(async () => {
  env = await startMaintenanceEnv();
  controller = await startController(SECRET);
});
afterAll(async () => {
  await controller?.close();
  await env?.close();
});

/** Base64 of exactly 32 bytes (an AES-256 data key) anywhere in a text. */
const DATA_KEY_BASE64 = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])/;

describe('secrets', () => {
  it('a webhook + canary run leaves no secret or plaintext in the sink, the history or the log', async () => {
    const id = await connectedStore(env.control);
    const kms = createKmsClient({ region: REGION, endpoint: env.sim.url, credentials: TEST_CREDENTIALS });
    const canaryKeyId = (
      await kms.send(new CreateKeyCommand({ Origin: 'AWS_CLOUDHSM', CustomKeyStoreId: id }))
    ).KeyMetadata?.KeyId;
    kms.destroy();
    const auditFile = join(mkdtempSync(join(tmpdir(), 'secrets-')), 'audit.jsonl');
    const taskQueue = `secrets-${id.slice(-6)}`;
    const worker = await startWorkerProcess({
      KEYSTORE_MAINT_TASK_QUEUE: taskQueue,
      AWS_ENDPOINT_URL_KMS: env.sim.url,
      AWS_REGION: REGION,
      KEYSTORE_MAINT_AUDIT_FILE: auditFile,
      ...webhookEnvironment(controller),
      WORKER_LOG_LEVEL: 'INFO',
    });
    try {
      const handle = await env.temporal.client.workflow.start('keyStoreMaintenance', {
        taskQueue,
        workflowId: `keystore-maint/${REGION}/${id}`,
        args: [
          { ...env.request(id), canaryKeyId, drain: { provider: 'webhook', controller: controller.name } },
        ],
      });
      const result = await outcomeOf(handle);
      expect(result.outcome).toBe('COMPLETED');
      expect(result.events.some((e) => e.action === 'canary.passed')).toBe(true);
      expect(controller.received.map((r) => r.action)).toEqual(['drain', 'restore']);

      const trail = readFileSync(auditFile, 'utf8');
      const history = JSON.stringify(await handle.fetchHistory());
      const log = worker.output();
      expect(log).toMatch(/\[INFO\]/); // the log was captured at the production level
      for (const [name, text] of Object.entries({ trail, history, log })) {
        expect(text, name).not.toContain(SECRET);
        expect(text, name).not.toMatch(/"Plaintext"/);
        expect(text, name).not.toMatch(DATA_KEY_BASE64);
      }
    } finally {
      await worker.kill('SIGTERM');
    }
  });
});
