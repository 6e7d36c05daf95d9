/**
 * A Python service using Temporal's own Python SDK (pinned in test/clients/python) drives runs
 * on the real dev server and worker: start with `null` optional fields, query, every update
 * valid / invalid / argument-less, a duplicate start, an early abort under a generated id, and
 * typed failures. Every refusal must be the project's own typed failure, and every result must
 * match the simulator's ground truth.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILURE_TYPES } from '../../src/domain/errors';
import { projectRoot } from '../../src/util/project-root';
import { groundTruth } from '../support/ground-truth';
import {
  connectedStore,
  DEFAULT_CONFIRM_SETTLE,
  mutatingAccepted,
  callsFor,
  REGION,
  startMaintenanceEnv,
  type MaintenanceEnv,
} from '../support/maintenance-env';

interface SeenError {
  readonly pythonError: string;
  readonly chain: readonly string[];
  readonly type?: string | null;
  readonly message?: string;
  readonly nonRetryable?: boolean;
  readonly details?: readonly unknown[];
}
type Outcome =
  | { readonly ok: unknown; readonly error?: undefined }
  | { readonly ok?: undefined; readonly error: SeenError };
interface Seen {
  steered: {
    workflowId: string;
    inWindow: { phase: string; customKeyStoreId: string; window: { endsAt: string } };
    updates: Record<string, Outcome>;
    statusAfterRefusals: { phase: string; windowEndsAt?: string };
    result: Outcome;
  };
  duplicate: {
    workflowId: string;
    sameIdFailPolicy: Outcome;
    generatedId: string;
    generatedIdResult: Outcome;
    abort: Outcome;
    result: Outcome;
  };
  earlyAbort: {
    workflowId: string;
    abortToGeneratedId: Outcome;
    abortToCanonicalId: Outcome;
    canonicalResult: Outcome;
    generatedResult: Outcome;
  };
  typedFailures: {
    invalidRequest: Outcome;
    noArgument: Outcome;
    unknownStore: Outcome;
    needsAttention: Outcome;
    needsAttentionStatus: { phase: string };
  };
}

const OUR_TYPES = new Set<string>(Object.values(FAILURE_TYPES));

let env: MaintenanceEnv;
let python: string;
beforeAll(async () => {
  // Idempotent and quick once made; .ci/run makes it before the tests.
  const out = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-python-venv.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  python = out.trim().split('\n').pop() ?? '';
  env = await startMaintenanceEnv();
}, 300_000);
afterAll(async () => env?.close());

function runPython(plan: object): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [join(projectRoot(), 'test', 'clients', 'python', 'cross_language.py')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the Python client exited ${code}:\n${stderr}`));
      try {
        resolve(JSON.parse(stdout) as Seen);
      } catch (err) {
        reject(new Error(`the Python client printed no JSON (${String(err)}):\n${stdout}\n${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

/** A refusal the project made, by its stable type; never a raw language error. */
function expectOurFailure(outcome: Outcome | undefined, type: string, message?: RegExp): SeenError {
  const context = JSON.stringify(outcome);
  expect(outcome?.error, context).toBeDefined();
  const error = outcome?.error as SeenError;
  expect(error.type, context).toBe(type);
  expect(OUR_TYPES.has(error.type ?? ''), context).toBe(true);
  expect(error.message ?? '', context).not.toMatch(/TypeError|ReferenceError|Cannot read prop|undefined/);
  if (message) expect(error.message, context).toMatch(message);
  return error;
}

