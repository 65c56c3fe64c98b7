/**
 * The WASM memory model (issue 18). Pure.
 *
 * Under WASM every model's session lives in one shared runtime (backend/wasm-engine.ts), so memory
 * is two terms, not a flat figure per session:
 * - the runtime's one-time cost: the worker isolate, onnxruntime-web's 14.2 MB module (its bytes
 *   and the Liftoff code compiled lazily), the 16 MB initial wasm heap; charged once per plan;
 * - a shared allowance, charged once with it: what the first model to need it pays and the others
 *   then share (kernel code compiled lazily, wasm heap growth). Measured as the largest gap between
 *   a variant loaded alone and loaded after the zoo's other models (x86: textdir 22.6 vs 6.7 MB);
 * - each variant's own cost on a runtime already holding the other models. Not proportional to
 *   the file: a 0.25 MB transformer costs more than a 0.3 MB MLP.
 * Figures, best first: this board's calibration (`edge-infer bench --calibrate`: per-variant
 * `rssMB` and the runtime's `runtimes` entry) -> the reference figures measured on x86
 * (wasm-memory-figures.ts, by bench/wasm-memory.ts, matched by sha256) -> for a variant never
 * measured, the fallback line above every measured variant (baseMB + perFileMB x file MB).
 * Both `plan` and the service plan through here, so what `plan` shows is what `run` loads.
 */
import type { VariantManifest } from '../repository/types.js';
import type { Figure } from './estimate.js';
import type { Calibration, WasmMemoryFigures } from './types.js';

const MiB = 1024 * 1024;

export interface RuntimeFigure extends Figure {
  startMB: number;
  sharedMB: number;
}

/**
 * The shared runtime's one-time charge: its start plus the shared allowance, both from this board's
 * calibration at `threads` when it has a runtime entry, else the reference figures.
 */
export function wasmRuntimeFigure(figures: WasmMemoryFigures, calibration: Calibration | undefined, threads: number): RuntimeFigure {
  const cal = calibration?.runtimes?.find((r) => r.backend === 'wasm' && r.threads === threads);
  const startMB = cal ? cal.rssMB : figures.runtimeMB;
  // A calibration without its own shared figure holds alone figures, which already include it.
  const sharedMB = cal ? (cal.sharedMB ?? 0) : figures.sharedMB;
  return { value: startMB + sharedMB, source: cal ? 'measured' : 'reference', startMB, sharedMB };
}

/** A variant's own cost on a started runtime (calibration is applied by the caller first). */
export function wasmVariantFigure(model: string, v: VariantManifest, figures: WasmMemoryFigures): Figure {
  const ref = figures.variants.find((e) => e.model === model && e.variant === v.id && e.sha256 === v.sha256);
  if (ref) return { value: ref.mb, source: 'reference' };
  return { value: figures.fallback.baseMB + figures.fallback.perFileMB * (v.bytes / MiB), source: 'estimated' };
}

/**
 * The fallback line for a set of measured variants: the least-squares slope (at least 1 MB per file
 * MB: a session holds its weights), lifted so that every measured point lies on or under it.
 */
export function fitFallback(points: readonly { fileMB: number; mb: number }[]): WasmMemoryFigures['fallback'] {
  if (points.length === 0) return { baseMB: 0, perFileMB: 1 };
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.fileMB, 0) / n;
  const my = points.reduce((s, p) => s + p.mb, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.fileMB - mx) ** 2, 0);
  const sxy = points.reduce((s, p) => s + (p.fileMB - mx) * (p.mb - my), 0);
  const perFileMB = Math.max(1, sxx > 0 ? sxy / sxx : 1);
  const baseMB = Math.max(...points.map((p) => p.mb - perFileMB * p.fileMB));
  return { baseMB: Math.ceil(baseMB * 10) / 10, perFileMB: Math.ceil(perFileMB * 100) / 100 };
}
