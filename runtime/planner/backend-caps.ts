/**
 * What each backend can run and what it costs, relative to the profile's estimatedGmacsPerS.
 *
 * Sources (DESIGN.md, measured on x86, one 1024-2048-2048-10 MLP, batch 1, one thread):
 * native fp32 3.7 ms, int8 0.29 ms, int4 0.83 ms; WASM fp32 3.4 ms, int8 9.4 ms (2.8x slower than
 * WASM fp32), int4 59 ms (17x slower). Both builds have MatMulNBits and DynamicQuantizeMatMul.
 * The WASM CPU path has no fp16 kernels worth using, so fp16 is not offered there.
 * These shape estimates only; `edge-infer bench --calibrate` replaces them with measurements.
 */
import type { BackendKind, Precision } from '../config/types.js';
import type { BackendCaps } from './types.js';
import { WASM_REFERENCE } from './wasm-memory-figures.js';

/** WASM latency of each precision relative to WASM fp32 (DESIGN.md). "mixed" runs MatMulNBits: taken as int4. */
export const WASM_SLOWDOWN_VS_FP32: Readonly<Partial<Record<Precision, number>>> = { fp32: 1, int8: 9.4 / 3.4, int4: 59 / 3.4, mixed: 59 / 3.4 };

/**
 * WASM speed factors on native-rate estimates when the profile's rates are not known: the x86
 * native/WASM ratio per precision (int8 0.29/9.4, int4 0.83/59). WASM fp32 (3.4 ms) and native
 * fp32 (3.7 ms) are taken as equal.
 */
export const WASM_FACTOR_VS_NATIVE: Readonly<Partial<Record<Precision, number>>> = { fp32: 1, int8: 0.29 / 9.4, int4: 0.83 / 59, mixed: 0.83 / 59 };

/**
 * Default caps. For WASM, pass the profile's `inference.estimatedGmacsPerS` so the speed factors
 * make each precision's WASM rate equal the profile's fp32 rate divided by the measured WASM
 * slowdown (int8 2.8x, int4/mixed 17x); without it the x86 native/WASM ratios are used.
 * Native runs every precision at the profile's rates (speedFactor 1) with ESTIMATE.sessionOverheadMB.
 * WASM memory is the measured model of wasm-memory.ts (a shared runtime's one-time cost + each
 * variant's own), not a per-session constant (issue 18: the flat 80 MB it replaces held one model
 * of the zoo in the Zero 2 W's 128 MB).
 */
export function defaultBackendCaps(kind: BackendKind, estimatedGmacsPerS?: Partial<Record<Precision, number>>): BackendCaps {
  if (kind === 'native') {
    return { kind, precisions: ['fp32', 'fp16', 'int8', 'int4', 'mixed'], unsupportedOps: [], speedFactor: {} };
  }
  const speedFactor: Partial<Record<Precision, number>> = {};
  const fp32 = estimatedGmacsPerS?.fp32;
  for (const p of ['fp32', 'int8', 'int4', 'mixed'] as const) {
    const rate = estimatedGmacsPerS?.[p];
    const slowdown = WASM_SLOWDOWN_VS_FP32[p] ?? 1;
    speedFactor[p] = fp32 !== undefined && rate !== undefined && rate > 0 ? fp32 / slowdown / rate : (WASM_FACTOR_VS_NATIVE[p] ?? 1);
  }
  return { kind, precisions: ['fp32', 'int8', 'int4', 'mixed'], unsupportedOps: [], speedFactor, wasmMemory: WASM_REFERENCE };
}