describe('a Python service, through Temporal’s Python SDK', () => {
  it('starts, queries, steers and reads runs, and gets the project’s typed failures', async () => {
    const stores = {
      steered: await connectedStore(env.control),
      duplicate: await connectedStore(env.control),
      earlyAbort: await connectedStore(env.control),
      needsAttention: await connectedStore(env.control),
      unknown: 'cks-0123456789abcdef0',
    };
    await env.control.patchStore(stores.needsAttention, {
      connectOutcome: { failWith: 'USER_NOT_FOUND', times: 3 },
    });
    // The early abort must land while the store is on its way down, with slow calls in flight.
    await env.control.patchStore(stores.earlyAbort, { disconnectDelayMs: 3_000 });

    const seen = await runPython({
      address: env.temporal.address,
      namespace: env.temporal.namespace,
      taskQueue: env.taskQueue,
      region: REGION,
      confirmSettle: DEFAULT_CONFIRM_SETTLE,
      stores,
    });

    // --- one run steered end to end -----------------------------------------------------
    const steered = seen.steered;
    expect(steered.inWindow).toMatchObject({ phase: 'IN_WINDOW', customKeyStoreId: stores.steered });
    const extended = steered.updates['extendWindow.valid']?.ok as { windowEndsAt?: unknown } | undefined;
    expect(Date.parse(String(extended?.windowEndsAt))).toBeGreaterThan(
      Date.parse(steered.inWindow.window.endsAt),
    );
    expectOurFailure(steered.updates['extendWindow.badDuration'], FAILURE_TYPES.updateRejected, /duration/);
    expectOurFailure(steered.updates['extendWindow.string'], FAILURE_TYPES.updateRejected, /got a string/);
    expectOurFailure(
      steered.updates['extendWindow.noArgument'],
      FAILURE_TYPES.updateRejected,
      /got no argument/,
    );
    expectOurFailure(
      steered.updates['approve.noApprovalNeeded'],
      FAILURE_TYPES.updateRejected,
      /does not require approval/,
    );
    expectOurFailure(steered.updates['approve.noArgument'], FAILURE_TYPES.updateRejected, /got no argument/);
    // Python's None travels as Temporal's binary/null payload, which the workflow reads as "no argument".
    expectOurFailure(steered.updates['abort.null'], FAILURE_TYPES.updateRejected, /got no argument/);
    expectOurFailure(
      steered.updates['abort.missingReason'],
      FAILURE_TYPES.updateRejected,
      /"reason" is required/,
    );
    expectOurFailure(
      steered.updates['endWindowNow.noArgument'],
      FAILURE_TYPES.updateRejected,
      /got no argument/,
    );
    expectOurFailure(steered.updates['endWindowNow.list'], FAILURE_TYPES.updateRejected, /got a list/);
    // A name the workflow does not have: Temporal's own refusal, which names it.
    expect(steered.updates.unknownUpdate?.error?.message).toMatch(/pause/);
    // Refused updates changed nothing.
    expect(steered.statusAfterRefusals.phase).toBe('IN_WINDOW');
    expect(steered.updates['endWindowNow.valid']?.ok).toBeDefined();
    expect(steered.result.ok).toMatchObject({ outcome: 'COMPLETED', trafficRestored: true });
    const steeredTruth = await groundTruth(env.control, undefined, stores.steered, {});
    expect(steeredTruth.state).toBe('CONNECTED');
    expect(steeredTruth.accepted).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);

    // --- a second start for the same store --------------------------------------------------
    const duplicate = seen.duplicate;
    expect(duplicate.sameIdFailPolicy.error?.pythonError).toBe('WorkflowAlreadyStartedError');
    const dupError = expectOurFailure(
      duplicate.generatedIdResult,
      FAILURE_TYPES.alreadyRunning,
      /already running/,
    );
    expect(dupError.details?.[0]).toEqual({ runningWorkflowId: duplicate.workflowId });
    expect(duplicate.abort.ok).toBeDefined();
    expect(duplicate.result.ok).toMatchObject({ outcome: 'CANCELLED' });
    const duplicateTruth = await groundTruth(env.control, undefined, stores.duplicate, {});
    expect(duplicateTruth.state).toBe('CONNECTED');
    // One maintenance only: the 3 h window that was sent second never ran.
    expect(duplicateTruth.accepted).toEqual(['DisconnectCustomKeyStore', 'ConnectCustomKeyStore']);

    // --- an early abort under an id the caller made up --------------------------------------
    const early = seen.earlyAbort;
    const canonical = `keystore-maint/${REGION}/${stores.earlyAbort}`;
    expectOurFailure(
      early.abortToGeneratedId,
      FAILURE_TYPES.updateRejected,
      new RegExp(`send the update there`),
    );
    expect(early.abortToGeneratedId.error?.message).toContain(canonical);
    expect(early.abortToCanonicalId.ok).toBeDefined();
    const cancelled = early.canonicalResult.ok as {
      outcome: string;
      trafficRestored: boolean;
      message: string;
    };
    expect(cancelled.outcome).toBe('CANCELLED');
    expect(early.generatedResult.ok).toMatchObject({ outcome: 'CANCELLED' });
    const earlyTruth = await groundTruth(env.control, undefined, stores.earlyAbort, {}, 3_000);
    expect(earlyTruth.state).toBe('CONNECTED');
    if (cancelled.message.includes('Nothing was changed')) expect(earlyTruth.changedAnything).toBe(false);

    // --- typed failures ------------------------------------------------------------------------
    const failures = seen.typedFailures;
    const invalid = expectOurFailure(
      failures.invalidRequest,
      FAILURE_TYPES.invalidRequest,
      /customKeyStoreId/,
    );
    const problems = (invalid.details?.[0] as { problems?: string[] } | undefined)?.problems ?? [];
    for (const field of ['customKeyStoreId', 'window', 'reason', 'requestedBy']) {
      expect(
        problems.some((p) => p.startsWith(field)),
        JSON.stringify(problems),
      ).toBe(true);
    }
    expectOurFailure(failures.noArgument, FAILURE_TYPES.invalidRequest);
    // The run's failure is MaintenanceFailed carrying the result; what ended it is its `failure`.
    const unknown = expectOurFailure(failures.unknownStore, FAILURE_TYPES.maintenanceFailed, /Check the id/);
    const unknownResult = unknown.details?.[0] as {
      outcome: string;
      failure?: { type: string };
      events: { error?: { type: string } }[];
    };
    expect(unknownResult.outcome).toBe('FAILED');
    expect(unknownResult.failure?.type).toBe(FAILURE_TYPES.keyStoreNotFound);
    expect(unknownResult.events.map((e) => e.error?.type)).toContain(FAILURE_TYPES.keyStoreNotFound);
    const attention = expectOurFailure(failures.needsAttention, FAILURE_TYPES.needsAttention);
    expect(attention.details?.[0]).toMatchObject({ outcome: 'NEEDS_ATTENTION' });
    expect(failures.needsAttentionStatus.phase).toBe('NEEDS_ATTENTION');
    const attentionTruth = await groundTruth(env.control, undefined, stores.needsAttention, {});
    expect(attentionTruth.state).not.toBe('CONNECTED');
    expect(mutatingAccepted(await callsFor(env.control, stores.unknown))).toEqual([]);
  }, 240_000);
});
