/**
 * `npm run package`: builds dist/pkg/edge-infer_<v>_arm64.deb, edge-infer_<v>_armhf.deb and
 * edge-infer-<v>.tgz from the built project, prints each package's installed size split by part,
 * writes dist/pkg/sizes.json, and exits 1 when a package is over its size limit (SIZE_LIMIT_MB)
 * or holds files it must not (build-deb.ts contentProblems).
 *
 *   node dist/packaging/main.js [--arch arm64,armhf] [--no-npm] [--out dist/pkg] [--compression xz|gzip|zstd|none]
 *
 * Env: SOURCE_DATE_EPOCH (changelog/man page date), DEB_MAINTAINER (Maintainer: field).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEB_ARCHES, type DebArch } from './arch-rules.js';
import { buildDeb, type Compression, type DebResult } from './build-deb.js';
import { buildNpmTarball } from './npm-tarball.js';
import { SIZE_LIMIT_MB, formatParts } from './sizes.js';
import { readProjectPackage, stageDeb } from './stage.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArches(v: string | undefined): DebArch[] {
  if (v === undefined) return [...DEB_ARCHES];
  const list = v.split(',').map((s) => s.trim());
  for (const a of list) if (!(DEB_ARCHES as readonly string[]).includes(a)) throw new Error(`--arch: "${a}" is not one of ${DEB_ARCHES.join(', ')}`);
  return list as DebArch[];
}

function parseCompression(v: string | undefined): Compression {
  const c = v ?? 'xz';
  if (c !== 'xz' && c !== 'gzip' && c !== 'zstd' && c !== 'none') throw new Error(`--compression must be xz, gzip, zstd or none (got "${c}")`);
  return c;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { arch: { type: 'string' }, 'no-npm': { type: 'boolean' }, out: { type: 'string' }, compression: { type: 'string' } }, strict: true });
  const arches = parseArches(values.arch);
  const compression = parseCompression(values.compression);
  const outDir = path.resolve(values.out ?? path.join(projectRoot, 'dist/pkg'));
  const pkg = await readProjectPackage(projectRoot);
  const epoch = Number(process.env['SOURCE_DATE_EPOCH']);
  const date = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date();
  const maintainer = process.env['DEB_MAINTAINER'] ?? 'edge-infer maintainers <maintainers@edge-infer.example.org>';
  const results: DebResult[] = [];
  let failed = false;
  for (const arch of arches) {
    const stageDir = path.join(outDir, `stage-${arch}`);
    await stageDeb({ projectRoot, arch, stageDir, maintainer, date });
    const r = await buildDeb({ stageDir, outFile: path.join(outDir, `edge-infer_${pkg.version}_${arch}.deb`), arch, version: pkg.version, description: pkg.description, maintainer, homepage: pkg.homepage, compression });
    results.push(r);
    const limit = SIZE_LIMIT_MB[arch] ?? Infinity;
    const installedMiB = r.installedSizeKiB / 1024;
    const over = installedMiB > limit;
    failed ||= over;
    process.stdout.write(`\n${path.basename(r.file)}: ${(r.debBytes / 1048576).toFixed(2)} MiB .deb, installed ${installedMiB.toFixed(2)} MiB ` + `(limit ${limit} MiB: ${over ? 'OVER' : 'ok'})\n${formatParts(r.parts, r.installedBytes)}\n`);
  }
  let npmTarball: string | null = null;
  if (values['no-npm'] !== true) {
    npmTarball = await buildNpmTarball(projectRoot, outDir);
    process.stdout.write(`\n${path.basename(npmTarball)}: npm tarball (dist/ prebuilt; dependencies come from the registry at install)\n`);
  }
  await writeFile(path.join(outDir, 'sizes.json'), `${JSON.stringify({ version: pkg.version, debs: results, npmTarball }, null, 2)}\n`);
  return failed ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  process.stderr.write(`package: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
