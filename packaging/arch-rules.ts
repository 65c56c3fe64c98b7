/**
 * Which files of the production node_modules go into the package for one Debian architecture.
 *
 * - arm64 (Pi 3/4/5 with a 64-bit OS): onnxruntime-node with only its linux/arm64 binaries; no
 *   onnxruntime-web (the native backend runs everywhere onnxruntime-node has a binary; a profile
 *   that forces "wasm" gets EDGE_ERR_BACKEND_UNAVAILABLE there).
 * - armhf (Zero 2 W / Pi 3 with a 32-bit OS): onnxruntime-node has no 32-bit ARM build, so none of
 *   its binaries; onnxruntime-web with only the Node entry and the one WASM build it loads in Node
 *   (ort-wasm-simd-threaded.mjs + .wasm; the jsep/jspi/asyncify builds are for browsers/WebGPU).
 * - both: no source maps, TypeScript declarations, @types packages, docs, tests or dotfiles
 *   (.eslintrc, .npmignore, .gitattributes: lintian errors) of dependencies.
 *
 * Contract: pure; `rel` is a path under node_modules/ with "/" separators (e.g.
 * "onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1"). License files are always kept.
 */
export type DebArch = 'arm64' | 'armhf';

export const DEB_ARCHES: readonly DebArch[] = ['arm64', 'armhf'];

/** The `process.arch` Node reports on a board running that Debian architecture. */
export const NODE_ARCH: Record<DebArch, string> = { arm64: 'arm64', armhf: 'arm' };

const LICENSE = /(^|\/)(LICEN[CS]E|COPYING|NOTICE|ThirdPartyNotices)[^/]*$/i;
const JUNK = /(\.map|\.d\.ts|\.d\.mts|\.d\.cts|\.md|\.markdown|\.ts|\.tsbuildinfo)$|(^|\/)(\.github|test|tests|__tests__|docs?|example|examples|benchmarks?)\/|(^|\/)\.[^/]+$/i;
const WEB_KEEP = new Set(['onnxruntime-web/package.json', 'onnxruntime-web/dist/ort.node.min.mjs', 'onnxruntime-web/dist/ort.node.min.js', 'onnxruntime-web/dist/ort-wasm-simd-threaded.mjs', 'onnxruntime-web/dist/ort-wasm-simd-threaded.wasm']);

export function keepDependencyFile(rel: string, arch: DebArch): boolean {
  if (LICENSE.test(rel)) return !rel.startsWith('@types/');
  if (rel.startsWith('@types/')) return false;
  if (rel.startsWith('onnxruntime-node/bin/')) {
    return arch === 'arm64' && rel.startsWith('onnxruntime-node/bin/napi-v6/linux/arm64/');
  }
  // onnxruntime-node's install script and its helpers are never run from the package.
  if (rel.startsWith('onnxruntime-node/script/')) return false;
  if (rel.startsWith('onnxruntime-web/') && !rel.startsWith('onnxruntime-web/node_modules/')) {
    return arch === 'armhf' && WEB_KEEP.has(rel);
  }
  if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) return false;
  return !JUNK.test(rel);
}

/** Whether a whole dependency folder ships for `arch` (onnxruntime-web's own dependencies only where it ships). */
export function keepDependencyDir(dir: string, arch: DebArch): boolean {
  if (dir.startsWith('@types/')) return false;
  // sharp (issue 11's fast image decoder) is left out of both packages: its native builds for the
  // Pi (@img/sharp-linux-arm64 + libvips, 18 MB; linux-arm, 15 MB) are not installed on the build
  // host and would not fit armhf's 45 MB or arm64's 60 MB with the zoo. runtime/media/image-decode.ts
  // falls back to jpeg-js + pngjs (pure JS, 0.7 MB) when sharp does not load; README "Images".
  if (dir === 'sharp' || dir.startsWith('@img/') || dir.startsWith('@emnapi/')) return false;
  if (dir === 'onnxruntime-web' || dir.startsWith('onnxruntime-web/')) return arch === 'armhf';
  return true;
}

/** A path that must never be in a package for `arch`: another OS's or CPU's binaries. */
export function foreignBinary(path: string, arch: DebArch): boolean {
  if (/(^|\/)(darwin|win32|win-|osx|macos)/i.test(path)) return true;
  if (/(^|\/)(linux[-/])?(x64|x86_64|x86|ia32)(\/|$)/i.test(path)) return true;
  if (/\.(dll|dylib|exe)$/i.test(path)) return true;
  if (arch === 'armhf' && /\.node$|\.so(\.|$)/.test(path)) return true; // no native code on armhf: WASM only
  return false;
}
