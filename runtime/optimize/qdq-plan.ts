/**
 * Which nodes of the main graph static int8 quantizes, and which activations get a QDQ pair
 * (issue 10). Pure over the graph; quantize-static.ts applies the plan.
 *
 * Rules (chosen so onnxruntime fuses whole int8 chains: QLinearConv with its Relu, QLinearAdd,
 * quantized pooling, and keeps activations int8 between consecutive quantized ops):
 * - Weighted layers: Conv (any group: depthwise / grouped), ConvTranspose, MatMul with a 2-D constant
 *   weight, Gemm (transA 0, alpha = beta = 1) whose weight is a constant float tensor and whose
 *   activation is not. Their activation input and output are quantized.
 * - Elementwise / pooling ops (Add, Mul, Concat, AveragePool, GlobalAveragePool, Sigmoid, LeakyRelu)
 *   are quantized when every input is an activation (Add / Mul: or one float constant, quantized on
 *   its own) and one of them is already
 *   quantized; data-movement ops (MaxPool, Flatten, Reshape, Transpose, Squeeze, Unsqueeze) too,
 *   with their output sharing the input's parameters (so onnxruntime can drop their Q / DQ).
 * - A stem Conv (reading the model input, <= 4 channels) stays float unless asked (STEM_REASON).
 * - A Relu (or a Clip with constant bounds) that alone reads a quantized layer's or Add's output is fused:
 *   removed after calibration, the layer's output taking its (non-negative) range; the int8
 *   saturation of QuantizeLinear does what the Relu did (onnxruntime's own QDQ Relu fusion).
 * - Every other weighted node is listed in `skipped` with the reason.
 */
import { attrFloat, attrInt } from './graph-util.js';
import { lookupInitializer, nodeSubgraphs, usedNames, type GraphVisit } from './graph-walk.js';
import { layerName, type SkippedLayer } from './linear-layers.js';
import { DataType } from './onnx-schema.js';
import type { GraphProto, NodeProto, TensorProto } from './onnx-types.js';
import { tensorToFloat32 } from './tensor-util.js';

export interface WeightedLayer {
  name: string;
  node: NodeProto;
  op: 'Conv' | 'ConvTranspose' | 'MatMul' | 'Gemm';
  weight: TensorProto;
  /** Per-channel axis of the weight (output channels), or -1 for one scale per tensor. */
  axis: number;
  /** Float bias of one value per output channel (Conv / ConvTranspose B, Gemm C of shape [N]). */
  bias?: TensorProto;
}

export interface StaticPlan {
  layers: WeightedLayer[];
  /** Activations (main graph) that get a QuantizeLinear -> DequantizeLinear pair, in graph order. */
  tensors: string[];
  /** Output -> input whose parameters it shares (data-movement ops). */
  sameParams: Map<string, string>;
  /** Relu / Clip nodes to remove after calibration, with the layer they follow. */
  fused: { activation: NodeProto; producer: NodeProto }[];
  /** Non-weighted ops quantized (op names, for the report). */
  quantizedOps: string[];
  /** Float constants read by quantized Add / Mul: each gets its own int8 tensor + DequantizeLinear. */
  constants: { node: NodeProto; input: string }[];
}

