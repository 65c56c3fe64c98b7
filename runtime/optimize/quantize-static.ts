/**
 * Static int8 quantization in QDQ format, S8S8, per-channel weights (issue 10; onnxruntime's
 * guidance: "S8S8 with QDQ is the default setting ... It should be the first choice" for CNNs).
 *
 * Steps: Constant nodes (through Identity / Cast) become initializers; BatchNormalization folds into
 * the Conv before it; the main graph's activations around quantizable layers (qdq-plan.ts) are
 * calibrated on samples through the injected runner; then each quantized activation gets one
 * QuantizeLinear -> DequantizeLinear pair after its producer, weights become int8 + DequantizeLinear,
 * biases int32 + DequantizeLinear, and fused Relu / Clip nodes go.
 * Inside subgraphs (If / Loop / Scan bodies) activations cannot be observed as graph outputs, so
 * their Conv / MatMul / Gemm get int8 weights (DequantizeLinear) and float compute, and say so.
 *
 * Contract: returns a new model; the input is not mutated. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED when
 * no layer is quantized, EDGE_ERR_CALIBRATION_FAILED (calibrate.ts) when the samples do not run.
 */
import { EdgeError } from '../errors.js';
import { foldBatchNorms } from './bn-fold.js';
import { calibrateRanges, type ActivationRunner, type CalibrationMethod, type Range } from './calibrate.js';
import { cloneModel, defaultOpset, ensureOpset, makeNode } from './graph-util.js';
import { DataType } from './onnx-schema.js';
import { makeFloatTensor, makeInt8Tensor, makeUint8Tensor } from './tensor-util.js';
import { allGraphs, dropUnusedInitializersDeep, hoistConstants, lookupInitializer, modelNamer, nodeSubgraphs, type HoistReport } from './graph-walk.js';
import type { SkippedLayer } from './linear-layers.js';
import type { GraphProto, NodeProto, OnnxModel } from './onnx-types.js';
import { activationParams, biasDq, paramInits, qdqPair, weightDq, type Built, type QParams } from './qdq-build.js';
import { raiseOpsetTo10 } from './opset-raise.js';
import { lstmQuantizable, quantizeLstm } from './quantize-lstm.js';
import { planStatic, weightedLayer, type StaticPlan, type WeightedLayer } from './qdq-plan.js';
import { tensorToFloat32 } from './tensor-util.js';

export interface StaticOptions {
  /** Runs a model over the calibration samples (see calibrate.ts). */
  runner: ActivationRunner;
  /** Default 'minmax'. */
  method?: CalibrationMethod;
  /** percentile method: share kept, in percent (default 99.99). */
  percentile?: number;
  /**
   * Ranges already measured for this model, method and set (by tensor name); filled with what this
   * call measures. The mixed plan passes one cache to all its trials so each tensor is calibrated once.
   */
  rangeCache?: Map<string, Range>;
  /** Only these weighted layers are quantized; default all (the mixed plan passes a set). */
  only?: ReadonlySet<string>;
  /**
   * Activation type. 'uint8' (default): U8S8, what onnxruntime runs on x86 anyway (it rewrites S8
   * activations to U8 there, but leaves a QuantizeLinear read by two DequantizeLinear S8, which
   * breaks the fusion of the layers around it: measured on a residual CNN, 2 of 4 Conv fused with
   * S8 against all with U8). 'int8': S8S8, the ARM-native form.
   */
  activations?: 'uint8' | 'int8';
  /** Quantize a stem Conv over the model input too (default false: measured slower, see qdq-plan.ts). */
  int8Stem?: boolean;
  /** Default true: 7-bit weights (|q| <= 63), see qdq-build.ts; false on ARM / VNNI for full 8-bit. */
  reduceRange?: boolean;
}

export interface StaticLayer {
  name: string;
  op: string;
  graph: string;
  activations: 'uint8' | 'int8' | 'float';
  weights: 'int8 per-channel' | 'int8 per-tensor' | 'int8 per-direction';
  /** Why activations stay float, when they do. */
  note?: string;
}

function emptyPlan(): StaticPlan {
  return { layers: [], tensors: [], sameParams: new Map(), fused: [], quantizedOps: [], constants: [] };
}

