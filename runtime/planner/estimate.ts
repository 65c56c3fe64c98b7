/**
 * Memory and latency figures per variant: measured (calibration) when there is an entry for this
 * model, variant, backend and thread count; otherwise estimated with the constants below.
 * Pure.
 */
import type { DeviceProfile, Precision } from '../config/types.js';
import type { VariantManifest } from '../repository/types.js';
import type { BackendCaps, Calibration, CalibrationEntry, FigureSource } from './types.js';
import { wasmVariantFigure } from './wasm-memory.js';

const MiB = 1024 * 1024;

/**
 * The estimate constants, in one place so measured figures can replace them. Every figure made
 * from them is labelled "estimated" in plans; `edge-infer bench --calibrate` replaces them.
 * - memoryBytesFactor: a session holds the weights (file bytes) plus pre-packed copies,
 *   activations and arena slack; x1.3 is a starting guess, not a measurement.
 * - sessionOverheadMB: fixed cost of one loaded model beyond its weights, native backend (one
 *   worker thread + ORT session per model). Measured on x86 with models/digits (10 KB and 340 KB
 *   files), 1 thread, after load + warm-up, sessions 2..5 of a process: 11.1-12.1 MB RSS growth
 *   (`node` script over NativeEngine.load -> rssDeltaMB). The first session in a process costs
 *   ~32 MB more (the ORT library itself): that is part of the process, covered by the reserve.
 *   WASM costs far more per session: see WASM_SESSION_OVERHEAD_MB in backend-caps.ts.
 * - latencyOverheadMs: per-run cost outside the MACs (binding, tensor copies); a guess.
 * - fallbackGmacsPerS: used when the profile gives no rate for a precision nor its fallbacks.
 */
export const ESTIMATE = { memoryBytesFactor: 1.3, sessionOverheadMB: 11, latencyOverheadMs: 0.1, fallbackGmacsPerS: 1 } as const;

/** Rate used for a precision the profile does not rate: fp16 -> fp32, mixed -> int4 -> int8 -> fp32. */
const RATE_FALLBACK: Readonly<Record<Precision, readonly Precision[]>> = { fp32: ['fp32'], fp16: ['fp16', 'fp32'], int8: ['int8', 'fp32'], int4: ['int4', 'int8', 'fp32'], mixed: ['mixed', 'int4', 'int8', 'fp32'] };

export interface Figure {
  value: number;
  source: FigureSource;
}

export interface VariantFigures {
  memory: Figure;
  latency: Figure;
}

/** The calibration entry for a variant on this backend at the profile's thread count, if any. */
export function calibrationFor(cal: Calibration | undefined, model: string, variant: string, caps: BackendCaps, threads: number): CalibrationEntry | undefined {
  return cal?.entries.find((e) => e.model === model && e.variant === variant && e.backend === caps.kind && e.threads === threads);
}

export function estimateMemoryMB(v: VariantManifest, caps?: BackendCaps): number {
  return (v.bytes * ESTIMATE.memoryBytesFactor) / MiB + (caps?.sessionOverheadMB ?? ESTIMATE.sessionOverheadMB);
}

export function estimateLatencyMs(v: VariantManifest, profile: DeviceProfile, caps: BackendCaps): number {
  const rates = profile.inference.estimatedGmacsPerS;
  let gmacs: number = ESTIMATE.fallbackGmacsPerS;
  for (const p of RATE_FALLBACK[v.precision]) {
    const r = rates[p];
    if (r !== undefined && r > 0) {
      gmacs = r;
      break;
    }
  }
  const factor = caps.speedFactor[v.precision] ?? 1;
  return v.macs / (gmacs * factor * 1e6) + ESTIMATE.latencyOverheadMs;
}

export function variantFigures(model: string, v: VariantManifest, input: { profile: DeviceProfile; backend: BackendCaps; calibration?: Calibration }): VariantFigures {
  const entry = calibrationFor(input.calibration, model, v.id, input.backend, input.profile.inference.threads);
  const wasm = input.backend.wasmMemory;
  return {
    memory: entry ? { value: entry.rssMB, source: 'measured' } : wasm ? wasmVariantFigure(model, v, wasm) : { value: estimateMemoryMB(v, input.backend), source: 'estimated' },
    latency: entry ? { value: entry.latencyP95Ms, source: 'measured' } : { value: estimateLatencyMs(v, input.profile, input.backend), source: 'estimated' },
  };
}
