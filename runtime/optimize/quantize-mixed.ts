/**
 * Mixed-bit quantization: a bit width per linear layer (4 = MatMulNBits, 8 = dynamic int8,
 * 32 = float).
 *
 * With an evaluator: measure each layer alone at 4 and at 8 bits (accuracy drop vs the input model),
 * then, least sensitive layers first, give each the lowest bits whose cumulative measured drop stays
 * within `maxDrop`; evaluate the result and back off (4 -> 8 -> 32, most sensitive first) until the
 * measured drop is within budget.
 * Without one: the llama.cpp Q4_K_M-like rule: the first and last eighth of the layers (at least the
 * first and the last, which is the output head) and every third layer in between at 8 bits, others 4.
 *
 * Contract: the evaluator is injected (it runs a serialized model and returns its accuracy in 0..1),
 * so this module does no inference itself. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED when no layer is
 * quantizable, or none can be quantized within the budget.
 */
import { EdgeError } from '../errors.js';
import type { LinearLayer } from './linear-layers.js';
import { writeOnnx } from './onnx-io.js';
import type { OnnxModel } from './onnx-types.js';
import { quantizableLayers, quantizeLayers, type LayerBits, type QuantizeReport } from './quantize-apply.js';
import { checkInt4Options, type Int4Options } from './quantize-int4.js';

export type Evaluator = (modelBytes: Uint8Array) => Promise<number>;

export interface MixedOptions extends Int4Options {
  /** Runs a model on the eval set and returns its accuracy (0..1). Absent: rule-based plan. */
  evaluate?: Evaluator;
  /** Largest accepted accuracy drop vs the input model, absolute (0.005 = half a point). Default 0.005. */
  maxDrop?: number;
  /** Progress lines for long runs (the CLI prints them to stderr). */
  onProgress?: (message: string) => void;
}

export interface LayerSensitivity {
  name: string;
  drop4: number;
  drop8: number;
}

export interface MixedReport extends QuantizeReport {
  method: 'sensitivity' | 'rule';
  /** Chosen bits per layer name (the manifest's layerBits). */
  layerBits: Record<string, LayerBits>;
  /** Accuracy of the input model and of the result (sensitivity method only). */
  baselineAccuracy?: number;
  finalAccuracy?: number;
  sensitivity?: LayerSensitivity[];
  evaluations: number;
}

/** The rule-based plan (exported for tests). */
export function ruleBits(index: number, count: number): LayerBits {
  const edge = Math.max(1, Math.ceil(count / 8));
  if (index < edge || index >= count - edge) return 8;
  return (index - edge) % 3 === 2 ? 8 : 4;
}

function plan(model: OnnxModel, bits: Map<string, LayerBits>, opts: MixedOptions): { model: OnnxModel; report: QuantizeReport } {
  return quantizeLayers(model, (l: LinearLayer) => bits.get(l.name) ?? 32, opts);
}

export async function quantizeMixed(input: OnnxModel, opts: MixedOptions = {}): Promise<{ model: OnnxModel; report: MixedReport }> {
  checkInt4Options(opts);
  const progress = opts.onProgress ?? (() => undefined);
  const { layers } = quantizableLayers(input);
  if (layers.length === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no MatMul or Gemm with a constant float weight to quantize');
  const bits = new Map<string, LayerBits>();
  if (opts.evaluate === undefined) {
    layers.forEach((l, i) => bits.set(l.name, ruleBits(i, layers.length)));
    const { model, report } = plan(input, bits, opts);
    return { model, report: { ...report, method: 'rule', layerBits: Object.fromEntries(bits), evaluations: 0 } };
  }
  const evaluate = opts.evaluate;
  const maxDrop = opts.maxDrop ?? 0.005;
  let evaluations = 0;
  const accuracyOf = async (b: Map<string, LayerBits>): Promise<number> => {
    evaluations++;
    return evaluate(writeOnnx(plan(input, b, opts).model));
  };
  evaluations++;
  const baseline = await evaluate(writeOnnx(input));
  progress(`baseline accuracy ${(baseline * 100).toFixed(2)}%`);
  const sensitivity: LayerSensitivity[] = [];
  for (const [i, l] of layers.entries()) {
    const drop4 = baseline - (await accuracyOf(new Map([[l.name, 4]])));
    const drop8 = baseline - (await accuracyOf(new Map([[l.name, 8]])));
    sensitivity.push({ name: l.name, drop4, drop8 });
    progress(`layer ${i + 1}/${layers.length} ${l.name}: drop at 4 bits ${(drop4 * 100).toFixed(2)} pts, at 8 bits ${(drop8 * 100).toFixed(2)} pts`);
  }
  let spent = 0;
  for (const s of [...sensitivity].sort((a, b) => a.drop4 - b.drop4)) {
    const d4 = Math.max(0, s.drop4);
    const d8 = Math.max(0, s.drop8);
    if (spent + d4 <= maxDrop) {
      bits.set(s.name, 4);
      spent += d4;
    } else if (spent + d8 <= maxDrop) {
      bits.set(s.name, 8);
      spent += d8;
    } else bits.set(s.name, 32);
  }
  const byRisk = [...sensitivity].sort((a, b) => b.drop4 - a.drop4);
  for (;;) {
    if ([...bits.values()].every((b) => b === 32)) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', `no layer can be quantized within an accuracy drop of ${maxDrop}`, { details: { sensitivity } });
    const acc = await accuracyOf(bits);
    progress(`plan ${JSON.stringify(Object.fromEntries(bits))}: accuracy ${(acc * 100).toFixed(2)}%`);
    if (baseline - acc <= maxDrop + 1e-12) {
      const { model, report } = plan(input, bits, opts);
      return { model, report: { ...report, method: 'sensitivity', layerBits: Object.fromEntries(bits), baselineAccuracy: baseline, finalAccuracy: acc, sensitivity, evaluations } };
    }
    const victim = byRisk.find((s) => bits.get(s.name) !== 32);
    if (victim === undefined) continue;
    bits.set(victim.name, bits.get(victim.name) === 4 ? 8 : 32);
  }
}
