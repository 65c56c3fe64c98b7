#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (the `prepare` script) or `npm run build`;
// the .deb and npm tarball ship it prebuilt.
// The Node version is checked first, before any module that may need a newer Node is loaded
// (issue 14: Pi OS bookworm's apt nodejs is 18): EDGE_ERR_NODE_UNSUPPORTED, exit 78 (systemd's
// RestartPreventExitStatus=78 stops a restart loop on it).
import { nodeVersionProblem } from '../dist/runtime/cli/node-version.js';
import { ERROR_DEFS } from '../dist/runtime/errors.js';

const problem = nodeVersionProblem(process.version);
if (problem !== null) {
  const def = ERROR_DEFS.EDGE_ERR_NODE_UNSUPPORTED;
  process.stderr.write(`edge-infer: EDGE_ERR_NODE_UNSUPPORTED: ${problem} (${process.execPath})\n  hint: ${def.hint}\n`);
  process.exit(def.exit);
}
await import('../dist/runtime/cli/main.js');
