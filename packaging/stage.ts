/**
 * Stages the file tree of one .deb (everything but DEBIAN/) from a built project: compiled runtime,
 * launcher, package.json, device profiles, every model under models/, deploy/ files, the production
 * node_modules filtered for the architecture (arch-rules.ts), the systemd unit, the conffile, the
 * man page and /usr/share/doc.
 *
 * Preconditions: `npm ci` and `npm run build` have run in `projectRoot` (dist/ and node_modules/ exist).
 * Contract: `stageDir` is emptied first; returns the relative paths staged. Throws Error when
 * something the package needs is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { keepDependencyDir, keepDependencyFile, type DebArch } from './arch-rules.js';
import { CONFIG_FILE, LIB_DIR, LINTIAN_OVERRIDES, MIT_TEXT, PACKAGED_CONFIG, changelogFile, copyrightFile, packagedUnit } from './debian-files.js';
import { ARMHF_DROP_IN } from './build-deb.js';
import { manPage } from './man-page.js';
import { productionPackageDirs, type LockFile } from './prod-deps.js';
import { copyOne, listFiles, normaliseDirModes } from './tree.js';

export interface StageOptions {
  projectRoot: string;
  arch: DebArch;
  stageDir: string;
  maintainer: string;
  /** Changelog date (reproducible builds pass SOURCE_DATE_EPOCH). */
  date: Date;
}

export interface ProjectPackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  homepage?: string;
  type?: string;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

export async function readProjectPackage(projectRoot: string): Promise<ProjectPackageJson> {
  return JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as ProjectPackageJson;
}

/** package.json as installed: what the runtime reads (name, version, type) without scripts or devDependencies. */
export function runtimePackageJson(p: ProjectPackageJson): string {
  const { name, version, description, license, type, engines, bin, dependencies } = p;
  return `${JSON.stringify({ name, version, description, license, type, engines, bin, dependencies }, null, 2)}\n`;
}

async function copyTree(from: string, to: string, keep: (rel: string) => boolean = () => true): Promise<string[]> {
  const copied: string[] = [];
  for (const rel of await listFiles(from, new Set(['node_modules']))) {
    if (!keep(rel)) continue;
    await copyOne(path.join(from, rel), path.join(to, rel));
    copied.push(rel);
  }
  return copied;
}

export async function stageDeb(o: StageOptions): Promise<void> {
  const { projectRoot: root, stageDir: stage } = o;
  for (const need of ['dist/runtime/cli/main.js', 'dist/runtime/generated/validators.cjs', 'node_modules', 'package-lock.json']) {
    if (!existsSync(path.join(root, need))) throw new Error(`${need} is missing: run \`npm ci\` and \`npm run build\` first`);
  }
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage, { recursive: true });
  const lib = path.join(stage, LIB_DIR);
  const pkg = await readProjectPackage(root);

  await mkdir(lib, { recursive: true });
  await writeFile(path.join(lib, 'package.json'), runtimePackageJson(pkg), { mode: 0o644 });
  await copyOne(path.join(root, 'bin/edge-infer.js'), path.join(lib, 'bin/edge-infer.js'), true);
  await copyTree(path.join(root, 'dist/runtime'), path.join(lib, 'dist/runtime'), (rel) => !rel.endsWith('.map'));
  for (const dir of ['device-profiles', 'deploy']) await copyTree(path.join(root, dir), path.join(lib, dir));
  // A model's recipe/ (training and fetch scripts, Python) makes the files; the device only serves them.
  await copyTree(path.join(root, 'models'), path.join(lib, 'models'), (rel) => !/(^|\/)recipe\//.test(rel));

  const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as LockFile;
  for (const dep of productionPackageDirs(lock)) {
    const name = dep.slice('node_modules/'.length);
    if (!keepDependencyDir(name, o.arch)) continue;
    const from = path.join(root, dep);
    if (!existsSync(from)) throw new Error(`${dep} is in package-lock.json but not installed: run \`npm ci\``);
    await copyTree(from, path.join(lib, dep), (rel) => keepDependencyFile(`${name}/${rel}`, o.arch));
  }

  await mkdir(path.join(stage, 'usr/bin'), { recursive: true });
  await symlink('../lib/edge-infer/bin/edge-infer.js', path.join(stage, 'usr/bin/edge-infer'));
  const unit = packagedUnit(await readFile(path.join(root, 'deploy/systemd/edge-infer.service'), 'utf8'));
  await mkdir(path.join(stage, 'lib/systemd/system'), { recursive: true });
  await writeFile(path.join(stage, 'lib/systemd/system/edge-infer.service'), unit, { mode: 0o644 });
  if (o.arch === 'armhf') {
    // Installed active: on armhf the backend is always WASM (see ARMHF_DROP_IN). The repo's file
    // starts with manual install steps that do not apply to a packaged drop-in.
    const dropIn = (await readFile(path.join(root, 'deploy/systemd/rpi-zero-2w.conf'), 'utf8')).replace(/^(#.*\n)*?(?=\[Service\])/, '# Installed by the armhf package (WASM backend on every 32-bit Pi OS board); override in /etc/systemd/system/edge-infer.service.d/.\n');
    await mkdir(path.dirname(path.join(stage, ARMHF_DROP_IN)), { recursive: true });
    await writeFile(path.join(stage, ARMHF_DROP_IN), dropIn, { mode: 0o644 });
  }
  await mkdir(path.dirname(path.join(stage, CONFIG_FILE)), { recursive: true });
  await writeFile(path.join(stage, CONFIG_FILE), PACKAGED_CONFIG, { mode: 0o644 });

  if (LINTIAN_OVERRIDES[o.arch] !== '') {
    await mkdir(path.join(stage, 'usr/share/lintian/overrides'), { recursive: true });
    await writeFile(path.join(stage, 'usr/share/lintian/overrides/edge-infer'), LINTIAN_OVERRIDES[o.arch], { mode: 0o644 });
  }
  const doc = path.join(stage, 'usr/share/doc/edge-infer');
  await mkdir(doc, { recursive: true });
  await writeFile(path.join(doc, 'copyright'), copyrightFile(pkg.license, pkg.license === 'MIT' ? MIT_TEXT : pkg.license, o.date.getUTCFullYear()), { mode: 0o644 });
  await writeFile(path.join(doc, 'changelog.gz'), gzipSync(changelogFile(pkg.version, o.maintainer, o.date), { level: 9 }), { mode: 0o644 });
  // The man page is the CLI's own --help, so it cannot drift from the code.
  const help = execFileSync(process.execPath, [path.join(root, 'bin/edge-infer.js'), '--help'], { encoding: 'utf8' });
  await mkdir(path.join(stage, 'usr/share/man/man1'), { recursive: true });
  await writeFile(path.join(stage, 'usr/share/man/man1/edge-infer.1.gz'), gzipSync(manPage(pkg.version, help, o.date), { level: 9 }), { mode: 0o644 });
  await normaliseDirModes(stage);
}