/**
 * Div by a float constant becomes Mul by its reciprocal in the main graph (hard-swish exports divide
 * by 6): onnxruntime has QLinearMul but no quantized Div. Returns how many were rewritten.
 */
function divToMul(g: GraphProto, scope: readonly GraphProto[], name: (b: string) => string): number {
  let count = 0;
  for (const n of g.node) {
    if (n.opType !== 'Div' || (n.domain ?? '') !== '') continue;
    const c = lookupInitializer(scope, n.input[1]);
    if (c === undefined || c.dataType !== DataType.FLOAT || lookupInitializer(scope, n.input[0])) continue;
    const data = tensorToFloat32(c);
    if (data.some((x) => x === 0 || !Number.isFinite(x))) continue;
    const r = name(`${n.input[1] ?? 'divisor'}_reciprocal`);
    g.initializer.push(
      makeFloatTensor(
        r,
        c.dims,
        data.map((x) => 1 / x),
      ),
    );
    n.opType = 'Mul';
    n.input = [n.input[0] ?? '', r];
    count++;
  }
  return count;
}

export interface StaticReport {
  path: 'static';
  method: CalibrationMethod;
  quantized: StaticLayer[];
  skipped: (SkippedLayer & { graph: string })[];
  /** Non-weighted ops kept in int8 between quantized layers (counts by op). */
  quantizedOps: Record<string, number>;
  foldedBatchNorms: number;
  fusedActivations: number;
  hoisted: HoistReport;
  qdqDomain: string;
  /** Set when the default opset was raised to 10 for onnxruntime's QLinear fusions. */
  opsetRaised?: { from: number; to: number };
}

function weightDims(l: WeightedLayer): number[] {
  return [...l.weight.dims];
}

/** Replaces a layer's weight (and per-channel bias) inputs by DequantizeLinear outputs. */
function quantizeLayerWeights(g: GraphProto, l: WeightedLayer, inputScale: number | undefined, qMax: number, name: (b: string) => string, domain: string): NodeProto[] {
  const base = l.name;
  const wOut = name(`${base}_w`);
  const w = weightDq(`${base}_W`, tensorToFloat32(l.weight), weightDims(l), l.axis, qMax, name, wOut, domain);
  g.initializer.push(...w.inits);
  const nodes = [...w.nodes];
  l.node.input[1] = wOut;
  if (l.bias && inputScale !== undefined) {
    const bOut = name(`${base}_b`);
    const b = biasDq(`${base}_B`, tensorToFloat32(l.bias), inputScale, w.scale, name, bOut, domain);
    g.initializer.push(...b.inits);
    nodes.push(...b.nodes);
    l.node.input[2] = bOut;
  }
  return nodes;
}

