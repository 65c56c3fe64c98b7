/**
 * Installed size of a staged package, split into the parts that take the space, so a growing model
 * zoo or a new dependency shows up in the CI log. Pure (takes the file -> bytes map of the stage).
 */
import { LIB_DIR } from './debian-files.js';

export interface PartSize {
  part: string;
  bytes: number;
  files: number;
}

/** Installed-size limits from issue 14, in MiB (dpkg counts Installed-Size in KiB). */
export const SIZE_LIMIT_MB: Record<string, number> = { arm64: 60, armhf: 45 };

export function partOf(rel: string): string {
  const lib = `${LIB_DIR}/`;
  if (!rel.startsWith(lib)) return 'system files (unit, config, man page, docs)';
  const r = rel.slice(lib.length);
  if (r.startsWith('node_modules/onnxruntime-node/bin/')) return 'onnxruntime-node native binaries';
  if (r.startsWith('node_modules/onnxruntime-web/dist/') && r.endsWith('.wasm')) return 'onnxruntime-web WASM binary';
  if (r.startsWith('node_modules/onnxruntime-')) return 'onnxruntime JS (node/web/common)';
  if (r.startsWith('node_modules/')) return 'other dependencies (mqtt, aedes, ajv, protobufjs, ...)';
  if (r.startsWith('dist/')) return 'compiled runtime (dist/)';
  const model = /^models\/([^/]+)\//.exec(r);
  if (model) return `model ${model[1]}`;
  if (r.startsWith('models/')) return 'models/ (shared files)';
  return 'profiles, deploy files, launcher';
}

/** Parts, largest first. */
export function partSizes(sizes: ReadonlyMap<string, number>): PartSize[] {
  const parts = new Map<string, PartSize>();
  for (const [rel, bytes] of sizes) {
    const name = partOf(rel);
    const p = parts.get(name) ?? { part: name, bytes: 0, files: 0 };
    p.bytes += bytes;
    p.files += 1;
    parts.set(name, p);
  }
  return [...parts.values()].sort((a, b) => b.bytes - a.bytes);
}

/** dpkg's Installed-Size: KiB, each file rounded up to a whole KiB (what dpkg-gencontrol computes). */
export function installedSizeKiB(sizes: ReadonlyMap<string, number>): number {
  let kib = 0;
  for (const bytes of sizes.values()) kib += Math.max(1, Math.ceil(bytes / 1024));
  return kib;
}

export function formatParts(parts: readonly PartSize[], totalBytes: number): string {
  const mb = (b: number): string => (b / 1048576).toFixed(2).padStart(7);
  const width = Math.max(...parts.map((p) => p.part.length), 5);
  return [`${'part'.padEnd(width)}  ${'MiB'.padStart(7)}  files`, ...parts.map((p) => `${p.part.padEnd(width)}  ${mb(p.bytes)}  ${p.files}`), `${'total'.padEnd(width)}  ${mb(totalBytes)}  ${parts.reduce((n, p) => n + p.files, 0)}`].join('\n');
}
