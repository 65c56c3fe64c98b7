/**
 * Locating the installed package (where device-profiles/ and models/ ship), from source or from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EdgeError } from '../errors.js';

/**
 * The nearest folder at or above `fromDir` holding the edge-infer package.json.
 * Throws EDGE_ERR_INTERNAL when none exists (a broken install).
 */
export function packageRoot(fromPath: string): string {
  let dir = dirname(fromPath);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'edge-infer') return dir;
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new EdgeError('EDGE_ERR_INTERNAL', `no edge-infer package.json above ${fromPath}`);
    dir = up;
  }
}