export async function quantizeStatic(input: OnnxModel, opts: StaticOptions): Promise<{ model: OnnxModel; report: StaticReport }> {
  const model = cloneModel(input);
  const hoisted = hoistConstants(model);
  const folded = foldBatchNorms(model);
  const opset = defaultOpset(model);
  // onnxruntime fuses QDQ groups into onnx-domain QLinearConv / QLinearMatMul (opset >= 10): an
  // opset 9 model is raised to 10 (opset-raise.ts); when it cannot be, the main graph gets int8
  // weights with float compute, as subgraphs do.
  const cannotRaise = opset < 10 ? raiseOpsetTo10(model) : undefined;
  const weightOnlyMain = cannotRaise !== undefined;
  const opsetRaised = opset < 10 && !weightOnlyMain ? { from: opset, to: 10 } : undefined;
  const visits = allGraphs(model);
  const domain = opset >= 13 ? '' : 'com.microsoft';
  const qMax = opts.reduceRange === false ? 127 : 63;
  const method = opts.method ?? 'minmax';
  const unsigned = opts.activations !== 'int8';
  const main = visits[0] as (typeof visits)[number];
  const name = modelNamer(model);
  if (!weightOnlyMain) divToMul(main.graph, main.scope, name);
  const mainSkipped: SkippedLayer[] = [];
  const plan = weightOnlyMain ? emptyPlan() : planStatic(main, { only: opts.only, int8Stem: opts.int8Stem === true }, mainSkipped);
  const report: StaticReport = { path: 'static', method, quantized: [], skipped: mainSkipped.map((s) => ({ ...s, graph: 'main' })), quantizedOps: {}, foldedBatchNorms: folded.folded.length, fusedActivations: plan.fused.length, hoisted, qdqDomain: domain || 'ai.onnx', ...(opsetRaised ? { opsetRaised } : {}) };
  for (const l of folded.left) report.skipped.push({ name: l.name, op: 'BatchNormalization', reason: `not folded: ${l.reason}`, graph: l.path });
  for (const op of plan.quantizedOps) report.quantizedOps[op] = (report.quantizedOps[op] ?? 0) + 1;
  // Weight-only int8 inside subgraphs (and in the main graph of an opset < 10 model that cannot be raised).
  for (const v of weightOnlyMain ? visits : visits.slice(1)) {
    const extra: NodeProto[] = [];
    const why = v.depth === 0 ? `${cannotRaise ?? ''}: activations stay float (onnxruntime's QLinear ops need opset 10)` : 'activations inside If/Loop/Scan bodies cannot be calibrated as graph outputs: they stay float';
    for (const n of v.graph.node) {
      const l = weightedLayer(n, v.scope);
      if (l === undefined) continue;
      if (typeof l === 'string') {
        report.skipped.push({ name: n.name || (n.output[0] ?? ''), op: n.opType ?? '', reason: l, graph: v.path });
        continue;
      }
      if (opts.only !== undefined && !opts.only.has(l.name)) {
        report.skipped.push({ name: l.name, op: l.op, reason: 'kept float by the mixed plan (measured too sensitive)', graph: v.path });
        continue;
      }
      // Float compute: no u8 x s8 saturation, so the full 8-bit range.
      extra.push(...quantizeLayerWeights(v.graph, l, undefined, 127, name, domain));
      report.quantized.push({ name: l.name, op: l.op, graph: v.path, activations: 'float', weights: l.axis >= 0 ? 'int8 per-channel' : 'int8 per-tensor', note: why });
    }
    v.graph.node.unshift(...extra);
  }
  const cache = opts.rangeCache ?? new Map<string, Range>();
  const missing = plan.tensors.filter((t) => !cache.has(t));
  if (missing.length > 0) {
    const measured = await calibrateRanges(model, missing, opts.runner, { method, ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}) });
    for (const [t, r] of measured) cache.set(t, r);
  }
  const ranges = cache;
  const params = new Map<string, QParams>();
  for (const t of plan.tensors) {
    const same = plan.sameParams.get(t);
    const p = same !== undefined ? params.get(same) : undefined;
    const r = ranges.get(t) as Range;
    params.set(t, p ?? activationParams(r.min, r.max, unsigned));
  }
  applyPlan(model.graph, plan, params, qMax, name, domain, unsigned, report);
  for (const v of allGraphs(model)) {
    for (const n of [...v.graph.node]) {
      if (n.opType !== 'LSTM' || (n.domain ?? '') !== '') continue;
      const lname = n.name || (n.output[0] ?? '');
      if (opts.only !== undefined && !opts.only.has(lname)) {
        report.skipped.push({ name: lname, op: 'LSTM', reason: 'kept float by the mixed plan (measured too sensitive)', graph: v.path });
        continue;
      }
      const why = lstmQuantizable(n, v.scope);
      if (why !== undefined) {
        report.skipped.push({ name: lname, op: 'LSTM', reason: why, graph: v.path });
        continue;
      }
      quantizeLstm(v.graph, n, v.scope, qMax, name);
      report.quantized.push({ name: lname, op: 'LSTM', graph: v.path, activations: 'float', weights: 'int8 per-direction', note: 'com.microsoft.DynamicQuantizeLSTM: the input is quantized per run inside the op' });
    }
  }
  if (report.quantized.length > 0 && report.quantized.some((l) => l.op === 'LSTM')) ensureOpset(model, 'com.microsoft', 1);
  if (report.quantized.length === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no Conv, ConvTranspose, MatMul or Gemm with a constant float weight was quantized', { details: { skipped: report.skipped } });
  if (domain !== '') ensureOpset(model, 'com.microsoft', 1);
  dropUnusedInitializersDeep(model);
  return { model, report };
}

