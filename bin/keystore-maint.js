#!/usr/bin/env node
// Runs the compiled CLI (npm run build first); during development use `npm run keystore-maint -- <args>`.
require('../dist/src/cli.js');
