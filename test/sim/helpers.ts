/**
 * Shared plumbing for the simulator tests: a simulator per file, the real `@aws-sdk/client-kms`
 * pointed at it, and a bounded poll for observable state (never a fixed sleep).
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll } from 'vitest';
import {
  SimulatorControl,
  startKmsSimulator,
  type RunningSimulator,
  type SimulatorOptions,
} from '../../src/sim';

export interface SimHarness {
  sim: RunningSimulator;
  kms: KMSClient;
  control: SimulatorControl;
}

export function kmsClient(url: string, region = 'us-east-1'): KMSClient {
  return new KMSClient({
    region,
    endpoint: url,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

/**
 * Starts one simulator for the file (stopped after it). The returned object is filled in by
 * `beforeAll`, so use its members inside tests only.
 */
export function useSimulator(options: SimulatorOptions = {}): SimHarness {
  let started: SimHarness | undefined;
  const current = (): SimHarness => {
    if (!started) throw new Error('The simulator starts in beforeAll; use the harness inside tests');
    return started;
  };
  beforeAll(async () => {
    const sim = await startKmsSimulator({ port: 0, ...options });
    started = { sim, kms: kmsClient(sim.url, sim.region), control: new SimulatorControl(sim.url) };
  });
  afterAll(async () => {
    started?.kms.destroy();
    await started?.sim.stop();
  });
  return {
    get sim() {
      return current().sim;
    },
    get kms() {
      return current().kms;
    },
    get control() {
      return current().control;
    },
  };
}

/** Polls `read` until `done` holds, at most `timeoutMs`; returns the last value read. */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { timeoutMs = 5000, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`Condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface KmsErrorShape {
  name: string;
  message: string;
  status: number | undefined;
  requestId: string | undefined;
}

/** Awaits a call that must fail and returns the SDK error's name, message and HTTP status. */
export async function kmsError(call: Promise<unknown>): Promise<KmsErrorShape> {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const metadata: unknown = '$metadata' in err ? err.$metadata : undefined;
    const status = isRecord(metadata) ? metadata['httpStatusCode'] : undefined;
    const requestId = isRecord(metadata) ? metadata['requestId'] : undefined;
    return {
      name: err.name,
      message: err.message,
      status: typeof status === 'number' ? status : undefined,
      requestId: typeof requestId === 'string' ? requestId : undefined,
    };
  }
  throw new Error('Expected the KMS call to fail, but it succeeded');
}

/** A raw KMS wire request, for what the SDK would never send. */
export async function rawKms(
  url: string,
  {
    target,
    body,
    headers = {},
    region = 'us-east-1',
  }: { target?: string; body: string; headers?: Record<string, string>; region?: string },
): Promise<{ status: number; requestId: string | null; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${region}/kms/aws4_request, Signature=x`,
      ...(target ? { 'x-amz-target': `TrentService.${target}` } : {}),
      ...headers,
    },
    body,
  });
  const text = await response.text();
  const json: unknown = text ? JSON.parse(text) : {};
  return {
    status: response.status,
    requestId: response.headers.get('x-amzn-requestid'),
    json: isRecord(json) ? json : {},
  };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const CLOUDHSM_CREATE = {
  CustomKeyStoreType: 'AWS_CLOUDHSM' as const,
  TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----',
  KeyStorePassword: 'kmsuser-pass',
};

export const XKS_CREDENTIAL = {
  AccessKeyId: 'ABCDEFGHIJKLMNOPQRST',
  RawSecretAccessKey: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS0123',
};

let clusterCounter = 0;

/** A fresh valid CloudHSM cluster id (`cluster-` and 11+ letters/2-7). */
export function clusterId(): string {
  clusterCounter += 1;
  const letters = clusterCounter
    .toString(26)
    .split('')
    .map((digit) => String.fromCharCode(97 + parseInt(digit, 26)))
    .join('');
  return `cluster-${letters.padStart(11, 'a')}`;
}