const ELEMENTWISE = new Set(['Add', 'Mul', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Sigmoid', 'LeakyRelu']);
const MOVEMENT = new Set(['MaxPool', 'Flatten', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze']);
const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

function isFloat(t: TensorProto | undefined): t is TensorProto {
  return t !== undefined && t.dataType === DataType.FLOAT && t.dataLocation !== 1;
}

/** A weighted layer static int8 can take, or the reason it cannot. `scope` resolves weights. */
export function weightedLayer(n: NodeProto, scope: readonly GraphProto[]): WeightedLayer | string | undefined {
  const op = n.opType ?? '';
  if ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx') return undefined;
  // LSTM is converted by quantize-lstm.ts (DynamicQuantizeLSTM), which reports it.
  if (RECURRENT.has(op)) return op === 'LSTM' ? undefined : `${op} weights are kept float: onnxruntime has no static or dynamic int8 ${op} kernel (only DynamicQuantizeLSTM)`;
  if (op !== 'Conv' && op !== 'ConvTranspose' && op !== 'MatMul' && op !== 'Gemm') return undefined;
  const w = lookupInitializer(scope, n.input[1]);
  if (lookupInitializer(scope, n.input[0])) return 'the activation input is a constant';
  if (w === undefined) return 'the weight is not a constant (initializer or Constant node)';
  if (!isFloat(w)) return `the weight is not float32 (data_type ${(w as TensorProto).dataType ?? 0})`;
  const name = layerName(n);
  if (op === 'Conv' || op === 'ConvTranspose') {
    if (w.dims.length < 3) return `the weight has rank ${w.dims.length}`;
    const b = n.input[2] ? lookupInitializer(scope, n.input[2]) : undefined;
    if (n.input[2] && !isFloat(b)) return 'the bias is not a constant float tensor';
    const group = attrInt(n, 'group', 1);
    const axis = op === 'Conv' ? 0 : group === 1 ? 1 : -1;
    return { name, node: n, op, weight: w, axis, ...(b ? { bias: b } : {}) };
  }
  if (w.dims.length !== 2) return `the weight has rank ${w.dims.length}, not 2`;
  if (op === 'MatMul') return { name, node: n, op, weight: w, axis: 1 };
  if (attrInt(n, 'transA', 0) !== 0) return 'Gemm with transA=1';
  if (attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1) return 'Gemm with alpha or beta other than 1';
  const transB = attrInt(n, 'transB', 0) !== 0;
  const c = n.input[2] ? lookupInitializer(scope, n.input[2]) : undefined;
  if (n.input[2] && !isFloat(c)) return 'Gemm bias C is not a constant float tensor';
  const units = w.dims[transB ? 0 : 1] as number;
  const perUnit = c !== undefined && c.dims.length === 1 && c.dims[0] === units;
  return { name, node: n, op, weight: w, axis: transB ? 0 : 1, ...(perUnit ? { bias: c } : {}) };
}

/** Constant Clip bounds (opset 11+: inputs; older: attributes), or undefined. */
export function clipBounds(n: NodeProto, scope: readonly GraphProto[]): { min: number; max: number } | undefined {
  if (n.input.length <= 1) return { min: attrFloat(n, 'min', -Infinity), max: attrFloat(n, 'max', Infinity) };
  const read = (i: string | undefined, fallback: number): number | undefined => {
    if (!i) return fallback;
    const t = lookupInitializer(scope, i);
    return t ? tensorToFloat32(t)[0] : undefined;
  };
  const min = read(n.input[1], -Infinity);
  const max = read(n.input[2], Infinity);
  return min === undefined || max === undefined ? undefined : { min, max };
}

export interface PlanOptions {
  /** Only these weighted layers; default all. */
  only?: ReadonlySet<string> | undefined;
  /** Quantize the stem too (see STEM_REASON); default false. */
  int8Stem?: boolean;
}

/**
 * Measured (bench/static-int8.ts on the fashion teacher, x86 AVX2, 1 thread, alternating rounds):
 * all-int8 0.98x fp32 at batch 1 and 1.53x at batch 32; with the 1-channel stem conv left float
 * 1.24x and 2.06x. A conv over the raw input with a few channels has too little depth per output
 * for the int8 kernels, and its float output costs one QuantizeLinear either way.
 */
export const STEM_REASON = 'stem Conv over the model input with <= 4 input channels kept float: measured faster (fashion teacher 1.24x vs 0.98x fp32 at batch 1); --int8-stem quantizes it';

export function planStatic(v: GraphVisit, opts: PlanOptions, skipped: SkippedLayer[]): StaticPlan {
  const only = opts.only;
  const g = v.graph;
  const graphOutputs = new Set(g.output.map((o) => o.name ?? ''));
  const readers = new Map<string, NodeProto[]>();
  for (const n of g.node) for (const i of n.input) readers.set(i, [...(readers.get(i) ?? []), n]);
  const subgraphReads = new Set<string>();
  for (const n of g.node) for (const s of nodeSubgraphs(n)) for (const u of usedNames(s.graph)) subgraphReads.add(u);
  const floatInputs = new Set(g.input.filter((i) => (i.type?.tensorType?.elemType ?? 1) === DataType.FLOAT).map((i) => i.name ?? ''));
  const floatValue = (name: string): boolean => floatInputs.has(name) || g.node.some((n) => n.output.includes(name));
  const q = new Set<string>();
  const order: string[] = [];
  const add = (t: string): void => {
    if (!q.has(t)) {
      q.add(t);
      order.push(t);
    }
  };
  const plan: StaticPlan = { layers: [], tensors: order, sameParams: new Map(), fused: [], quantizedOps: [], constants: [] };
  const fusedActs = new Set<NodeProto>();
  /** Fuses a Relu / Clip that alone reads n's output (see the module comment); true when done. */
  const fuseActivation = (n: NodeProto): boolean => {
    const out = n.output[0] ?? '';
    const r = readers.get(out) ?? [];
    const act = r[0];
    if (r.length !== 1 || act === undefined || graphOutputs.has(out) || subgraphReads.has(out)) return false;
    const bounds = act.opType === 'Clip' ? clipBounds(act, v.scope) : undefined;
    if (act.opType !== 'Relu' && !(bounds !== undefined && bounds.min <= 0)) return false;
    plan.fused.push({ activation: act, producer: n });
    fusedActs.add(act);
    add(act.output[0] ?? '');
    return true;
  };
  for (const n of g.node) {
    const op = n.opType ?? '';
    if (fusedActs.has(n)) continue;
    const layer = weightedLayer(n, v.scope);
    if (typeof layer === 'string') {
      skipped.push({ name: layerName(n), op, reason: layer });
      continue;
    }
    if (layer !== undefined) {
      if (only !== undefined && !only.has(layer.name)) {
        skipped.push({ name: layer.name, op, reason: 'kept float by the mixed plan (measured too sensitive)' });
        continue;
      }
      if (opts.int8Stem !== true && op === 'Conv' && floatInputs.has(n.input[0] ?? '') && (layer.weight.dims[1] as number) * attrInt(n, 'group', 1) <= 4) {
        skipped.push({ name: layer.name, op, reason: STEM_REASON });
        continue;
      }
      if (!floatValue(n.input[0] ?? '')) {
        skipped.push({ name: layer.name, op, reason: 'the activation input is not a float value of this graph' });
        continue;
      }
      plan.layers.push(layer);
      add(n.input[0] ?? '');
      if (!fuseActivation(n)) add(n.output[0] ?? '');
      continue;
    }
    const acts = n.input.filter((i) => i !== '');
    // Add / Mul may take one float constant (x + 3, x * 1/6 in hard-swish): it is quantized on its own.
    const consts = acts.filter((i) => lookupInitializer(v.scope, i) !== undefined);
    const constOk = consts.length === 0 || ((op === 'Add' || op === 'Mul') && consts.length === 1 && acts.length === 2 && isFloat(lookupInitializer(v.scope, consts[0])));
    const live = acts.filter((i) => !consts.includes(i));
    if (ELEMENTWISE.has(op) && live.length > 0 && constOk && live.every((i) => floatValue(i)) && live.some((i) => q.has(i)) && n.output.length === 1) {
      for (const i of live) add(i);
      for (const c of consts) plan.constants.push({ node: n, input: c });
      plan.quantizedOps.push(op);
      if (op === 'Add' || op === 'Mul') {
        if (fuseActivation(n)) continue;
      }
      add(n.output[0] ?? '');
      continue;
    }
    if (MOVEMENT.has(op) && q.has(n.input[0] ?? '') && n.output.filter((o) => o !== '').length === 1) {
      plan.sameParams.set(n.output[0] ?? '', n.input[0] ?? '');
      add(n.output[0] ?? '');
      plan.quantizedOps.push(op);
    }
  }
  return plan;
}
