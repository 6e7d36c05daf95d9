/**
 * OpenTelemetry traces (docs/monitoring.md, "Traces"): one maintenance run is one trace, from the
 * client's StartWorkflow through the workflow's RunWorkflow to every activity and KMS call.
 *
 * Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then spans go over OTLP/HTTP (JSON) to
 * `<endpoint>/v1/traces` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, which the exporter reads
 * itself), named by `OTEL_SERVICE_NAME` or the process's default. Off, no provider is registered
 * and the OpenTelemetry API's no-op tracer answers every call, so nothing changes.
 *
 * Like metrics, traces are a side channel that must never extend an outage: spans are batched and
 * sent in the background, an unreachable collector only loses spans, and flushing at exit is
 * bounded.
 */
import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSinks } from '@temporalio/worker';

export const DEFAULT_WORKER_SERVICE_NAME = 'keystore-maint-worker';
export const DEFAULT_CLIENT_SERVICE_NAME = 'keystore-maint-client';

/** The tracer of the project's own spans (the KMS calls); the no-op tracer while tracing is off. */
export function projectTracer(): Tracer {
  return trace.getTracer('keystore-maint');
}

export interface Tracing {
  readonly serviceName: string;
  readonly resource: Resource;
  readonly spanProcessor: SpanProcessor;
  /** Sends what is batched; bounded, never rejects (spans may be lost, runs never wait). */
  flush(): Promise<void>;
  /** Flushes and stops the exporter; bounded, never rejects. */
  shutdown(): Promise<void>;
}

/** Tracing is on when the standard OTLP endpoint variable (or its traces-only form) is set. */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/** The OTLP/HTTP traces URL, by the specification's rule: the signal's own, or `<base>/v1/traces`. */
export function tracesUrl(env: NodeJS.ProcessEnv): string {
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() ?? '';
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

let installed: Tracing | undefined;

/**
 * Registers the process's tracer provider (once; OpenTelemetry's globals are per process) with
 * `exporter`, or the OTLP/HTTP exporter from the environment. Tests pass their own exporter.
 */
export function installTracing(defaultServiceName: string, options: InstallOptions = {}): Tracing {
  if (installed) return installed;
  const env = options.env ?? process.env;
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || defaultServiceName;
  const resource = new Resource({ 'service.name': serviceName });
  // The URL from the `env` given (the exporter alone would read only process.env); the exporter
  // still reads OTEL_EXPORTER_OTLP_HEADERS and the timeouts itself.
  const exporter = options.exporter ?? new OTLPTraceExporter({ url: tracesUrl(env) });
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000 });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // Activities run in async code: the span the activity interceptor opens must be the parent of
  // the KMS call spans made inside it, which needs an async-aware context manager.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const bounded = (what: () => Promise<void>) =>
    withTimeout(
      what().catch(() => undefined),
      5_000,
    );
  installed = {
    serviceName,
    resource,
    spanProcessor,
    flush: () => bounded(() => spanProcessor.forceFlush()),
    shutdown: async () => {
      await bounded(() => provider.shutdown());
      trace.disable();
      context.disable();
      installed = undefined;
    },
  };
  return installed;
}

export interface InstallOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly exporter?: SpanExporter;
}

/** The installed tracing, or, when the environment turns it on, tracing installed now. */
export function tracingFromEnvironment(
  defaultServiceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Tracing | undefined {
  if (installed) return installed;
  return tracingEnabled(env) ? installTracing(defaultServiceName, { env }) : undefined;
}

/** The tracing this process has installed, if any. */
export function currentTracing(): Tracing | undefined {
  return installed;
}

/** The client interceptor that starts the run's trace and sends its context in the headers. */
export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  return [new OpenTelemetryWorkflowClientInterceptor()];
}

/**
 * OpenTelemetry's workflow interceptors. Only workers with tracing on load them: bundling at
 * start, they are added then; with a prebuilt bundle, the worker loads the traced bundle built
 * beside it (`tracedBundlePath`, written by `npm run bundle`). They add only a trace-context
 * header to what a workflow schedules, which replay does not compare, so a run may move between
 * workers with and without tracing.
 */
export const TRACING_WORKFLOW_MODULES: readonly string[] = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/** The traced bundle built beside a plain one: `workflow-bundle.js` → `workflow-bundle.traced.js`. */
export function tracedBundlePath(plainBundlePath: string): string {
  return plainBundlePath.replace(/(\.js)?$/, '.traced.js');
}

/**
 * The sink the workflow interceptors (TRACING_WORKFLOW_MODULES) export their spans through.
 * Registered on every worker, tracing or not (without tracing no code calls it, and a replay
 * tool given a traced bundle drops the spans).
 */
export function tracingSinks(tracing: Tracing | undefined): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: tracing
      ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource)
      : makeWorkflowExporter(new NoopSpanProcessor(), Resource.empty()),
  };
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
