/**
 * Dynamic int8 quantization of MatMul / Gemm layers with constant weights, in the form onnxruntime
 * fuses into DynamicQuantizeMatMul at load (DESIGN.md):
 *
 *   x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zp)         (shared by layers reading x)
 *   MatMulInteger(x_q, W_q int8 [K,N], x_zp, w_zp int8 zeros [N]) -> Cast(float)
 *   -> Mul(by Mul(x_scale, w_scale[N])) [-> Add(bias) for Gemm's C]
 *
 * Weights: per output channel (column n) symmetric, scale_n = max|W[:,n]| / qMax (63 by default, see reduceRange).
 * Contract: see quantizeLayers (new model returned; EDGE_ERR_QUANTIZE_UNSUPPORTED when nothing fits).
 */
import { intAttr, makeNode } from './graph-util.js';
import type { LinearLayer } from './linear-layers.js';
import type { NodeProto, OnnxModel, TensorProto } from './onnx-types.js';
import { quantizeLayers, type QuantizeReport } from './quantize-apply.js';
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

/** The nodes + initializers that compute `out = layer(input)` with an optional bias Add. */
export function int8Layer(layer: LinearLayer, dq: { q: string; scale: string; zp: string }, name: (b: string) => string, out: string, qMax: number): { nodes: NodeProto[]; inits: TensorProto[] } {
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
  return quantizeLayers(input, () => 8, { int8ReduceRange: opts.reduceRange !== false, lstm: true, ...(opts.layers ? { only: opts.layers } : {}) });
}
