/**
 * The npm tarball: `npm pack` of a staged copy holding the files package.json's "files" lists
 * (dist/ prebuilt), with a package.json that has no `prepare` script, no devDependencies and no
 * test config, so `npm install -g edge-infer-<v>.tgz --omit=dev` needs no TypeScript and builds
 * nothing (npm runs `prepare` for tarball and git sources; without it there is nothing to run).
 *
 * Preconditions: `npm run build` has run. Returns the tarball's path. Throws Error when npm pack fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readProjectPackage, runtimePackageJson } from './stage.js';
import { copyOne, listFiles } from './tree.js';

export async function buildNpmTarball(projectRoot: string, outDir: string): Promise<string> {
  const pkg = (await readProjectPackage(projectRoot)) as Awaited<ReturnType<typeof readProjectPackage>> & { files?: string[] };
  const stage = path.join(outDir, 'npm-stage');
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });
  for (const entry of pkg.files ?? []) {
    const from = path.join(projectRoot, entry);
    if ((await stat(from)).isFile()) {
      await copyOne(from, path.join(stage, entry));
      continue;
    }
    for (const rel of await listFiles(from, new Set(['node_modules']))) {
      await copyOne(path.join(from, rel), path.join(stage, entry, rel), entry === 'bin');
    }
  }
  const manifest = JSON.parse(runtimePackageJson(pkg)) as Record<string, unknown>;
  manifest['files'] = pkg.files;
  // Same install-script policy as the repository (see README "Install scripts").
  manifest['allowScripts'] = (pkg as unknown as { allowScripts?: unknown }).allowScripts;
  await writeFile(path.join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', path.resolve(outDir), '--json'], { cwd: stage, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as { filename: string }[];
  if (!info) throw new Error('npm pack printed no file');
  await rm(stage, { recursive: true, force: true });
  return path.join(outDir, info.filename);
}
