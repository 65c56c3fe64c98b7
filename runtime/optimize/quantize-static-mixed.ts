/**
 * Mixed precision for CNNs (issue 10): which weighted layers go static int8 and which stay float,
 * decided by measured per-layer sensitivity under an accuracy budget.
 *
 * 1. Evaluate the input model (baseline) and the all-int8 model; if the all-int8 drop is within
 *    `maxDrop`, that is the plan.
 * 2. Otherwise measure each layer quantized alone (its accuracy drop), then, least sensitive first,
 *    add layers to the int8 set while the sum of their drops stays within the budget; evaluate the
 *    plan and move the most sensitive int8 layer back to float until the measured drop fits.
 * Activation ranges are calibrated once per tensor (shared cache across trials).
 *
 * Contract: the evaluator is injected (runs a serialized model on the eval set, returns accuracy in
 * 0..1), so this module does no inference itself. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED when no
 * layer can be quantized within the budget; EDGE_ERR_CALIBRATION_FAILED from calibration.
 */
import { EdgeError } from '../errors.js';
import type { Range } from './calibrate.js';
import { writeOnnx } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { quantizeStatic, type StaticOptions, type StaticReport } from './quantize-static.js';

export interface StaticMixedOptions extends StaticOptions {
  evaluate: (modelBytes: Uint8Array) => Promise<number>;
  /** Largest accepted accuracy drop vs the input model, absolute (default 0.005). */
  maxDrop?: number;
  onProgress?: (message: string) => void;
}

export interface StaticMixedReport extends StaticReport {
  mixed: {
    method: 'all-int8-within-budget' | 'sensitivity';
    /** 8 or 32 per weighted layer. */
    layerBits: Record<string, 8 | 32>;
    baselineAccuracy: number;
    finalAccuracy: number;
    /** Accuracy drop with only that layer in int8 (sensitivity method). */
    sensitivity: { name: string; drop: number }[];
    evaluations: number;
  };
}

export async function quantizeStaticMixed(input: OnnxModel, opts: StaticMixedOptions): Promise<{ model: OnnxModel; report: StaticMixedReport }> {
  const progress = opts.onProgress ?? (() => undefined);
  const maxDrop = opts.maxDrop ?? 0.005;
  const rangeCache = opts.rangeCache ?? new Map<string, Range>();
  let evaluations = 0;
  const trial = async (only: ReadonlySet<string> | undefined): Promise<{ model: OnnxModel; report: StaticReport; accuracy: number }> => {
    const r = await quantizeStatic(input, { ...opts, rangeCache, ...(only ? { only } : {}) });
    evaluations++;
    return { ...r, accuracy: await opts.evaluate(writeOnnx(r.model)) };
  };
  evaluations++;
  const baseline = await opts.evaluate(writeOnnx(input));
  const all = await trial(undefined);
  const names = all.report.quantized.map((l) => l.name);
  progress(`baseline accuracy ${(baseline * 100).toFixed(2)}%, all ${names.length} layers int8 ${(all.accuracy * 100).toFixed(2)}%`);
  const bitsOf = (int8: ReadonlySet<string>): Record<string, 8 | 32> => Object.fromEntries(names.map((n) => [n, int8.has(n) ? 8 : 32]));
  if (baseline - all.accuracy <= maxDrop + 1e-12) {
    return { model: all.model, report: { ...all.report, mixed: { method: 'all-int8-within-budget', layerBits: bitsOf(new Set(names)), baselineAccuracy: baseline, finalAccuracy: all.accuracy, sensitivity: [], evaluations } } };
  }
  const sensitivity: { name: string; drop: number }[] = [];
  for (const [i, n] of names.entries()) {
    const r = await trial(new Set([n]));
    sensitivity.push({ name: n, drop: baseline - r.accuracy });
    progress(`layer ${i + 1}/${names.length} ${n}: drop alone ${((baseline - r.accuracy) * 100).toFixed(2)} pts`);
  }
  const int8 = new Set<string>();
  let spent = 0;
  for (const s of [...sensitivity].sort((a, b) => a.drop - b.drop)) {
    const d = Math.max(0, s.drop);
    if (spent + d <= maxDrop) {
      int8.add(s.name);
      spent += d;
    }
  }
  const byRisk = [...sensitivity].sort((a, b) => b.drop - a.drop);
  for (;;) {
    if (int8.size === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', `no layer can be quantized within an accuracy drop of ${maxDrop}`, { details: { sensitivity } });
    const r = await trial(int8);
    progress(`plan with ${int8.size}/${names.length} layers int8: accuracy ${(r.accuracy * 100).toFixed(2)}%`);
    if (baseline - r.accuracy <= maxDrop + 1e-12) {
      return { model: r.model, report: { ...r.report, mixed: { method: 'sensitivity', layerBits: bitsOf(int8), baselineAccuracy: baseline, finalAccuracy: r.accuracy, sensitivity, evaluations } } };
    }
    const victim = byRisk.find((s) => int8.has(s.name));
    if (victim !== undefined) int8.delete(victim.name);
  }
}
