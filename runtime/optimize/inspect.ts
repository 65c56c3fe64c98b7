/**
 * What a model is made of: opsets, inputs/outputs, operator counts, parameters, bytes and MACs per
 * layer (batch 1), and a memory estimate. Pure over an OnnxModel (no I/O, no onnxruntime).
 *
 * Conventions:
 * - A "layer" is a node that reads at least one initializer holding weights, directly or through a
 *   DequantizeLinear of a constant (QDQ models), in the main graph or any subgraph (If / Loop /
 *   Scan bodies, issue 10); weights in Constant nodes (through Identity / Cast) count too.
 * - params count logical weights: a MatMulNBits layer counts K*N, an int8 layer its int8 weights;
 *   quantization metadata (scales, zero points) counts in bytes but not in params.
 * - MACs are counted for MatMul/Gemm/Conv (and their quantized/fused forms) when shapes are known.
 */
import { attrInt, cloneModel, indexGraph, qualifiedOp } from './graph-util.js';
import { allGraphs, hoistConstants } from './graph-walk.js';
import type { GraphProto, NodeProto, OnnxModel, TypeProto } from './onnx-types.js';
import { inferShapes, shapeSize, type Shape } from './shape-infer.js';
import { tensorByteSize, tensorElementCount } from './tensor-util.js';

export interface ValueReport {
  name: string;
  /** "float32", "int64", ... or "unknown". */
  dtype: string;
  /** Dims; symbolic dims as their name (e.g. "batch"), unknown as "?". */
  shape: (number | string)[];
}

export interface LayerReport {
  /** Node name, or its first output when unnamed. */
  name: string;
  op: string;
  params: number;
  /** Bytes of every initializer the node reads (weights, biases, scales, zero points). */
  initializerBytes: number;
  /** Multiply-accumulates at batch 1; null when shapes are unknown or the op has none. */
  macs: number | null;
  /** The subgraph holding the layer (e.g. "main/if.then_branch"); absent for the main graph. */
  graph?: string;
}

export interface MemoryEstimate {
  /** Bytes of all initializers (what the weights cost once loaded). */
  weightBytes: number;
  /** Largest single activation at batch 1 (bytes, float32), or null when unknown. */
  largestActivationBytes: number | null;
  /** Sum of all activations at batch 1 (an upper bound without memory reuse), or null. */
  activationBytes: number | null;
  /**
   * Rough peak while loading and running at batch 1: the serialized file (held while parsing) +
   * weights + activations. An estimate to compare variants, not a measurement.
   */
  estimatedPeakBytes: number;
}

export interface InspectReport {
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  inputs: ValueReport[];
  outputs: ValueReport[];
  /** Op counts, domain-qualified for non-default domains ("com.microsoft.MatMulNBits"). */
  opCounts: Record<string, number>;
  /** Sorted distinct ops (the manifest's `ops`). */
  ops: string[];
  layers: LayerReport[];
  params: number;
  /** Total MACs at batch 1 over layers whose MACs are known. */
  macs: number;
  /** Layers whose MACs could not be determined. */
  macsUnknown: string[];
  initializerBytes: number;
  memory: MemoryEstimate;
}

const DTYPE_NAMES: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'bfloat16' };

function valueReport(name: string, type: TypeProto | undefined): ValueReport {
  const tt = type?.tensorType;
  return { name, dtype: DTYPE_NAMES[tt?.elemType ?? 0] ?? 'unknown', shape: (tt?.shape?.dim ?? []).map((d) => d.dimValue ?? d.dimParam ?? '?') };
}

/** Input slots of quantized ops that hold scales / zero points rather than weights. */
const METADATA_SLOTS: Record<string, readonly number[]> = { DequantizeLinear: [1, 2], QuantizeLinear: [1, 2], MatMulInteger: [2, 3], ConvInteger: [2, 3], MatMulNBits: [2, 3, 4], DynamicQuantizeMatMul: [2, 3], QLinearMatMul: [1, 2, 4, 5, 6, 7], QLinearConv: [1, 2, 4, 5, 6, 7] };

function isScaleMul(node: NodeProto, g: ReturnType<typeof indexGraph>): boolean {
  if (node.opType !== 'Mul') return false;
  return node.input.some((i) => {
    const cast = g.producer.get(i);
    if (cast?.opType === 'DynamicQuantizeLinear') return true;
    if (cast?.opType !== 'Cast') return false;
    const src = g.producer.get(cast.input[0] ?? '');
    return src?.opType === 'MatMulInteger' || src?.opType === 'ConvInteger';
  });
}

