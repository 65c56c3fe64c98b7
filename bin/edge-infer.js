#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the `prepare` script) or `npm run build`.
import '../dist/runtime/cli/main.js';
