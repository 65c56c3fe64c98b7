/**
 * Builds one .deb from a staged tree: writes DEBIAN/ (control with Installed-Size, conffiles,
 * maintainer scripts, md5sums), runs `dpkg-deb --build` with root-owned files, and checks the
 * result's contents (no other OS's or CPU's binaries, the entry points present).
 *
 * Errors: throws Error naming the offending files when the contents check fails, or when
 * dpkg-deb fails (its stderr in the message).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { foreignBinary, type DebArch } from './arch-rules.js';
import { CONFFILES, CONFIG_FILE, LIB_DIR, POSTINST, POSTRM, PRERM, controlFile } from './debian-files.js';
import { installedSizeKiB, partSizes, type PartSize } from './sizes.js';
import { fileSizes } from './tree.js';

export type Compression = 'xz' | 'gzip' | 'zstd' | 'none';

export interface DebResult {
  file: string;
  arch: DebArch;
  debBytes: number;
  installedBytes: number;
  installedSizeKiB: number;
  parts: PartSize[];
}

export interface BuildDebOptions {
  stageDir: string;
  outFile: string;
  arch: DebArch;
  version: string;
  description: string;
  maintainer: string;
  homepage?: string | undefined;
  compression: Compression;
}

/** Paths every package must hold (relative to the root). */
export const REQUIRED_PATHS = [
  'usr/bin/edge-infer',
  `${LIB_DIR}/bin/edge-infer.js`,
  `${LIB_DIR}/dist/runtime/cli/main.js`,
  `${LIB_DIR}/dist/runtime/generated/validators.cjs`,
  `${LIB_DIR}/package.json`,
  `${LIB_DIR}/models/digits/model.json`,
  'lib/systemd/system/edge-infer.service',
  CONFIG_FILE,
  'usr/share/doc/edge-infer/copyright',
  'usr/share/man/man1/edge-infer.1.gz',
];

/**
 * The armhf package's systemd drop-in: every armhf board (Zero 2 W, Pi 3 on 32-bit Pi OS) runs the
 * WASM backend, whose freed start and load buffers glibc keeps without a fixed trim threshold
 * (deploy/systemd/rpi-zero-2w.conf says what it measured). arm64 (native backend) ships none.
 */
export const ARMHF_DROP_IN = 'lib/systemd/system/edge-infer.service.d/wasm-malloc.conf';

/** Problems with a package's file list (relative paths), empty when it is fine. Pure. */
export function contentProblems(files: readonly string[], arch: DebArch): string[] {
  const problems = files.filter((f) => foreignBinary(f, arch)).map((f) => `foreign binary: ${f}`);
  const have = new Set(files);
  for (const need of REQUIRED_PATHS) if (!have.has(need)) problems.push(`missing: ${need}`);
  const native = files.some((f) => f.endsWith('/onnxruntime_binding.node'));
  const wasm = files.some((f) => f.endsWith('/ort-wasm-simd-threaded.wasm'));
  if (arch === 'arm64' && !native) problems.push('missing: the linux/arm64 onnxruntime-node binding');
  if (arch === 'armhf' && !wasm) problems.push('missing: onnxruntime-web ort-wasm-simd-threaded.wasm');
  if (arch === 'armhf' && !have.has(ARMHF_DROP_IN)) problems.push(`missing: ${ARMHF_DROP_IN}`);
  if (arch !== 'armhf' && have.has(ARMHF_DROP_IN)) problems.push(`not for ${arch}: ${ARMHF_DROP_IN}`);
  return problems;
}

export async function buildDeb(o: BuildDebOptions): Promise<DebResult> {
  const sizes = await fileSizes(o.stageDir);
  const files = [...sizes.keys()];
  const problems = contentProblems(files, o.arch);
  if (problems.length > 0) throw new Error(`edge-infer_${o.version}_${o.arch}.deb contents:\n  ${problems.join('\n  ')}`);
  const kib = installedSizeKiB(sizes);
  const debian = path.join(o.stageDir, 'DEBIAN');
  await mkdir(debian, { recursive: true, mode: 0o755 });
  await writeFile(path.join(debian, 'control'), controlFile({ version: o.version, arch: o.arch, installedSizeKiB: kib, description: o.description, maintainer: o.maintainer, homepage: o.homepage }), { mode: 0o644 });
  await writeFile(path.join(debian, 'conffiles'), CONFFILES, { mode: 0o644 });
  for (const [name, text] of [
    ['postinst', POSTINST],
    ['prerm', PRERM],
    ['postrm', POSTRM],
  ] as const) {
    await writeFile(path.join(debian, name), text, { mode: 0o755 });
  }
  // md5sums: every regular file except conffiles (dpkg tracks those itself).
  const sums: string[] = [];
  for (const [rel, bytes] of sizes) {
    if (rel === CONFIG_FILE || (bytes === 0 && (await lstat(path.join(o.stageDir, rel))).isSymbolicLink())) continue;
    const data = await readFile(path.join(o.stageDir, rel));
    sums.push(`${createHash('md5').update(data).digest('hex')}  ${rel}`);
  }
  await writeFile(path.join(debian, 'md5sums'), `${sums.join('\n')}\n`, { mode: 0o644 });
  await mkdir(path.dirname(o.outFile), { recursive: true });
  try {
    execFileSync('dpkg-deb', ['--root-owner-group', `-Z${o.compression}`, '--build', o.stageDir, o.outFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`dpkg-deb --build failed: ${stderr || (e as Error).message}`);
  }
  const debBytes = (await readFile(o.outFile)).length;
  const installedBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  return { file: o.outFile, arch: o.arch, debBytes, installedBytes, installedSizeKiB: kib, parts: partSizes(sizes) };
}
