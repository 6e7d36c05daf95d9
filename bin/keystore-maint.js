#!/usr/bin/env node
// The `keystore-maint` command. An installed package runs its compiled CLI (dist/); a checkout
// right after `npm install`, before any build, runs the TypeScript sources through tsx (a
// development dependency), so `npx keystore-maint --help` works on a fresh clone too.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

function loadCli() {
  const compiled = join(__dirname, '..', 'dist', 'src', 'cli.js');
  if (existsSync(compiled)) return require(compiled);
  try {
    require('tsx/cjs');
  } catch {
    console.error(
      'keystore-maint: this checkout is not built and tsx is not installed; run `npm install` (then it runs from the sources) or `npm run build`',
    );
    process.exit(1);
  }
  return require(join(__dirname, '..', 'src', 'cli.ts'));
}

loadCli()
  .main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