function nodeMacs(node: NodeProto, shapes: Map<string, Shape>): number | null {
  const op = node.opType ?? '';
  if (op === 'LSTM' || op === 'GRU' || op === 'RNN' || op === 'DynamicQuantizeLSTM') {
    // Per time step and direction: gates x hidden x (input + hidden); X is [T, N, I] (layout 0).
    const x = shapes.get(node.input[0] ?? '');
    const hidden = attrInt(node, 'hidden_size', 0);
    const steps = x?.[0];
    const batch = x?.[1];
    const inputSize = x?.[2];
    if (steps == null || batch == null || inputSize == null || hidden === 0) return null;
    const gates = op === 'GRU' ? 3 : op === 'RNN' ? 1 : 4;
    const dirs = new TextDecoder().decode(node.attribute.find((a) => a.name === 'direction')?.s ?? new Uint8Array()) === 'bidirectional' ? 2 : 1;
    return steps * batch * dirs * gates * hidden * (inputSize + hidden);
  }
  const out = shapeSize(shapes.get(node.output[0] ?? ''));
  if (out === null) return null;
  if (op === 'MatMulNBits') return out * attrInt(node, 'K', 0);
  if (op === 'MatMul' || op === 'MatMulInteger' || op === 'DynamicQuantizeMatMul' || op === 'FusedMatMul') {
    const a = shapes.get(node.input[0] ?? '');
    const k = a?.[a.length - 1];
    return k === null || k === undefined ? null : out * k;
  }
  if (op === 'Gemm' || op === 'FusedGemm') {
    const a = shapes.get(node.input[0] ?? '');
    const k = attrInt(node, 'transA', 0) ? a?.[0] : a?.[1];
    return k === null || k === undefined ? null : out * k;
  }
  if (op === 'Conv' || op === 'ConvInteger' || op === 'FusedConv') {
    const w = shapes.get(node.input[1] ?? '');
    const perOut = shapeSize(w?.slice(1));
    return perOut === null ? null : out * perOut;
  }
  return null;
}

function layerReports(g: GraphProto, scope: readonly GraphProto[], outerShapes: ReadonlyMap<string, Shape> | undefined, path: string): { layers: LayerReport[]; shapes: Map<string, Shape> } {
  const idx = indexGraph(g);
  // Weights a subgraph reads from enclosing graphs count as its own (outer-scope rule).
  for (const outer of scope.slice(1)) for (const t of outer.initializer) if (!idx.initializers.has(t.name ?? '') && !idx.producer.has(t.name ?? '')) idx.initializers.set(t.name ?? '', t);
  const shapes = inferShapes(g, outerShapes);
  const layers: LayerReport[] = [];
  // QDQ models: a DequantizeLinear of a constant is the weight of the layer reading it.
  const dqWeight = new Map<string, NodeProto>();
  const bytesExtra = new Map<NodeProto, number>();
  for (const node of g.node) if (node.opType === 'DequantizeLinear' && idx.initializers.has(node.input[0] ?? '')) dqWeight.set(node.output[0] ?? '', node);
  for (const node of g.node) {
    if (node.opType === 'DequantizeLinear' && dqWeight.has(node.output[0] ?? '')) continue;
    const inits = node.input.map((i) => idx.initializers.get(dqWeight.get(i)?.input[0] ?? i));
    if (!inits.some((t) => t !== undefined)) continue;
    for (const i of node.input)
      for (const m of dqWeight.get(i)?.input.slice(1) ?? []) {
        const t = idx.initializers.get(m);
        if (t) bytesExtra.set(node, (bytesExtra.get(node) ?? 0) + tensorByteSize(t));
      }
    const op = node.opType ?? '';
    const metadata = new Set(METADATA_SLOTS[op] ?? []);
    const scaleMul = isScaleMul(node, idx);
    let params = 0;
    let bytes = bytesExtra.get(node) ?? 0;
    inits.forEach((t, slot) => {
      if (t === undefined) return;
      bytes += tensorByteSize(t);
      if (metadata.has(slot) || scaleMul) return;
      if (op === 'MatMulNBits' && slot === 1) params += attrInt(node, 'K', 0) * attrInt(node, 'N', 0);
      else if (op !== 'Reshape' && t.dataType !== 7) params += tensorElementCount(t);
    });
    if (params === 0 && !scaleMul) continue;
    layers.push({ name: node.name || (node.output[0] ?? ''), op: qualifiedOp(node), params, initializerBytes: bytes, macs: nodeMacs(node, shapes), ...(path === 'main' ? {} : { graph: path }) });
  }
  return { layers, shapes };
}

