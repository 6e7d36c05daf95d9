/**
 * OpenTelemetry traces end to end: a local HTTP server is the OTLP/HTTP receiver
 * (`POST /v1/traces`, JSON), the typed client is created as a service would create it, with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` set, and a real worker on the real dev server runs a maintenance
 * against the simulator. Every span the run produced must be in one trace: the client's
 * StartWorkflow, the workflow's RunWorkflow (out of the sandbox through the sink), the activities,
 * and the KMS calls with the request ids the simulator answered with.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MaintenanceClient, createMaintenanceClient } from '../../src/client';
import { currentTracing, type Tracing } from '../../src/tracing';
import {
  REGION,
  connectedStore,
  eventually,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

/** The parts of an OTLP/JSON span the test reads. */
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly attributes?: readonly { key: string; value: { stringValue?: string } }[];
  readonly status?: { code?: number };
}

interface OtlpRequest {
  readonly resourceSpans?: readonly { scopeSpans?: readonly { spans?: readonly OtlpSpan[] }[] }[];
}

let receiver: Server;
const received: OtlpSpan[] = [];
let env: MaintenanceEnv;
let client: MaintenanceClient;
let tracing: Tracing;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    void body(req).then((text) => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const request = JSON.parse(text) as OtlpRequest;
        for (const rs of request.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) received.push(...(ss.spans ?? []));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  // As a service would: the standard variable turns tracing on for the typed client.
  client = await createMaintenanceClient({
    address: inject('temporalAddress'),
    namespace: inject('temporalNamespace'),
    region: REGION,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_SERVICE_NAME: 'traces-test' },
  });
  const installed = currentTracing();
  if (!installed) throw new Error('the client did not turn tracing on');
  tracing = installed;
  env = await startMaintenanceEnv({}, { worker: { tracing } });
}, 120_000);

afterAll(async () => {
  await env?.close();
  await tracing?.shutdown();
  await client?.temporal.connection.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

const attribute = (span: OtlpSpan, key: string) =>
  span.attributes?.find((a) => a.key === key)?.value.stringValue;

describe('OpenTelemetry traces', () => {
  it('makes one maintenance run one trace, from the client start to the KMS calls', async () => {
    const store = await connectedStore(env.control);
    // The traced Temporal client, on this env's task queue (made before the env, which needs the
    // tracing it installed).
    const maintenance = new MaintenanceClient(client.temporal, env.taskQueue, REGION);
    const started = await maintenance.start(env.request(store));
    const result = await maintenance.result(store);
    expect(result.outcome).toBe('COMPLETED');

    await tracing.flush();
    const start = await eventually(async () => {
      await tracing.flush();
      return received.find((s) => s.name === 'StartWorkflow:keyStoreMaintenance');
    }, 'the client StartWorkflow span');
    // Workflow spans leave the sandbox when they end, so wait for the run's own span.
    const run = await eventually(async () => {
      await tracing.flush();
      return received.find(
        (s) => s.name === 'RunWorkflow:keyStoreMaintenance' && s.traceId === start.traceId,
      );
    }, 'the RunWorkflow span in the client trace');
    const trace = received.filter((s) => s.traceId === start.traceId);
    const names = trace.map((s) => s.name);
    expect(run.parentSpanId).toBe(start.spanId);
    expect(names).toContain('RunActivity:disconnectKeyStore');
    expect(names).toContain('RunActivity:connectKeyStore');
    expect(names).toContain('kms.ConnectCustomKeyStore');

    const kmsSpans = trace.filter((s) => s.name.startsWith('kms.'));
    const disconnect = kmsSpans.find((s) => s.name === 'kms.DisconnectCustomKeyStore');
    expect(disconnect).toBeDefined();
    expect(attribute(disconnect!, 'aws.service')).toBe('kms');
    expect(attribute(disconnect!, 'aws.operation')).toBe('DisconnectCustomKeyStore');
    expect(attribute(disconnect!, 'aws.region')).toBe(REGION);
    // The request id is the one KMS (the simulator) answered with: CloudTrail finds the call by it.
    const calls = await env.control.calls();
    const sentDisconnect = calls.find(
      (c) => c.operation === 'DisconnectCustomKeyStore' && JSON.stringify(c.params).includes(store),
    );
    expect(attribute(disconnect!, 'aws.request_id')).toBe(sentDisconnect?.requestId);
    // Every KMS span hangs under an activity span of the same trace.
    const activityIds = new Set(trace.filter((s) => s.name.startsWith('RunActivity:')).map((s) => s.spanId));
    for (const span of kmsSpans) expect(activityIds.has(span.parentSpanId ?? '')).toBe(true);
    expect(started.workflowId).toContain(store);
  }, 90_000);
});
