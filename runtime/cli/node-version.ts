/**
 * The Node.js versions edge-infer supports (issue 14): 20 and later, what package.json `engines`
 * says. Node 18 (Raspberry Pi OS bookworm's apt `nodejs`) is refused at start with
 * EDGE_ERR_NODE_UNSUPPORTED rather than failing later in some module: it is past its end of life
 * (April 2025) and the runtime is not tested on it. README "Node.js on a Pi" says how to get 20.
 *
 * Contract: pure; no imports beyond the error registry, so bin/edge-infer.js can load it first
 * (it must parse on old Node versions: ES2022 syntax, no newer APIs).
 */
export const MIN_NODE_MAJOR = 20;

/** The problem with running on Node `version` ("v18.19.0" or "18.19.0"), or null when it is supported. */
export function nodeVersionProblem(version: string): string | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m === null) return `cannot read the Node.js version "${version}"`;
  const major = Number(m[1]);
  if (major < MIN_NODE_MAJOR) {
    return `Node.js ${version.replace(/^v?/, 'v')} is not supported: edge-infer needs Node.js ${MIN_NODE_MAJOR} or later`;
  }
  return null;
}

/** How to get a supported Node on a Pi (the EDGE_ERR_NODE_UNSUPPORTED hint says the same, shorter). */
export const NODE_INSTALL_HELP = ['Raspberry Pi OS trixie (13): sudo apt-get install nodejs   (Node 20)', "Raspberry Pi OS bookworm (12): its nodejs is 18; use NodeSource's apt repository for Node 20 or 22", '  (https://github.com/nodesource/distributions), then: sudo apt-get install nodejs'].join('\n');
