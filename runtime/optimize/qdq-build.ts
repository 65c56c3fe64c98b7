/**
 * Building blocks of the QDQ (QuantizeLinear / DequantizeLinear) format, S8S8 (issue 10):
 * activation quantization parameters from a range, per-channel symmetric int8 weights, int32 biases,
 * and the Q / DQ nodes themselves.
 *
 * Contracts:
 * - Activations: asymmetric 8-bit, scale = (max - min) / 255, zero point = round(-min / scale) for
 *   uint8 (-128 - min / scale for int8), clamped; the range must include 0 (calibrate.ts does it).
 * - Weights: symmetric int8 per output channel along `axis`, |q| <= qMax (63 by default, the 7-bit
 *   range that avoids the AVX2 u8 x s8 pair saturation, see quantize-int8.ts; 127 with full range).
 * - Bias: int32, scale = activation scale x weight scale per channel, zero point 0.
 * - `domain` is '' (onnx, per-axis needs opset >= 13) or 'com.microsoft' (onnxruntime's own Q / DQ
 *   with the same semantics, for models whose default opset is below 13).
 */
import { intAttr, makeNode } from './graph-util.js';
import { DataType } from './onnx-schema.js';
import type { NodeProto, TensorProto } from './onnx-types.js';
import { emptyTensor, makeFloatTensor, makeInt8Tensor, makeUint8Tensor } from './tensor-util.js';

export interface QParams {
  scale: number;
  zeroPoint: number;
  unsigned: boolean;
}

/** Asymmetric 8-bit parameters of a range (uint8: zero point in 0..255; int8: -128..127). */
export function activationParams(min: number, max: number, unsigned: boolean): QParams {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const offset = unsigned ? 0 : -128;
  if (hi - lo <= 0) return { scale: 1, zeroPoint: offset + 128, unsigned };
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.max(offset, Math.min(offset + 255, Math.round(offset - lo / scale))), unsigned };
}

/** Per-channel symmetric int8 along `axis` of `dims` (axis -1: one scale for the whole tensor). */
export function quantizeWeight(w: Float32Array, dims: readonly number[], axis: number, qMax: number): { q: Int8Array; scale: Float32Array } {
  const channels = axis < 0 ? 1 : (dims[axis] as number);
  const inner = axis < 0 ? w.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number): number => (axis < 0 ? 0 : Math.floor(i / inner) % channels);
  const scale = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = channelOf(i);
    scale[c] = Math.max(scale[c] as number, Math.abs(w[i] as number));
  }
  for (let c = 0; c < channels; c++) scale[c] = (scale[c] as number) > 0 ? (scale[c] as number) / qMax : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-qMax, Math.min(qMax, Math.round((w[i] as number) / (scale[channelOf(i)] as number))));
  return { q, scale };
}

function int32Tensor(name: string, dims: readonly number[], data: Int32Array): TensorProto {
  return { ...emptyTensor(name, DataType.INT32, dims), rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export interface Built {
  nodes: NodeProto[];
  inits: TensorProto[];
}

/** DequantizeLinear of a per-channel int8 weight; `out` is the float weight the layer reads. */
export function weightDq(base: string, w: Float32Array, dims: readonly number[], axis: number, qMax: number, name: (b: string) => string, out: string, domain: string): Built & { scale: Float32Array } {
  const { q, scale } = quantizeWeight(w, dims, axis, qMax);
  const qn = name(`${base}_q`);
  const sn = name(`${base}_s`);
  const zn = name(`${base}_z`);
  const perChannel = axis >= 0;
  const inits = [makeInt8Tensor(qn, dims, q), makeFloatTensor(sn, perChannel ? [scale.length] : [], scale), makeInt8Tensor(zn, perChannel ? [scale.length] : [], new Int8Array(scale.length))];
  const attrs = perChannel ? [intAttr('axis', axis)] : [];
  return { nodes: [makeNode('DequantizeLinear', [qn, sn, zn], [out], '', attrs, domain || undefined)], inits, scale };
}

/** DequantizeLinear of an int32 bias quantized with scale inputScale * weightScale[c]. */
export function biasDq(base: string, b: Float32Array, inputScale: number, weightScale: Float32Array, name: (b: string) => string, out: string, domain: string): Built {
  const n = b.length;
  const scale = Float32Array.from({ length: n }, (_, c) => inputScale * (weightScale[weightScale.length === 1 ? 0 : c] as number) || 1);
  const q = Int32Array.from(b, (v, c) => Math.max(-2147483647, Math.min(2147483647, Math.round(v / (scale[c] as number)))));
  const qn = name(`${base}_q`);
  const sn = name(`${base}_s`);
  return { nodes: [makeNode('DequantizeLinear', [qn, sn], [out], '', [intAttr('axis', 0)], domain || undefined)], inits: [int32Tensor(qn, [n], q), makeFloatTensor(sn, [n], scale)] };
}

/** Scale and zero-point initializers of one activation's parameters. */
export function paramInits(base: string, p: QParams, name: (b: string) => string): { scale: string; zp: string; inits: TensorProto[] } {
  const scale = name(`${base}_s`);
  const zp = name(`${base}_z`);
  const zpTensor = p.unsigned ? makeUint8Tensor(zp, [], Uint8Array.of(p.zeroPoint)) : makeInt8Tensor(zp, [], Int8Array.of(p.zeroPoint));
  return { scale, zp, inits: [makeFloatTensor(scale, [], Float32Array.of(p.scale)), zpTensor] };
}

/** x -> QuantizeLinear -> DequantizeLinear -> out, sharing the parameter initializers. */
export function qdqPair(x: string, out: string, params: { scale: string; zp: string }, name: (b: string) => string, domain: string): NodeProto[] {
  const q = name(`${x}_q`);
  return [makeNode('QuantizeLinear', [x, params.scale, params.zp], [q], '', [], domain || undefined), makeNode('DequantizeLinear', [q, params.scale, params.zp], [out], '', [], domain || undefined)];
}
