/**
 * Writes the JSON Schema files of the published contract (schema/, see scripts/schema-files.ts):
 * `npm run schema`. CI fails when they are stale (scripts/check-generated.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { projectRoot } from '../src/util/project-root';
import { schemaFiles } from './schema-files';

async function main(): Promise<void> {
  const root = projectRoot();
  const files = await schemaFiles(root);
  for (const [path, content] of files) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  console.log(`wrote ${files.size} schema files: ${[...files.keys()].join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