/**
 * Inspects a model. `fileBytes` (the serialized size) feeds the memory estimate; when omitted the
 * initializer bytes stand in for it.
 */
export function inspectModel(input: OnnxModel, fileBytes?: number): InspectReport {
  // Weights kept in Constant nodes (paddle2onnx) count like initializers: inspect a hoisted copy.
  const model = cloneModel(input);
  hoistConstants(model, { minElements: 2 });
  const g = model.graph;
  const opCounts: Record<string, number> = {};
  const layers: LayerReport[] = [];
  const graphShapes = new Map<GraphProto, Map<string, Shape>>();
  let initializerBytes = 0;
  for (const v of allGraphs(model)) {
    for (const n of v.graph.node) {
      const op = qualifiedOp(n);
      opCounts[op] = (opCounts[op] ?? 0) + 1;
    }
    initializerBytes += v.graph.initializer.reduce((a, t) => a + tensorByteSize(t), 0);
    const r = layerReports(v.graph, v.scope, v.scope[1] === undefined ? undefined : graphShapes.get(v.scope[1]), v.path);
    graphShapes.set(v.graph, r.shapes);
    layers.push(...r.layers);
  }
  for (const [k, n] of Object.entries(countConstants(input))) opCounts[k] = (opCounts[k] ?? 0) + n;
  const shapes = graphShapes.get(g) ?? new Map<string, Shape>();
  const initNames = new Set(g.initializer.map((t) => t.name ?? ''));
  let activationBytes: number | null = 0;
  let largest: number | null = 0;
  for (const n of g.node) {
    for (const o of n.output) {
      if (initNames.has(o)) continue;
      const size = shapeSize(shapes.get(o));
      if (size === null) {
        activationBytes = null;
        largest = null;
        break;
      }
      if (activationBytes !== null) activationBytes += size * 4;
      if (largest !== null) largest = Math.max(largest, size * 4);
    }
  }
  const inputs = g.input.filter((v) => !initNames.has(v.name ?? '')).map((v) => valueReport(v.name ?? '', v.type));
  return {
    irVersion: model.irVersion ?? 0,
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opsets: model.opsetImport.map((o) => ({ domain: o.domain || 'ai.onnx', version: o.version ?? 0 })),
    inputs,
    outputs: g.output.map((v) => valueReport(v.name ?? '', v.type)),
    opCounts,
    ops: Object.keys(opCounts).sort(),
    layers,
    params: layers.reduce((a, l) => a + l.params, 0),
    macs: layers.reduce((a, l) => a + (l.macs ?? 0), 0),
    macsUnknown: layers.filter((l) => l.macs === null && /MatMul|Gemm|Conv|LSTM|GRU|RNN/.test(l.op)).map((l) => l.name),
    initializerBytes,
    memory: { weightBytes: initializerBytes, largestActivationBytes: largest, activationBytes, estimatedPeakBytes: (fileBytes ?? initializerBytes) + initializerBytes + (activationBytes ?? 0) },
  };
}

/** Constant / Identity / Cast nodes that hoisting removed from the copy, so op counts stay those of the file. */
function countConstants(model: OnnxModel): Record<string, number> {
  const before: Record<string, number> = {};
  for (const v of allGraphs(model)) for (const n of v.graph.node) if (n.opType === 'Constant' || n.opType === 'Identity' || n.opType === 'Cast') before[n.opType] = (before[n.opType] ?? 0) + 1;
  const copy = cloneModel(model);
  hoistConstants(copy, { minElements: 2 });
  for (const v of allGraphs(copy)) for (const n of v.graph.node) if (before[n.opType ?? ''] !== undefined) before[n.opType ?? ''] = (before[n.opType ?? ''] as number) - 1;
  return Object.fromEntries(Object.entries(before).filter(([, n]) => n > 0));
}
