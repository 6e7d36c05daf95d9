/**
 * On-demand runs from the Temporal Web UI, end to end, in a real browser: Debian's Chromium
 * driven by playwright-core against the UI that `temporal server start-dev` serves (UI 2.42.1),
 * with a real worker and the KMS simulator behind it. Each step leaves a screenshot in
 * `test-results/ui/`; `KEYSTORE_MAINT_UI_DOCS_IMAGES=1 npm run test:ui` also refreshes the ones
 * that docs/starting-runs.md shows.
 *
 * The steps run in order on one page, as an operator would work:
 * 1. find a running maintenance by `KmsCustomKeyStoreId`, with its `MaintenancePhase` shown;
 * 2. start one from the Start Workflow form with the documented JSON input → COMPLETED (and
 *    the form cannot start a second run of a store that has one: the per-store lock);
 * 3. run the `status` query and send `endWindowNow` → the run proceeds to COMPLETED;
 * 4. a run started under the form's generated id delegates to the canonical id; updates go there;
 * 5. abort a run (the `abort` update), and cancel one ("Request Cancellation"): both are
 *    compensated and end CANCELLED; the list shows every run's end state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MaintenanceNotFoundError } from '../../src/client';
import { maintenanceWorkflowId, SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../../src/domain/names';
import type { RunPhase } from '../../src/domain/phases';
import type { MaintenanceRequest } from '../../src/domain/request';
import { LOCAL_REGION, startLocalStack, type LocalStack } from '../../src/local-stack';
import { projectRoot } from '../../src/util/project-root';
import { launchChromium, type RunningBrowser } from './support/chromium';
import { boxOf, Screenshots } from './support/screenshots';
import { TemporalUi } from './support/temporal-ui';

// The worker's own progress lines would bury the report; failures show through the assertions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process.
}

const OPERATOR = 'operator@example.com';
const APPROVER = 'approver@example.com';
const PHASE = SEARCH_ATTRIBUTES.phase.name;
const STORE_ID = SEARCH_ATTRIBUTES.customKeyStoreId.name;

let stack: LocalStack;
let browser: RunningBrowser;
let ui: TemporalUi;
let shots: Screenshots;
let workDir: string;

/** Runs started by the steps, for the final overview. */
const runs: {
  steered?: string;
  aborted?: string;
  cancelled?: string;
  fromForm?: string;
  parent?: string;
  child?: string;
} = {};

async function newStore(): Promise<string> {
  const store = await stack.control.createStore({
    CustomKeyStoreType: 'AWS_CLOUDHSM',
    ConnectionState: 'CONNECTED',
  });
  return store.CustomKeyStoreId;
}

function request(customKeyStoreId: string, window: string): MaintenanceRequest {
  return {
    customKeyStoreId,
    window: { duration: window },
    reason: 'rotate the HSM cluster certificate',
    requestedBy: OPERATOR,
    pollInterval: '200ms',
    confirmSettle: '2s',
  };
}

