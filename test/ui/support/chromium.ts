/**
 * Debian's Chromium (`/usr/bin/chromium`, or `CHROMIUM_PATH`), driven by playwright-core: no
 * browser of Playwright's own is downloaded. Headless, with a fresh profile per launch, so saved
 * table columns or filters from an earlier run never leak into a test.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_FLAGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface RunningBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH?.trim() || DEFAULT_CHROMIUM_PATH;
  if (!existsSync(path)) {
    throw new Error(
      `Chromium is not installed at ${path}: run "bash scripts/ensure-chromium.sh" (Debian's chromium package), or set CHROMIUM_PATH`,
    );
  }
  return path;
}

export async function launchChromium(
  viewport: { width: number; height: number } = { width: 1280, height: 800 },
): Promise<RunningBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'keystore-maint-chromium-'));
  try {
    // Playwright takes the profile directory as a parameter and passes --user-data-dir itself.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath(),
      headless: true,
      args: [...CHROMIUM_FLAGS],
      viewport,
      deviceScaleFactor: 1,
      timezoneId: 'UTC',
      locale: 'en-US',
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    return {
      context,
      page,
      close: async () => {
        await context.close().catch(() => undefined);
        rmSync(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
}
