/**
 * The KMS call span (activities/kms-call.ts) and the tracing switch (src/tracing.ts): a call's
 * answer or error passes through unchanged, its span carries the request id and an error status,
 * and a tracer that throws costs the span, never the call.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countedKmsCall } from '../../activities/kms-call';
import { NO_METRICS } from '../../src/metrics/recorder';
import { installTracing, tracedBundlePath, tracesUrl, tracingEnabled, type Tracing } from '../../src/tracing';
import { workflowSourceFor } from '../../src/worker';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;

beforeAll(() => {
  tracing = installTracing('unit-test', { env: {}, exporter });
});
afterAll(async () => {
  await tracing.shutdown();
});

describe('the tracing switch', () => {
  it('is on only with an OTLP endpoint, and finds the traces URL by the specification', () => {
    expect(tracingEnabled({})).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: ' ' })).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      tracesUrl({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:4318/traces',
      }),
    ).toBe('http://other:4318/traces');
  });
});

describe('a KMS call span', () => {
  it('carries the operation, Region and request id; errors pass through with an error status', async () => {
    exporter.reset();
    const answer = { $metadata: { requestId: 'req-ok' }, CustomKeyStores: [] };
    await expect(
      countedKmsCall(NO_METRICS, 'DescribeCustomKeyStores', () => Promise.resolve(answer), 'eu-west-1'),
    ).resolves.toBe(answer);
    const failure = Object.assign(new Error('throttled'), {
      name: 'ThrottlingException',
      $metadata: { requestId: 'req-err' },
    });
    await expect(
      countedKmsCall(NO_METRICS, 'ConnectCustomKeyStore', () => Promise.reject(failure), 'eu-west-1'),
    ).rejects.toBe(failure);
    await tracing.flush();
    const [ok, err] = exporter.getFinishedSpans();
    expect(ok?.name).toBe('kms.DescribeCustomKeyStores');
    expect(ok?.attributes).toMatchObject({
      'aws.service': 'kms',
      'aws.operation': 'DescribeCustomKeyStores',
      'aws.region': 'eu-west-1',
      'aws.request_id': 'req-ok',
    });
    expect(ok?.status.code).toBe(0);
    expect(err?.name).toBe('kms.ConnectCustomKeyStore');
    expect(err?.attributes).toMatchObject({
      'aws.request_id': 'req-err',
      'error.type': 'ThrottlingException',
    });
    expect(err?.status).toMatchObject({ code: 2, message: 'throttled' });
  });

  it('costs the span, never the call, when the tracer throws', async () => {
    const broken: TracerProvider = {
      getTracer: (): Tracer => {
        throw new Error('tracer broken');
      },
    };
    trace.disable();
    trace.setGlobalTracerProvider(broken);
    try {
      await expect(
        countedKmsCall(NO_METRICS, 'DisconnectCustomKeyStore', () => Promise.resolve('done'), 'us-east-1'),
      ).resolves.toBe('done');
    } finally {
      trace.disable();
    }
  });
});

describe('which workflow bundle a worker loads', () => {
  it('the plain bundle without tracing, its traced twin with tracing, and refuses a missing twin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keystore-maint-bundles-'));
    try {
      const plain = join(dir, 'workflow-bundle.js');
      writeFileSync(plain, '// plain');
      expect(tracedBundlePath(plain)).toBe(join(dir, 'workflow-bundle.traced.js'));
      expect(workflowSourceFor(plain, false)).toEqual({ workflowBundle: { codePath: plain } });
      expect(() => workflowSourceFor(plain, true)).toThrow(
        /tracing is on .*workflow-bundle\.traced\.js, the traced workflow bundle, does not exist; build both bundles with npm run bundle/,
      );
      writeFileSync(tracedBundlePath(plain), '// traced');
      expect(workflowSourceFor(plain, true)).toEqual({
        workflowBundle: { codePath: tracedBundlePath(plain) },
      });
      expect(workflowSourceFor(undefined, true)).toHaveProperty('workflowsPath');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
