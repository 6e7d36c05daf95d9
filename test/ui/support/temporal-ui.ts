/**
 * The Temporal Web UI, as an operator uses it, for the version the dev server serves (UI 2.42.1,
 * with Temporal CLI 1.5.1 / Server 1.29.1). Every step waits on what the page shows (roles,
 * labels, texts), never on fixed sleeps. The few test ids used are the UI's own
 * (`data-testid` attributes of UI 2.42.1).
 */
import type { Locator, Page } from 'playwright-core';

export type UpdateOutcome = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface StartForm {
  /** The workflow id to type; omitted: the form's "Random UUID" button makes one. */
  readonly workflowId?: string;
  readonly taskQueue: string;
  readonly workflowType: string;
  /** The one JSON input; typed into the form pretty-printed, as an operator pastes it. */
  readonly input: unknown;
}

/** Workflow statuses as the UI labels them. */
const STATUS_LABELS = /^\s*(Running|Completed|Failed|Canceled|Terminated|Timed Out|Continued as New)\b/;

export class TemporalUi {
  constructor(
    readonly page: Page,
    readonly baseUrl: string,
    readonly namespace: string,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl}/namespaces/${encodeURIComponent(this.namespace)}${path}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Workflow list

  async openWorkflowList(): Promise<void> {
    await this.page.goto(this.url('/workflows'));
    await this.page.getByRole('button', { name: 'Add Filter' }).waitFor();
  }

  /** Filters the list on one Keyword attribute with "Add Filter" → attribute → value → Apply. */
  async filterOn(attribute: string, value: string): Promise<void> {
    await this.page.getByRole('button', { name: 'Add Filter' }).click();
    await this.page.getByRole('menuitem', { name: new RegExp(`^${attribute} Keyword$`) }).click();
    const menu = this.page.getByRole('menu', { name: new RegExp(`^Filter by ${attribute}`) });
    await menu.getByRole('textbox', { name: 'Value' }).fill(value);
    await menu.getByRole('button', { name: 'Apply' }).click();
    await this.page.getByRole('button', { name: `${attribute} = "${value}"` }).waitFor();
  }

  /**
   * Shows custom search attributes as columns right after "Workflow ID" (Run ID removed, to
   * make room), with the "Configure Workflows Table" drawer, and collapses the saved views.
   * The UI keeps this per browser profile.
   */
  async showSearchAttributeColumns(attributes: readonly string[]): Promise<void> {
    const page = this.page;
    await page.getByTestId('workflows-summary-table-configuration-button').click();
    await page.getByRole('heading', { name: 'Configure Workflows Table' }).waitFor();
    await page.getByRole('button', { name: 'Remove Run ID column' }).click();
    for (const attribute of attributes) {
      await page.getByRole('button', { name: `Add ${attribute} column` }).click();
    }
    // Default columns now: Status, Workflow ID, Type, Start, End, then the added ones.
    for (const attribute of attributes) {
      for (let i = 0; i < 3; i++) {
        await page.getByRole('button', { name: `Move ${attribute} column up` }).click();
      }
    }
    await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
    await page.getByRole('heading', { name: 'Configure Workflows Table' }).waitFor({ state: 'hidden' });
    const collapse = page.getByRole('button', { name: 'Collapse saved views' });
    if (await collapse.isVisible()) await collapse.click();
  }

  get workflowTable(): Locator {
    return this.page.getByRole('table', { name: 'Workflows' });
  }

  /** The list's rows (header excluded): each has a link to its workflow. */
  get workflowRows(): Locator {
    return this.workflowTable.getByRole('row').filter({ has: this.page.getByRole('link') });
  }

  rowOf(workflowId: string): Locator {
    return this.workflowRows.filter({
      has: this.page.getByRole('link', { name: workflowId, exact: true }),
    });
  }

  /** The text of one column of a row, by the column's header. */
  async cellText(row: Locator, column: string): Promise<string> {
    const header = this.workflowTable.getByRole('columnheader', { name: column, exact: true });
    for (let attempt = 1; ; attempt++) {
      // The table re-renders after a filter or a reload: wait until its header is back.
      await header.waitFor();
      const headers = (await this.workflowTable.getByRole('columnheader').allInnerTexts()).map((h) =>
        h.trim(),
      );
      const index = headers.indexOf(column);
      if (index >= 0) return (await row.getByRole('cell').nth(index).innerText()).trim();
      if (attempt === 5) {
        throw new Error(`no column "${column}" in the workflow list (columns: ${headers.join(', ')})`);
      }
    }
  }

