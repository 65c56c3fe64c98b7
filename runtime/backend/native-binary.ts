/**
 * Whether onnxruntime-node ships a binary for this platform. It has linux x64/arm64, darwin
 * arm64 and win32 x64/arm64 builds; none for 32-bit ARM (`process.arch === 'arm'`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface PlatformProbe {
  platform: string;
  arch: string;
  /** Defaults to fs.existsSync. */
  exists?: (path: string) => boolean;
  /** Root of the onnxruntime-node package; default resolved from node_modules. */
  packageRoot?: string | null;
}

function ortNodeRoot(): string | null {
  try {
    const require = createRequire(import.meta.url);
    return dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    return null;
  }
}

/** Path where onnxruntime-node keeps its N-API binary for a platform/arch. */
export function nativeBindingPath(root: string, platform: string, arch: string): string {
  return join(root, 'bin', 'napi-v6', platform, arch, 'onnxruntime_binding.node');
}

export function nativeAvailable(probe: PlatformProbe = { platform: process.platform, arch: process.arch }): boolean {
  const root = probe.packageRoot === undefined ? ortNodeRoot() : probe.packageRoot;
  if (root === null) return false;
  const exists = probe.exists ?? existsSync;
  return exists(nativeBindingPath(root, probe.platform, probe.arch));
}
