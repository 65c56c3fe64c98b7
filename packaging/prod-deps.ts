/**
 * The production dependency folders of an npm project, read from its package-lock.json (v2/v3):
 * every `node_modules/...` entry not marked `dev` and not a link (the devDependency "edge-infer":
 * "file:." is a link to the project itself). `devOptional` entries are dev-only for us too.
 *
 * Contract: pure (takes the parsed lock file); returns paths relative to the project root, sorted,
 * each a folder that `npm ci` created. Throws Error on a lock file without a `packages` map.
 */
export interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  link?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
}

export interface LockFile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

export function productionPackageDirs(lock: LockFile): string[] {
  if (lock.packages === undefined) throw new Error('package-lock.json has no "packages" map (lockfileVersion 2 or 3 needed)');
  return Object.entries(lock.packages)
    .filter(([p, e]) => p.startsWith('node_modules/') && e.dev !== true && e.devOptional !== true && e.link !== true)
    .map(([p]) => p)
    .sort();
}