/** Waits, through the typed client, until a run (store id or workflow id) is in `phase`. */
async function waitForPhase(storeOrWorkflowId: string, phase: RunPhase, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '(not started)';
  for (;;) {
    try {
      seen = (await stack.client.getStatus(storeOrWorkflowId)).phase;
      if (seen === phase) return;
    } catch (err) {
      // A child run the parent has not started yet.
      if (!(err instanceof MaintenanceNotFoundError)) throw err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${storeOrWorkflowId} did not reach ${phase} within ${timeoutMs} ms (last: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The open update dialog from its top down to the rejection's message (not the stack trace). */
async function rejectionClip() {
  const dialog = await boxOf(ui.updateDialog);
  const message = await boxOf(ui.updateDialog.getByRole('alert').getByRole('paragraph').first());
  return {
    x: dialog.x,
    y: dialog.y,
    width: dialog.width,
    height: message.y + message.height + 16 - dialog.y,
  };
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'keystore-maint-ui-'));
  const root = projectRoot();
  shots = new Screenshots(
    join(root, 'test-results', 'ui'),
    process.env.KEYSTORE_MAINT_UI_DOCS_IMAGES === '1' ? join(root, 'docs', 'images') : undefined,
  );
  const [started, launched] = await Promise.allSettled([
    startLocalStack({
      auditFile: join(workDir, 'audit.jsonl'),
      simulator: { connectDelayMs: 300, disconnectDelayMs: 200, consistencyLagMs: 1_000, quotaRps: 0 },
    }),
    launchChromium(),
  ]);
  // Keep whatever started, so that afterAll stops it even if the other failed.
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
  if (!stack.server.uiUrl) throw new Error('the dev server runs without its Web UI');
  ui = new TemporalUi(browser.page, stack.server.uiUrl, stack.server.namespace);
});

beforeEach(({ task, onTestFailed }) => {
  // What the page showed when a step failed: the first thing to look at.
  onTestFailed(async () => {
    const name = `FAILED-${task.name.replace(/[^a-zA-Z0-9]+/g, '-').slice(0, 60)}`;
    await shots.take(name, browser.page).catch(() => undefined);
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe.sequential('the Temporal Web UI (2.42.1, served by the dev server)', () => {
  it('finds a running maintenance by KmsCustomKeyStoreId and shows its MaintenancePhase', async () => {
    const [steered, other] = await Promise.all([newStore(), newStore()]);
    // One run to steer in step 3 and one to abort in step 5: long windows, ended from the UI.
    runs.steered = (await stack.client.start(request(steered, '5m'))).workflowId;
    runs.aborted = (await stack.client.start(request(other, '5m'))).workflowId;
    await Promise.all([waitForPhase(steered, 'IN_WINDOW'), waitForPhase(other, 'IN_WINDOW')]);

    await ui.openWorkflowList();
    await ui.showSearchAttributeColumns([PHASE, STORE_ID]);
    await ui.rowOf(runs.steered).waitFor();
    await ui.rowOf(runs.aborted).waitFor();

    await ui.filterOn(STORE_ID, steered);
    await ui.rowOf(runs.aborted).waitFor({ state: 'detached' });
    const row = ui.rowOf(runs.steered);
    await row.waitFor();
    expect(await ui.workflowRows.count()).toBe(1);
    expect(await ui.cellText(row, 'Status')).toBe('Running');
    expect(await ui.cellText(row, PHASE)).toBe('IN_WINDOW');
    expect(await ui.cellText(row, STORE_ID)).toBe(steered);
    // The filter is a visibility query in the URL: a link an operator can share.
    expect(new URL(browser.page.url()).searchParams.get('query')).toBe(`\`${STORE_ID}\`="${steered}"`);
    await shots.take('list-filtered', browser.page, { docs: true });
  });

  it('refuses, in the Start Workflow form, a second run of a store that has one running (the per-store lock)', async () => {
    const workflowId = runs.steered;
    if (!workflowId) throw new Error('step 1 did not start the run to steer');
    const store = (await stack.client.getStatus(workflowId)).customKeyStoreId;
    await ui.fillStartForm({
      workflowId,
      taskQueue: stack.taskQueue,
      workflowType: WORKFLOW_TYPES.maintenance,
      input: request(store, '1h'),
    });
    const refusal = await ui.submitStartFormRefused();
    expect(refusal).toContain(`Workflow execution is already running. WorkflowId: ${workflowId}`);
    await shots.take('start-refused', browser.page, { docs: true });
    expect((await stack.client.getStatus(workflowId)).phase).toBe('IN_WINDOW');
  });

  it('starts a maintenance from the Start Workflow form with the documented JSON input; it runs to COMPLETED', async () => {
    const store = await newStore();
    const workflowId = maintenanceWorkflowId(LOCAL_REGION, store);
    const typed = await ui.fillStartForm({
      workflowId,
      taskQueue: stack.taskQueue,
      workflowType: WORKFLOW_TYPES.maintenance,
      input: {
        customKeyStoreId: store,
        window: { duration: '3s' },
        reason: 'monthly HSM patching',
        requestedBy: OPERATOR,
        ticket: 'CHG-1234',
        pollInterval: '200ms',
        confirmSettle: '2s',
      },
    });
    expect(typed).toBe(workflowId);
    await shots.take('start-form', browser.page, { docs: true });

    await ui.submitStartForm(workflowId);
    runs.fromForm = workflowId;
    await ui.waitForStatus('Completed');
    // The History tab shows the run's result: the maintenance's own end state.
    await ui.waitForJsonLine('"outcome": "COMPLETED"');
    await ui.scrollToTop();
    await shots.take('start-completed', browser.page, { docs: true });

    const result = await stack.client.result(workflowId);
    expect(result).toMatchObject({
      outcome: 'COMPLETED',
      customKeyStoreId: store,
      requestedBy: OPERATOR,
      ticket: 'CHG-1234',
    });
    expect(result.timeline.map((span) => span.phase)).toContain('IN_WINDOW');
  });

  it('runs the status query and sends endWindowNow from the UI; the run proceeds to COMPLETED', async () => {
    const workflowId = runs.steered;
    if (!workflowId) throw new Error('step 1 did not start the run to steer');
    await ui.openWorkflow(workflowId);
    await ui.waitForStatus('Running');

    await ui.runQuery('status');
    await ui.waitForJsonLine('"phase": "IN_WINDOW"');
    await ui.waitForJsonLine(`"workflowId": "${workflowId}"`);
    await shots.take('status-query', browser.page, { docs: true });

    // The dialog lists the run's updates (from the __temporal_workflow_metadata query).
    const offered = await ui.openUpdateDialog();
    expect(offered).toEqual(expect.arrayContaining(['approve', 'extendWindow', 'endWindowNow', 'abort']));
    await shots.take('update-names', browser.page, { docs: true });

    // A validator's rejection is shown in the dialog, and nothing changes.
    const rejected = await ui.submitUpdate('extendWindow', { by: OPERATOR, duration: '30d' });
    expect(rejected.ok).toBe(false);
    expect(rejected.ok ? '' : rejected.message).toMatch(/^extendWindow: extending by 30d .* past maxWindow/);
    await shots.take('update-rejected', browser.page, { docs: true, clip: await rejectionClip() });
    await ui.closeUpdateDialog();
    expect((await stack.client.getStatus(workflowId)).extensions).toEqual([]);

    await ui.openUpdateDialog();
    const ended = await ui.submitUpdate('endWindowNow', { by: OPERATOR }, () =>
      shots.take('end-window-now', browser.page, { docs: true }),
    );
    expect(ended).toEqual({ ok: true });
    await shots.take('update-successful', browser.page);

    await ui.waitForStatus('Completed');
    await ui.runQuery('status');
    await ui.waitForJsonLine('"phase": "COMPLETED"');
    await shots.take('completed-after-end-window', browser.page, { docs: true });

    const result = await stack.client.result(workflowId);
    expect(result.outcome).toBe('COMPLETED');
    expect(result.windowEndedEarlyBy).toBe(OPERATOR);
    expect(result.timeline.map((span) => span.phase)).toEqual([
      'PREFLIGHT',
      'DRAINING',
      'DISCONNECTING',
      'WAITING_DISCONNECTED',
      'IN_WINDOW',
      'RECONNECTING',
      'WAITING_CONNECTED',
      'VERIFYING',
      'RESTORING',
      'COMPLETED',
    ]);
  });

  it("delegates a run started under the form's generated id to the canonical id; updates go to that child", async () => {
    const store = await newStore();
    const childId = maintenanceWorkflowId(LOCAL_REGION, store);
    const parentId = await ui.fillStartForm({
      taskQueue: stack.taskQueue,
      workflowType: WORKFLOW_TYPES.maintenance,
      input: { ...request(store, '1s'), approval: { required: true } },
    });
    expect(parentId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await ui.submitStartForm(parentId);
    runs.parent = parentId;
    runs.child = childId;
    await waitForPhase(childId, 'AWAITING_APPROVAL');

    await ui.openTab('Relationships');
    const childLink = browser.page.getByRole('main').getByRole('link', { name: childId, exact: true });
    await childLink.waitFor();
    await shots.take('relationships', browser.page, { docs: true });

    await ui.openUpdateDialog();
    const refused = await ui.submitUpdate('approve', { by: APPROVER });
    expect(refused).toEqual({
      ok: false,
      message: `approve: this run delegates the maintenance to workflow ${childId} (the store's canonical run, which holds the per-store lock); send the update there`,
    });
    await shots.take('parent-refuses-update', browser.page, { docs: true, clip: await rejectionClip() });
    await ui.closeUpdateDialog();

    await childLink.click();
    await ui.waitForWorkflowPage(childId);
    await ui.runQuery('status');
    await ui.waitForJsonLine('"phase": "AWAITING_APPROVAL"');
    await shots.take('awaiting-approval', browser.page);

    await ui.openUpdateDialog();
    expect(await ui.submitUpdate('approve', { by: APPROVER })).toEqual({ ok: true });
    await ui.waitForStatus('Completed');
    await ui.runQuery('status');
    await ui.waitForJsonLine('"phase": "COMPLETED"');
    await shots.take('approved-completed', browser.page);

    // The parent's result is the child's.
    const result = await stack.client.result(parentId);
    expect(result).toMatchObject({ outcome: 'COMPLETED', workflowId: childId, customKeyStoreId: store });
    expect(result.approval.approvedBy).toBe(APPROVER);
  });

  it('aborts a run from the UI with the abort update: compensated, it ends CANCELLED', async () => {
    const workflowId = runs.aborted;
    if (!workflowId) throw new Error('step 1 did not start the run to abort');
    await ui.openWorkflow(workflowId);
    await ui.openUpdateDialog();
    const answer = await ui.submitUpdate(
      'abort',
      { by: OPERATOR, reason: 'vendor postponed the patch' },
      () => shots.take('abort', browser.page),
    );
    expect(answer).toEqual({ ok: true });
    // An aborted run returns its result, so Temporal calls it Completed; the phase says CANCELLED.
    await ui.waitForStatus('Completed');
    const result = await stack.client.result(workflowId);
    expect(result.outcome).toBe('CANCELLED');
    expect(result.abort).toMatchObject({ by: OPERATOR, reason: 'vendor postponed the patch' });
    expect(result.trafficRestored).toBe(true);
  });

  it('"Request Cancellation" is a Temporal cancellation: compensated too, it ends Canceled / CANCELLED', async () => {
    const store = await newStore();
    runs.cancelled = (await stack.client.start(request(store, '5m'))).workflowId;
    await waitForPhase(store, 'IN_WINDOW');
    await ui.openWorkflow(runs.cancelled);
    await browser.page.getByRole('button', { name: 'Request Cancellation' }).click();
    const confirm = browser.page.getByRole('dialog', { name: 'Cancel Workflow' });
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await ui.waitForStatus('Canceled');
    const status = await stack.client.getStatus(runs.cancelled);
    expect(status.outcome).toBe('CANCELLED');
    expect(status.store.lastObservedState).toBe('CONNECTED');
    expect(status.trafficRestored).toBe(true);
  });

  it('lists every run with its end state in MaintenancePhase', async () => {
    await ui.openWorkflowList();
    await ui.filterOn('WorkflowType', WORKFLOW_TYPES.maintenance);
    const expected: [string | undefined, string, string][] = [
      [runs.steered, 'Completed', 'COMPLETED'],
      [runs.aborted, 'Completed', 'CANCELLED'],
      [runs.cancelled, 'Canceled', 'CANCELLED'],
      [runs.fromForm, 'Completed', 'COMPLETED'],
      [runs.parent, 'Completed', 'COMPLETED'],
      [runs.child, 'Completed', 'COMPLETED'],
    ];
    for (const [id, status, phase] of expected) {
      if (!id) throw new Error('an earlier step did not start its run');
      await ui.waitForCell(id, PHASE, phase);
      expect(await ui.cellText(ui.rowOf(id), 'Status')).toBe(status);
    }
    // No hover effects on a row in the picture.
    await browser.page.getByRole('heading', { level: 1 }).hover();
    await shots.take('list-end-states', browser.page, { docs: true });
  });
});
