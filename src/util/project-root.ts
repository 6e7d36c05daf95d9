import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The checkout (or installed package) root: the nearest directory above this module whose
 * package.json is keystore-maint's. Works from `src/` under tsx and from `dist/src/` alike.
 */
export function projectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'keystore-maint') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`keystore-maint's package.json was not found above ${from}`);
    dir = parent;
  }
}
