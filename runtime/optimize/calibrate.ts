/**
 * Activation ranges for static quantization, measured on calibration samples (issue 10).
 *
 * Methods:
 * - minmax: the smallest and largest value seen.
 * - percentile: the values at `percentile` and 100 - `percentile` (default 99.99) of a 2048-bin
 *   histogram over [min, max]: outliers are clipped.
 * - entropy: the threshold t on a 2048-bin |x| histogram whose 128-level quantization has the least
 *   KL divergence from the full histogram (the TensorRT / onnxruntime "Entropy" method); range [-t, t]
 *   intersected with [min, max].
 * Every range is widened to include 0 (so zero is exact, as padding needs).
 *
 * Contract: the inference itself is injected (`ActivationRunner`), so this module does no I/O and
 * imports no onnxruntime. Tensors must be float activations of the main graph. Throws
 * EDGE_ERR_CALIBRATION_FAILED when the runner fails to run the samples (EDGE_ERR_INFERENCE_FAILED),
 * a tensor never shows up in its outputs, or holds non-finite values.
 */
import { EdgeError } from '../errors.js';
import { cloneModel } from './graph-util.js';
import { writeOnnx } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';

/**
 * Runs `modelBytes` over every calibration sample (in batches of the runner's choosing) and calls
 * `visit` with each requested output of each batch. The data array is only valid during the call.
 */
export type ActivationRunner = (modelBytes: Uint8Array, outputs: readonly string[], visit: (name: string, data: Float32Array) => void) => Promise<void>;

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

export interface Range {
  min: number;
  max: number;
}

export interface CalibrateOptions {
  method?: CalibrationMethod;
  /** percentile method: the share kept, in percent (default 99.99). */
  percentile?: number;
}

const BINS = 2048;

/** The model with each of `tensors` added as a float graph output (for the runner to return). */
export function withOutputs(model: OnnxModel, tensors: readonly string[]): OnnxModel {
  const m = cloneModel(model);
  const have = new Set(m.graph.output.map((o) => o.name ?? ''));
  for (const t of tensors) if (!have.has(t)) m.graph.output.push({ name: t, metadataProps: [], type: { tensorType: { elemType: 1 } } });
  return m;
}

function failed(message: string, details: Record<string, unknown>): EdgeError {
  return new EdgeError('EDGE_ERR_CALIBRATION_FAILED', message, { details });
}

/** Share-of-mass cut points of a histogram over [lo, hi]. */
function histogramQuantile(hist: Float64Array, lo: number, hi: number, q: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  const target = total * q;
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i] as number;
    if (acc >= target) return lo + ((i + 1) / hist.length) * (hi - lo);
  }
  return hi;
}

/** KL-divergence threshold search (see the module comment); returns t in |x| units. */
export function entropyThreshold(hist: Float64Array, absMax: number, levels = 128): number {
  const n = hist.length;
  let best = n;
  let bestKl = Infinity;
  for (let i = levels; i <= n; i += 8) {
    const p = Array.from(hist.subarray(0, i));
    let outliers = 0;
    for (let j = i; j < n; j++) outliers += hist[j] as number;
    p[i - 1] = (p[i - 1] as number) + outliers;
    const q = new Float64Array(i);
    const per = i / levels;
    for (let l = 0; l < levels; l++) {
      const start = Math.floor(l * per);
      const end = l === levels - 1 ? i : Math.floor((l + 1) * per);
      let sum = 0;
      let nonzero = 0;
      for (let j = start; j < end; j++) {
        sum += hist[j] as number;
        if ((hist[j] as number) > 0) nonzero++;
      }
      for (let j = start; j < end; j++) if ((hist[j] as number) > 0) q[j] = sum / nonzero;
    }
    const pSum = p.reduce((a, b) => a + b, 0);
    const qSum = q.reduce((a, b) => a + b, 0);
    if (pSum === 0 || qSum === 0) continue;
    let kl = 0;
    for (let j = 0; j < i; j++) {
      const pj = (p[j] as number) / pSum;
      if (pj === 0) continue;
      const qj = (q[j] as number) / qSum;
      kl += qj === 0 ? pj * 20 : pj * Math.log(pj / qj);
    }
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return (best / n) * absMax;
}

/** Measures the range of each tensor (see the module contract). */
export async function calibrateRanges(model: OnnxModel, tensors: readonly string[], runner: ActivationRunner, opts: CalibrateOptions = {}): Promise<Map<string, Range>> {
  const method = opts.method ?? 'minmax';
  const percentile = opts.percentile ?? 99.99;
  if (!(percentile > 50 && percentile <= 100)) throw new EdgeError('EDGE_ERR_USAGE', `--percentile must be in (50, 100] (got ${percentile})`);
  const bytes = writeOnnx(withOutputs(model, tensors));
  const ranges = new Map<string, Range>();
  const run = async (...args: Parameters<ActivationRunner>): Promise<void> => {
    try {
      await runner(...args);
    } catch (e) {
      if (e instanceof EdgeError && e.code === 'EDGE_ERR_INFERENCE_FAILED') throw failed(`the calibration set does not run through the model: ${e.message}`, { cause: e.message });
      throw e;
    }
  };
  await run(bytes, tensors, (name, data) => {
    let { min, max } = ranges.get(name) ?? { min: Infinity, max: -Infinity };
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (!Number.isFinite(min) || !Number.isFinite(max)) throw failed(`tensor ${name} holds non-finite values on the calibration set`, { tensor: name });
    ranges.set(name, { min, max });
  });
  for (const t of tensors) if (!ranges.has(t)) throw failed(`tensor ${t} was not produced while calibrating`, { tensor: t });
  if (method !== 'minmax') {
    const hists = new Map<string, Float64Array>(tensors.map((t) => [t, new Float64Array(BINS)]));
    await run(bytes, tensors, (name, data) => {
      const r = ranges.get(name) as Range;
      const h = hists.get(name) as Float64Array;
      if (method === 'entropy') {
        const absMax = Math.max(-r.min, r.max) || 1;
        for (let i = 0; i < data.length; i++) h[Math.min(BINS - 1, Math.floor((Math.abs(data[i] as number) / absMax) * BINS))]! += 1;
      } else {
        const width = r.max - r.min || 1;
        for (let i = 0; i < data.length; i++) h[Math.min(BINS - 1, Math.floor((((data[i] as number) - r.min) / width) * BINS))]! += 1;
      }
    });
    for (const t of tensors) {
      const r = ranges.get(t) as Range;
      const h = hists.get(t) as Float64Array;
      if (method === 'entropy') {
        // A non-negative tensor (after Relu) spends all 256 levels on [0, t]; a signed one 128 per side.
        // Exact zeros (a Relu's negative half) are exact at any threshold: they do not vote.
        if (r.min >= 0) h[0] = 0;
        const th = entropyThreshold(h, Math.max(-r.min, r.max) || 1, r.min >= 0 ? 256 : 128);
        ranges.set(t, { min: Math.max(r.min, -th), max: Math.min(r.max, th) });
      } else {
        const q = percentile / 100;
        ranges.set(t, { min: histogramQuantile(h, r.min, r.max, 1 - q), max: histogramQuantile(h, r.min, r.max, q) });
      }
    }
  }
  for (const [t, r] of ranges) ranges.set(t, { min: Math.min(0, r.min), max: Math.max(0, r.max) });
  return ranges;
}