function applyPlan(g: GraphProto, plan: StaticPlan, params: Map<string, QParams>, qMax: number, name: (b: string) => string, domain: string, unsigned: boolean, report: StaticReport): void {
  // Fused activations: the layer writes the activation's output directly.
  const removed = new Set<NodeProto>();
  for (const f of plan.fused) {
    f.producer.output[0] = f.activation.output[0] ?? '';
    removed.add(f.activation);
  }
  const before = new Map<NodeProto, NodeProto[]>();
  for (const l of plan.layers) {
    const p = params.get(l.node.input[0] ?? '');
    before.set(l.node, quantizeLayerWeights(g, l, p?.scale, qMax, name, domain));
    report.quantized.push({ name: l.name, op: l.op, graph: 'main', activations: params.get(l.node.input[0] ?? '')?.unsigned === false ? 'int8' : 'uint8', weights: l.axis >= 0 ? 'int8 per-channel' : 'int8 per-tensor' });
  }
  for (const c of plan.constants) {
    const t = lookupInitializer([g], c.input);
    if (t === undefined) continue;
    const data = tensorToFloat32(t);
    const p = activationParams(
      data.reduce((a, b) => Math.min(a, b), 0),
      data.reduce((a, b) => Math.max(a, b), 0),
      unsigned,
    );
    const { q, out } = quantizeConstant(c.input, data, t.dims, p, name, domain);
    g.initializer.push(...q.inits);
    before.set(c.node, [...(before.get(c.node) ?? []), ...q.nodes]);
    c.node.input = c.node.input.map((i) => (i === c.input ? out : i));
  }
  const producers = new Map<string, NodeProto>();
  for (const n of g.node) if (!removed.has(n)) for (const o of n.output) producers.set(o, n);
  const after = new Map<NodeProto, NodeProto[]>();
  const atStart: NodeProto[] = [];
  for (const t of plan.tensors) {
    const pi = paramInits(t, params.get(t) as QParams, name);
    g.initializer.push(...pi.inits);
    const producer = producers.get(t);
    if (producer !== undefined) {
      const floatName = name(`${t}_f`);
      producer.output = producer.output.map((o) => (o === t ? floatName : o));
      after.set(producer, [...(after.get(producer) ?? []), ...qdqPair(floatName, t, pi, name, domain)]);
    } else {
      const dq = name(`${t}_dq`);
      atStart.push(...qdqPair(t, dq, pi, name, domain));
      renameReadsDeep(g, t, dq);
    }
  }
  const nodes: NodeProto[] = [...atStart];
  for (const n of g.node) {
    if (removed.has(n)) continue;
    nodes.push(...(before.get(n) ?? []), n, ...(after.get(n) ?? []));
  }
  g.node = nodes;
}

/** A float constant as an 8-bit tensor + DequantizeLinear with its own parameters. */
function quantizeConstant(base: string, data: Float32Array, dims: readonly number[], p: QParams, name: (b: string) => string, domain: string): { q: Built; out: string } {
  const qn = name(`${base}_cq`);
  const pi = paramInits(`${base}_c`, p, name);
  const lo = p.unsigned ? 0 : -128;
  const values = data.map((x) => Math.max(lo, Math.min(lo + 255, Math.round(x / p.scale) + p.zeroPoint)));
  const tensor = p.unsigned ? makeUint8Tensor(qn, dims, Uint8Array.from(values)) : makeInt8Tensor(qn, dims, Int8Array.from(values));
  const out = name(`${base}_cdq`);
  return { q: { nodes: [makeNode('DequantizeLinear', [qn, pi.scale, pi.zp], [out], '', [], domain || undefined)], inits: [tensor, ...pi.inits] }, out };
}

/** Every read of `from` (in this graph's nodes, Q / DQ excluded, and its subgraphs) reads `to`. */
function renameReadsDeep(g: GraphProto, from: string, to: string): void {
  for (const n of g.node) {
    if (n.opType === 'QuantizeLinear' && n.input[0] === from) continue;
    n.input = n.input.map((i) => (i === from ? to : i));
    for (const s of nodeSubgraphs(n)) renameReadsDeep(s.graph, from, to);
  }
}