  /**
   * Waits until the row of a workflow shows `text` in a column. The list does not poll: like an
   * operator, reload it (filters live in the URL, columns in the browser profile).
   */
  async waitForCell(workflowId: string, column: string, text: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '(no row)';
    for (;;) {
      await this.workflowTable.waitFor();
      const row = this.rowOf(workflowId);
      if ((await row.count()) === 1) {
        last = await this.cellText(row, column);
        if (last === text) return;
      }
      if (Date.now() > deadline) {
        throw new Error(`workflow ${workflowId}: ${column} is "${last}" in the list, expected "${text}"`);
      }
      await this.page.reload();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Start Workflow form

  /** Opens the form from the list's "Start Workflow" button and fills it; returns the id. */
  async fillStartForm(form: StartForm): Promise<string> {
    const page = this.page;
    await this.openWorkflowList();
    await page.getByRole('button', { name: 'Start Workflow' }).click();
    await page.getByRole('heading', { name: 'Start a Workflow' }).waitFor();
    const idBox = page.getByRole('textbox', { name: 'Workflow ID' });
    if (form.workflowId === undefined) {
      await page.getByRole('button', { name: 'Random UUID' }).click();
    } else {
      await idBox.fill(form.workflowId);
    }
    await page.getByRole('textbox', { name: 'Task Queue' }).fill(form.taskQueue);
    await page.getByRole('textbox', { name: 'Workflow Type' }).fill(form.workflowType);
    // Once the field is left, the form looks the task queue up: is a worker polling it?
    await page.getByRole('status').filter({ hasText: 'Task Queue is Active' }).waitFor();
    await this.typeJson(
      page.getByRole('main').locator('.cm-content[contenteditable="true"]').first(),
      form.input,
    );
    const workflowId = await idBox.inputValue();
    if (!workflowId) throw new Error('the Start Workflow form has no workflow id');
    return workflowId;
  }

  /** Clicks "Start Workflow", then the confirmation's link to the new run. */
  async submitStartForm(workflowId: string): Promise<void> {
    const page = this.page;
    await page.getByRole('button', { name: 'Start Workflow', exact: true }).click();
    await page.getByRole('link', { name: 'Workflow started successfully' }).click();
    await this.waitForWorkflowPage(workflowId);
  }

  /** Clicks "Start Workflow" when the server will refuse: returns the form's error message. */
  async submitStartFormRefused(): Promise<string> {
    const page = this.page;
    await page.getByRole('button', { name: 'Start Workflow', exact: true }).click();
    // A toast says "Error starting Workflow"; the form shows the server's reason under the button.
    const alert = page.getByRole('main').getByRole('alert');
    await alert.waitFor();
    return (await alert.innerText()).trim();
  }

  // ---------------------------------------------------------------------------------------------
  // Workflow detail page

  async openWorkflow(workflowId: string): Promise<void> {
    // Without a run id the UI opens the latest run.
    await this.page.goto(this.url(`/workflows/${encodeURIComponent(workflowId)}`));
    await this.waitForWorkflowPage(workflowId);
  }

  async waitForWorkflowPage(workflowId: string): Promise<void> {
    await this.page.getByTestId('workflow-id-heading').filter({ hasText: workflowId }).waitFor();
  }

  /** Scrolls back to the page's header (the UI keeps the scroll position across pages). */
  async scrollToTop(): Promise<void> {
    // The first element of every page: it cannot be centred, so the page ends at its top.
    await this.page.getByRole('link', { name: 'Back to Workflows' }).scrollIntoViewIfNeeded();
  }

  /** The status badge in the page's header (the page refreshes it while the run is open). */
  get headerStatus(): Locator {
    return this.page
      .getByRole('main')
      .locator('div')
      .filter({ has: this.page.getByTestId('workflow-id-heading') })
      .filter({ hasText: STATUS_LABELS })
      .last();
  }

  async waitForStatus(status: string, timeoutMs = 60_000): Promise<void> {
    await this.headerStatus.getByText(status, { exact: true }).first().waitFor({ timeout: timeoutMs });
  }

  async openTab(name: string): Promise<void> {
    const tabs = this.page.getByRole('tablist', { name: 'workflow detail' });
    await tabs.getByRole('tab', { name: new RegExp(`^${name}\\b`) }).click();
    await tabs.getByRole('tab', { name: new RegExp(`^${name}\\b`), selected: true }).waitFor();
  }

  /** Runs a query from the "Queries" tab; returns the (read-only) result editor. */
  async runQuery(queryType: string): Promise<Locator> {
    const page = this.page;
    await this.openTab('Queries');
    const typeButton = page
      .getByRole('button')
      .filter({ has: page.getByRole('textbox', { name: 'Query Type' }) });
    if ((await typeButton.getByRole('textbox').inputValue()) !== queryType) {
      await typeButton.click();
      await page.getByRole('option', { name: queryType, exact: true }).click();
    }
    // After the first run the button says "Refresh Query" (and the last result stays shown).
    await page.getByRole('button', { name: /^(Run|Refresh) Query$/ }).click();
    const result = page.getByRole('main').locator('.cm-content[contenteditable="false"]');
    await result.locator('.cm-line').first().waitFor();
    return result;
  }

  /** Waits until a line of the query result (or any read-only JSON view) contains `text`. */
  async waitForJsonLine(text: string, timeoutMs = 30_000): Promise<void> {
    await this.page
      .getByRole('main')
      .locator('.cm-content[contenteditable="false"] .cm-line', { hasText: text })
      .first()
      .waitFor({ timeout: timeoutMs });
  }

  get updateDialog(): Locator {
    return this.page.getByRole('dialog', { name: 'Send an Update' });
  }

  /** "More Actions" → "Send an Update"; returns the update names the dialog offers. */
  async openUpdateDialog(): Promise<string[]> {
    const page = this.page;
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send an Update' }).click();
    const dialog = this.updateDialog;
    await dialog.waitFor();
    await dialog.getByTestId('update-select-button').click();
    const options = dialog.getByRole('listbox').getByRole('option');
    await options.first().waitFor();
    return (await options.allInnerTexts()).map((o) => o.trim());
  }

  /**
   * Chooses an update in the open dialog, types its JSON argument and submits. The UI answers
   * with a toast ("Update successful") or an alert in the dialog with the workflow's rejection.
   */
  async submitUpdate(
    name: string,
    arg: unknown,
    beforeSubmit?: () => Promise<unknown>,
  ): Promise<UpdateOutcome> {
    const page = this.page;
    const dialog = this.updateDialog;
    const success = page.getByText('Update successful');
    // A toast of an earlier update must not be taken for this one's.
    await success.waitFor({ state: 'hidden' });
    if (!(await dialog.getByRole('listbox').isVisible())) {
      await dialog.getByTestId('update-select-button').click();
    }
    await dialog.getByRole('listbox').getByRole('option', { name, exact: true }).click();
    await this.typeJson(dialog.locator('.cm-content[contenteditable="true"]'), arg);
    await beforeSubmit?.();
    await dialog.getByRole('button', { name: 'Submit' }).click();
    const alert = dialog.getByRole('alert');
    await success.or(alert).first().waitFor();
    if (await alert.isVisible()) {
      return { ok: false, message: (await alert.getByRole('paragraph').first().innerText()).trim() };
    }
    await dialog.waitFor({ state: 'hidden' });
    return { ok: true };
  }

  async closeUpdateDialog(): Promise<void> {
    await this.updateDialog.getByRole('button', { name: 'Cancel' }).last().click();
    await this.updateDialog.waitFor({ state: 'hidden' });
  }

  /** Types JSON into one of the UI's code editors (CodeMirror), replacing what is there. */
  private async typeJson(editor: Locator, value: unknown): Promise<void> {
    await editor.click();
    await this.page.keyboard.press('ControlOrMeta+a');
    await this.page.keyboard.press('Delete');
    // insertText, unlike typing key by key, is not subject to the editor's bracket auto-closing.
    await this.page.keyboard.insertText(JSON.stringify(value, null, 2));
  }
}
