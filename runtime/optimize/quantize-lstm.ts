/**
 * LSTM weights to int8 with onnxruntime's `com.microsoft.DynamicQuantizeLSTM` (issue 10:
 * "dynamic quantization for RNNs"; the same op onnxruntime's own quantizer emits). X stays float and
 * is quantized per run inside the op; W and R become int8, one symmetric scale per direction.
 *
 * Layout: ONNX LSTM keeps W [dirs, 4H, I] and R [dirs, 4H, H]; DynamicQuantizeLSTM wants them
 * transposed, [dirs, I, 4H] and [dirs, H, 4H]. Inputs: X, W, R, B, sequence_lens, initial_h,
 * initial_c, P, W_scale, W_zero_point, R_scale, R_zero_point; attributes as LSTM's (no `layout`).
 *
 * Contract: mutates the graph it is given. `lstmQuantizable` says why a node cannot be converted.
 */
import { attrInt, makeNode } from './graph-util.js';
import { lookupInitializer } from './graph-walk.js';
import { DataType } from './onnx-schema.js';
import type { GraphProto, NodeProto, TensorProto } from './onnx-types.js';
import { quantizeWeight } from './qdq-build.js';
import { makeFloatTensor, makeInt8Tensor, tensorToFloat32 } from './tensor-util.js';

/** undefined when `n` can become DynamicQuantizeLSTM, else the reason it cannot. */
export function lstmQuantizable(n: NodeProto, scope: readonly GraphProto[]): string | undefined {
  if (attrInt(n, 'layout', 0) !== 0) return 'LSTM with layout=1 (DynamicQuantizeLSTM has no layout attribute)';
  const w = lookupInitializer(scope, n.input[1]);
  const r = lookupInitializer(scope, n.input[2]);
  if (w === undefined || r === undefined) return 'LSTM weights W / R are not constants';
  if (w.dataType !== DataType.FLOAT || r.dataType !== DataType.FLOAT || w.dims.length !== 3 || r.dims.length !== 3) return 'LSTM weights are not 3-D float32';
  return undefined;
}

/** [dirs, rows, cols] -> [dirs, cols, rows]. */
function transposeLast2(data: Float32Array, dims: readonly number[]): Float32Array {
  const [d, rows, cols] = dims as [number, number, number];
  const out = new Float32Array(data.length);
  for (let k = 0; k < d; k++) for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[k * rows * cols + j * rows + i] = data[k * rows * cols + i * cols + j] as number;
  return out;
}

function quantized(t: TensorProto, base: string, qMax: number, name: (b: string) => string): { q: string; s: string; z: string; inits: TensorProto[] } {
  const dims = [t.dims[0] as number, t.dims[2] as number, t.dims[1] as number];
  const { q, scale } = quantizeWeight(transposeLast2(tensorToFloat32(t), t.dims), dims, 0, qMax);
  const qn = name(`${base}_q`);
  const sn = name(`${base}_s`);
  const zn = name(`${base}_z`);
  return { q: qn, s: sn, z: zn, inits: [makeInt8Tensor(qn, dims, q), makeFloatTensor(sn, [scale.length], scale), makeInt8Tensor(zn, [scale.length], new Int8Array(scale.length))] };
}

/** Replaces LSTM node `n` of `g` (checked by lstmQuantizable) by a DynamicQuantizeLSTM. */
export function quantizeLstm(g: GraphProto, n: NodeProto, scope: readonly GraphProto[], qMax: number, name: (b: string) => string): void {
  const base = n.name || (n.output[0] ?? 'lstm');
  const w = quantized(lookupInitializer(scope, n.input[1]) as TensorProto, `${base}_W`, qMax, name);
  const r = quantized(lookupInitializer(scope, n.input[2]) as TensorProto, `${base}_R`, qMax, name);
  g.initializer.push(...w.inits, ...r.inits);
  const opt = (i: number): string => n.input[i] ?? '';
  const inputs = [opt(0), w.q, r.q, opt(3), opt(4), opt(5), opt(6), opt(7), w.s, w.z, r.s, r.z];
  const q = makeNode(
    'DynamicQuantizeLSTM',
    inputs,
    [...n.output],
    base,
    n.attribute.filter((a) => a.name !== 'layout'),
    'com.microsoft',
  );
  g.node[g.node.indexOf(n)] = q;
}
