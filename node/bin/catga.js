#!/usr/bin/env node
// The `catga` command as npm links it (`npx catga`, node_modules/.bin/catga): it exists before the
// build, so installing the package links it, and it runs the compiled CLI.
import '../dist/src/cli/main.js';
