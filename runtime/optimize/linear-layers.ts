/**
 * Finds the MatMul / Gemm layers whose weight is a constant, as a uniform [K, N] weight
 * (Gemm's transB and alpha folded in), plus why any other MatMul / Gemm / Conv is not one.
 * Pure; reads initializers, never mutates the model.
 */
import { attrFloat, attrInt, indexGraph } from './graph-util.js';
import type { GraphProto, NodeProto } from './onnx-types.js';
import { DataType } from './onnx-schema.js';
import { tensorToFloat32, transpose2d } from './tensor-util.js';

export interface LinearLayer {
  /** Node name, or its first output when unnamed. */
  name: string;
  node: NodeProto;
  op: 'MatMul' | 'Gemm';
  /** Activation input name. */
  input: string;
  K: number;
  N: number;
  /** Row-major [K, N] weight with Gemm's alpha folded in (a fresh array). */
  weight: Float32Array;
  /** Gemm's beta * C as a constant [N] or broadcastable tensor, when C is given. */
  bias?: { data: Float32Array; dims: number[] };
}

export interface SkippedLayer {
  name: string;
  op: string;
  reason: string;
  /** The subgraph holding it (absent for the main graph). */
  graph?: string;
}

export function layerName(node: NodeProto): string {
  return node.name || (node.output[0] ?? '');
}

/** Every MatMul / Gemm with a constant 2-D float weight, and the reasons for the rest (Conv included). */
export function findLinearLayers(g: GraphProto): { layers: LinearLayer[]; skipped: SkippedLayer[] } {
  const idx = indexGraph(g);
  const layers: LinearLayer[] = [];
  const skipped: SkippedLayer[] = [];
  for (const node of g.node) {
    const op = node.opType ?? '';
    const name = layerName(node);
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    if (op === 'Conv') {
      skipped.push({ name, op, reason: 'Conv weights are left in float on the dynamic path (dynamic ConvInteger runs slower than float Conv in onnxruntime on CPU); --calibrate <set> makes it static int8' });
      continue;
    }
    if (op !== 'MatMul' && op !== 'Gemm') continue;
    const a = node.input[0] ?? '';
    const w = idx.initializers.get(node.input[1] ?? '');
    if (idx.initializers.has(a)) {
      skipped.push({ name, op, reason: 'the first input is a constant (only constant right-hand weights are quantized)' });
      continue;
    }
    if (w === undefined) {
      skipped.push({ name, op, reason: 'the weight is not a constant initializer' });
      continue;
    }
    if (w.dataType !== DataType.FLOAT) {
      skipped.push({ name, op, reason: `the weight is not float32 (data_type ${w.dataType ?? 0})` });
      continue;
    }
    if (w.dims.length !== 2) {
      skipped.push({ name, op, reason: `the weight has rank ${w.dims.length}, not 2` });
      continue;
    }
    if (w.dataLocation === 1) {
      skipped.push({ name, op, reason: 'the weight is stored as external data' });
      continue;
    }
    let data = tensorToFloat32(w);
    let [K, N] = w.dims as [number, number];
    const layer: Partial<LinearLayer> = { name, node, op, input: a };
    if (op === 'Gemm') {
      if (attrInt(node, 'transA', 0) !== 0) {
        skipped.push({ name, op, reason: 'Gemm with transA=1' });
        continue;
      }
      if (attrInt(node, 'transB', 0) !== 0) {
        data = transpose2d(data, K, N);
        [K, N] = [N, K];
      }
      const alpha = attrFloat(node, 'alpha', 1);
      if (alpha !== 1) for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) * alpha;
      const cName = node.input[2] ?? '';
      if (cName !== '') {
        const c = idx.initializers.get(cName);
        if (c === undefined) {
          skipped.push({ name, op, reason: 'Gemm bias C is not a constant' });
          continue;
        }
        const beta = attrFloat(node, 'beta', 1);
        const cData = tensorToFloat32(c);
        if (beta !== 1) for (let i = 0; i < cData.length; i++) cData[i] = (cData[i] as number) * beta;
        layer.bias = { data: cData, dims: [...c.dims] };
      }
    }
    layers.push({ ...layer, K, N, weight: data } as LinearLayer);
  }
  return { layers, skipped };
}
