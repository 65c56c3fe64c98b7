/**
 * The optimized-model cache (ORT "offline mode"): the first load writes ORT's optimized graph to
 * `optimizedModelPath`; later loads read it and skip graph optimization.
 *
 * Why a sidecar: a model optimized at level "extended"/"all" can hold fused, hardware-specific ops
 * (NCHWc layouts, kernels picked for this CPU) and is only valid for the same ORT build on the
 * same machine. `<optimizedModelPath>.json` records the source model's sha256, the ORT version,
 * platform/arch, CPU model and the level; any difference (or a cache file whose own sha256 does
 * not match) is a miss, so a stale or copied cache is never used.
 *
 * The cache is loaded with graph optimization "disabled": its graph is already optimized.
 * Writes are atomic (ORT writes a temp file; we rename it and then write the sidecar), so a crash
 * mid-write leaves a miss, not a corrupt hit. Runs inside the session worker (file I/O and hashing
 * stay off the main thread).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import type { GraphOptLevel } from '../config/types.js';

export interface CacheIdentity {
  ortVersion: string;
  graphOptimization: GraphOptLevel;
}

interface Sidecar {
  sourceSha256: string;
  cacheSha256: string;
  ortVersion: string;
  platform: string;
  arch: string;
  cpuModel: string;
  graphOptimization: GraphOptLevel;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sidecarPath(cachePath: string): string {
  return `${cachePath}.json`;
}

function machine(): Pick<Sidecar, 'platform' | 'arch' | 'cpuModel'> {
  return { platform: platform(), arch: arch(), cpuModel: cpus()[0]?.model ?? 'unknown' };
}

function isSidecar(v: unknown): v is Sidecar {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return ['sourceSha256', 'cacheSha256', 'ortVersion', 'platform', 'arch', 'cpuModel', 'graphOptimization'].every((k) => typeof o[k] === 'string');
}

/**
 * The cached optimized model bytes, or null on any miss (absent, stale, foreign machine, older than
 * the source file, corrupt). Never throws.
 */
export function readCache(cachePath: string, sourceSha256: string, sourceFile: string | null, id: CacheIdentity): Uint8Array | null {
  try {
    const side: unknown = JSON.parse(readFileSync(sidecarPath(cachePath), 'utf8'));
    if (!isSidecar(side)) return null;
    const m = machine();
    if (side.sourceSha256 !== sourceSha256 || side.ortVersion !== id.ortVersion || side.graphOptimization !== id.graphOptimization || side.platform !== m.platform || side.arch !== m.arch || side.cpuModel !== m.cpuModel) return null;
    if (sourceFile !== null) {
      let sourceMtime: number | null = null;
      try {
        sourceMtime = statSync(sourceFile).mtimeMs;
      } catch {
        sourceMtime = null;
      }
      if (sourceMtime !== null && statSync(cachePath).mtimeMs < sourceMtime) return null;
    }
    const bytes = readFileSync(cachePath);
    if (sha256(bytes) !== side.cacheSha256) return null;
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch {
    return null;
  }
}

/** Where ORT should write the optimized model during this load. */
export function tempCachePath(cachePath: string): string {
  return `${cachePath}.tmp-${process.pid}-${Date.now()}`;
}

/**
 * Moves ORT's freshly written file into place and writes the sidecar. Best effort: a failure leaves
 * no sidecar (a miss next time) and is returned as a message, not thrown.
 */
export function commitCache(tmpPath: string, cachePath: string, sourceSha256: string, id: CacheIdentity): string | null {
  try {
    rmSync(sidecarPath(cachePath), { force: true });
    renameSync(tmpPath, cachePath);
    const side: Sidecar = { sourceSha256, cacheSha256: sha256(readFileSync(cachePath)), ...id, ...machine() };
    const tmpSide = `${sidecarPath(cachePath)}.tmp-${process.pid}`;
    writeFileSync(tmpSide, JSON.stringify(side, null, 2) + '\n');
    renameSync(tmpSide, sidecarPath(cachePath));
    return null;
  } catch (e) {
    // Nothing half-written stays behind on a full disk: no temp file, no cache file without sidecar.
    rmSync(tmpPath, { force: true });
    rmSync(cachePath, { force: true });
    return e instanceof Error ? e.message : String(e);
  }
}
