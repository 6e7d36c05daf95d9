#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` first); during development use `npm run keystore-maint -- <args>`.
'use strict';
const { main } = require('../dist/src/cli.js');
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
