/**
 * Screenshots of each step, saved as test artifacts in `test-results/ui/NN-name.png`. With
 * `KEYSTORE_MAINT_UI_DOCS_IMAGES=1` the ones marked for the documentation are also copied to
 * `docs/images/ui-name.png` (what docs/starting-runs.md shows).
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';

export interface Clip {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface ShotOptions {
  /** Also copy to docs/images/ui-<name>.png when KEYSTORE_MAINT_UI_DOCS_IMAGES=1. */
  readonly docs?: boolean;
  /** Only this part of the page. */
  readonly clip?: Clip;
}

export class Screenshots {
  private count = 0;
  readonly taken: string[] = [];

  constructor(
    readonly dir: string,
    readonly docsDir: string | undefined,
  ) {
    mkdirSync(dir, { recursive: true });
    // Artifacts of this run only.
    for (const file of readdirSync(dir)) if (file.endsWith('.png')) rmSync(join(dir, file));
    if (docsDir) mkdirSync(docsDir, { recursive: true });
  }

  async take(name: string, target: Page | Locator, options: ShotOptions = {}): Promise<string> {
    this.count++;
    const path = join(this.dir, `${String(this.count).padStart(2, '0')}-${name}.png`);
    if ('goto' in target) {
      await target.screenshot({ path, ...(options.clip ? { clip: options.clip } : {}) });
    } else {
      await target.screenshot({ path });
    }
    this.taken.push(path);
    if (options.docs && this.docsDir) copyFileSync(path, join(this.docsDir, `ui-${name}.png`));
    return path;
  }
}

/** The box of an element, for clipping a page screenshot to part of it. */
export async function boxOf(locator: Locator): Promise<Clip> {
  const box = await locator.boundingBox();
  if (!box) throw new Error(`${String(locator)} is not visible`);
  return box;
}
