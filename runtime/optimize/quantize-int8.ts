/**
 * Dynamic int8 quantization of MatMul / Gemm layers with constant weights, in the form onnxruntime
 * fuses into DynamicQuantizeMatMul at load (DESIGN.md):
 *
 *   x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zp)         (shared by layers reading x)
 *   MatMulInteger(x_q, W_q int8 [K,N], x_zp, w_zp int8 zeros [N]) -> Cast(float)
 *   -> Mul(by Mul(x_scale, w_scale[N])) [-> Add(bias) for Gemm's C]
 *
 * Weights: per output channel (column n) symmetric, scale_n = max|W[:,n]| / qMax (63 by default, see reduceRange).
 * Contract: returns a new model; the input model is not mutated. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED
 * when the default opset is below 11 or no layer can be quantized.
 */
import { EdgeError } from '../errors.js';
import { cloneModel, defaultOpset, dropUnusedInitializers, intAttr, makeNode, uniqueNamer } from './graph-util.js';
import { findLinearLayers, type LinearLayer, type SkippedLayer } from './linear-layers.js';
import type { NodeProto, OnnxModel, TensorProto } from './onnx-types.js';
import { makeFloatTensor, makeInt8Tensor } from './tensor-util.js';

export interface QuantizeInt8Options {
  /** Only these layer names (node name, or first output when unnamed); default: every quantizable layer. */
  layers?: ReadonlySet<string>;
  /**
   * Default true: 7-bit weights (|q| <= 63). x86 AVX2 kernels multiply uint8 x int8 pairs into int16
   * and saturate with full-range weights (measured: digits teacher logits off by 3.8 with 127, 0.17
   * with 63). Set false only for ARM / VNNI targets, where full 8-bit is exact.
   */
  reduceRange?: boolean;
}

export interface QuantizedLayer { name: string; op: string; K: number; N: number; bits: number }

export interface QuantizeReport {
  quantized: QuantizedLayer[];
  skipped: SkippedLayer[];
}

/** Per-column symmetric int8: returns int8 [K,N] and scales [N]. Exported for tests. */
export function quantizePerColumnInt8(w: Float32Array, K: number, N: number, qMax = 63): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n] as number, Math.abs(w[k * N + n] as number));
  for (let n = 0; n < N; n++) scale[n] = (scale[n] as number) > 0 ? (scale[n] as number) / qMax : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const v = Math.round((w[k * N + n] as number) / (scale[n] as number));
      q[k * N + n] = Math.max(-qMax, Math.min(qMax, v));
    }
  }
  return { q, scale };
}

/** Replaces `layer.node` in the graph by `nodes`, producing the node's original output. */
export function replaceNode(nodes: NodeProto[], target: NodeProto, replacement: NodeProto[]): void {
  const at = nodes.indexOf(target);
  nodes.splice(at, 1, ...replacement);
}

/** The nodes + initializers that compute `out = layer(input)` with an optional bias Add. */
function int8Layer(layer: LinearLayer, dq: { q: string; scale: string; zp: string }, name: (b: string) => string, out: string, qMax: number): { nodes: NodeProto[]; inits: TensorProto[] } {
  const { q, scale } = quantizePerColumnInt8(layer.weight, layer.K, layer.N, qMax);
  const base = layer.name.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  const wq = name(`${base}_W_int8`);
  const ws = name(`${base}_W_scale`);
  const wzp = name(`${base}_W_zero_point`);
  const inits = [makeInt8Tensor(wq, [layer.K, layer.N], q), makeFloatTensor(ws, [layer.N], scale), makeInt8Tensor(wzp, [layer.N], new Int8Array(layer.N))];
  const mmOut = name(`${base}_int32`);
  const castOut = name(`${base}_int32_float`);
  const scales = name(`${base}_scales`);
  const mulOut = layer.bias ? name(`${base}_no_bias`) : out;
  const nodes = [
    makeNode('Mul', [dq.scale, ws], [scales], name(`${base}_scales_mul`)),
    makeNode('MatMulInteger', [dq.q, wq, dq.zp, wzp], [mmOut], name(`${base}_MatMulInteger`)),
    makeNode('Cast', [mmOut], [castOut], name(`${base}_cast`), [intAttr('to', 1)]),
    makeNode('Mul', [castOut, scales], [mulOut], name(`${base}_rescale`)),
  ];
  if (layer.bias) {
    const b = name(`${base}_bias`);
    inits.push(makeFloatTensor(b, layer.bias.dims, layer.bias.data));
    nodes.push(makeNode('Add', [mulOut, b], [out], name(`${base}_bias_add`)));
  }
  return { nodes, inits };
}

export function quantizeInt8(input: OnnxModel, opts: QuantizeInt8Options = {}): { model: OnnxModel; report: QuantizeReport } {
  const opset = defaultOpset(input);
  if (opset < 11) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', `int8 needs opset >= 11 (DynamicQuantizeLinear); the model has opset ${opset}`, { details: { opset } });
  const model = cloneModel(input);
  const g = model.graph;
  const { layers, skipped } = findLinearLayers(g);
  const chosen = layers.filter((l) => opts.layers === undefined || opts.layers.has(l.name));
  const report: QuantizeReport = { quantized: [], skipped };
  if (chosen.length === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no MatMul or Gemm with a constant float weight to quantize', { details: { skipped } });
  const name = uniqueNamer(g);
  const dqFor = new Map<string, { q: string; scale: string; zp: string }>();
  for (const layer of chosen) {
    const newNodes: NodeProto[] = [];
    let dq = dqFor.get(layer.input);
    if (dq === undefined) {
      const base = layer.input.replace(/[^A-Za-z0-9_.:/-]/g, '_');
      dq = { q: name(`${base}_quantized`), scale: name(`${base}_scale`), zp: name(`${base}_zero_point`) };
      dqFor.set(layer.input, dq);
      newNodes.push(makeNode('DynamicQuantizeLinear', [layer.input], [dq.q, dq.scale, dq.zp], name(`${base}_DynamicQuantizeLinear`)));
    }
    const built = int8Layer(layer, dq, name, layer.node.output[0] ?? '', opts.reduceRange === false ? 127 : 63);
    newNodes.push(...built.nodes);
    g.initializer.push(...built.inits);
    replaceNode(g.node, layer.node, newNodes);
    report.quantized.push({ name: layer.name, op: layer.op, K: layer.K, N: layer.N, bits: 8 });
  }
  for (const l of layers) if (!chosen.includes(l)) report.skipped.push({ name: l.name, op: l.op, reason: 'not selected' });
  dropUnusedInitializers(g);
  return { model, report };
}
