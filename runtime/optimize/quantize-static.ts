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
import { cloneModel, defaultOpset, ensureOpset } from './graph-util.js';
import { allGraphs, dropUnusedInitializersDeep, hoistConstants, modelNamer, nodeSubgraphs, type HoistReport } from './graph-walk.js';
import type { SkippedLayer } from './linear-layers.js';
import type { GraphProto, NodeProto, OnnxModel } from './onnx-types.js';
import { activationParams, biasDq, paramInits, qdqPair, weightDq, type QParams } from './qdq-build.js';
import { planStatic, weightedLayer, type StaticPlan, type WeightedLayer } from './qdq-plan.js';
import { tensorToFloat32 } from './tensor-util.js';

export interface StaticOptions {
  /** Runs a model over the calibration samples (see calibrate.ts). */
  runner: ActivationRunner;
  /** Default 'minmax'. */
  method?: CalibrationMethod;
  /** percentile method: share kept, in percent (default 99.99). */
  percentile?: number;
  /** Only these weighted layers (main graph) are quantized; default all (the mixed plan passes a set). */
  only?: ReadonlySet<string>;
  /**
   * Activation type. 'uint8' (default): U8S8, what onnxruntime runs on x86 anyway (it rewrites S8
   * activations to U8 there, but leaves a QuantizeLinear read by two DequantizeLinear S8, which
   * breaks the fusion of the layers around it: measured on a residual CNN, 2 of 4 Conv fused with
   * S8 against all with U8). 'int8': S8S8, the ARM-native form.
   */
  activations?: 'uint8' | 'int8';
  /** Default true: 7-bit weights (|q| <= 63), see qdq-build.ts; false on ARM / VNNI for full 8-bit. */
  reduceRange?: boolean;
}

export interface StaticLayer {
  name: string; op: string; graph: string;
  activations: 'uint8' | 'int8' | 'float';
  weights: 'int8 per-channel' | 'int8 per-tensor';
  /** Why activations stay float, when they do. */
  note?: string;
}

/** Ops whose meaning changed at opset 10 (Slice's attributes became inputs, TopK's k, Upsample deprecated). */
const OPSET10_CHANGED = new Set(['Slice', 'TopK', 'Upsample']);

function emptyPlan(): StaticPlan {
  return { layers: [], tensors: [], sameParams: new Map(), fused: [], quantizedOps: [] };
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

function weightDims(l: WeightedLayer): number[] { return [...l.weight.dims]; }

/** Replaces a layer's weight (and per-channel bias) inputs by DequantizeLinear outputs. */
function quantizeLayerWeights(g: GraphProto, l: WeightedLayer, inputScale: number | undefined, qMax: number, name: (b: string) => string, domain: string): NodeProto[] {
  const base = l.name;
  const wOut = name(`${base}_W_dequantized`);
  const w = weightDq(`${base}_W`, tensorToFloat32(l.weight), weightDims(l), l.axis, qMax, name, wOut, domain);
  g.initializer.push(...w.inits);
  const nodes = [...w.nodes];
  l.node.input[1] = wOut;
  if (l.bias && inputScale !== undefined) {
    const bOut = name(`${base}_B_dequantized`);
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
  // onnxruntime fuses QDQ groups into onnx-domain QLinearConv / QLinearMatMul (opset >= 10). Below
  // 10 the opset is raised when no op in the model changed meaning at 10; otherwise the main graph
  // gets int8 weights with float compute, as subgraphs do.
  const visits = allGraphs(model);
  const changedAt10 = visits.some((v) => v.graph.node.some((n) => (n.domain ?? '') === '' && OPSET10_CHANGED.has(n.opType ?? '')));
  const weightOnlyMain = opset < 10 && changedAt10;
  const opsetRaised = opset < 10 && !changedAt10 ? { from: opset, to: 10 } : undefined;
  if (opsetRaised) ensureOpset(model, '', 10);
  const domain = opset >= 13 ? '' : 'com.microsoft';
  const qMax = opts.reduceRange === false ? 127 : 63;
  const method = opts.method ?? 'minmax';
  const unsigned = opts.activations !== 'int8';
  const main = visits[0] as (typeof visits)[number];
  const mainSkipped: SkippedLayer[] = [];
  const plan = weightOnlyMain ? emptyPlan() : planStatic(main, { only: opts.only }, mainSkipped);
  const report: StaticReport = {
    path: 'static', method, quantized: [], skipped: mainSkipped.map((s) => ({ ...s, graph: 'main' })), quantizedOps: {},
    foldedBatchNorms: folded.folded.length, fusedActivations: plan.fused.length, hoisted, qdqDomain: domain || 'ai.onnx',
    ...(opsetRaised ? { opsetRaised } : {}),
  };
  for (const l of folded.left) report.skipped.push({ name: l.name, op: 'BatchNormalization', reason: `not folded: ${l.reason}`, graph: l.path });
  for (const op of plan.quantizedOps) report.quantizedOps[op] = (report.quantizedOps[op] ?? 0) + 1;
  const name = modelNamer(model);
  // Weight-only int8 inside subgraphs (and in the main graph of an opset < 10 model that cannot be raised).
  for (const v of weightOnlyMain ? visits : visits.slice(1)) {
    const extra: NodeProto[] = [];
    const why = v.depth === 0 ? `opset ${opset} < 10 with ${[...OPSET10_CHANGED].join('/')} present: activations stay float` : 'activations inside If/Loop/Scan bodies cannot be calibrated as graph outputs: they stay float';
    for (const n of v.graph.node) {
      const l = weightedLayer(n, v.scope);
      if (l === undefined) continue;
      if (typeof l === 'string') { report.skipped.push({ name: n.name || (n.output[0] ?? ''), op: n.opType ?? '', reason: l, graph: v.path }); continue; }
      if (opts.only !== undefined && !opts.only.has(l.name)) { report.skipped.push({ name: l.name, op: l.op, reason: 'kept float by the mixed plan (measured too sensitive)', graph: v.path }); continue; }
      // Float compute: no u8 x s8 saturation, so the full 8-bit range.
      extra.push(...quantizeLayerWeights(v.graph, l, undefined, 127, name, domain));
      report.quantized.push({ name: l.name, op: l.op, graph: v.path, activations: 'float', weights: l.axis >= 0 ? 'int8 per-channel' : 'int8 per-tensor', note: why });
    }
    v.graph.node.unshift(...extra);
  }
  let ranges = new Map<string, Range>();
  if (plan.tensors.length > 0) ranges = await calibrateRanges(model, plan.tensors, opts.runner, { method, ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}) });
  const params = new Map<string, QParams>();
  for (const t of plan.tensors) {
    const same = plan.sameParams.get(t);
    const p = same !== undefined ? params.get(same) : undefined;
    const r = ranges.get(t) as Range;
    params.set(t, p ?? activationParams(r.min, r.max, unsigned));
  }
  applyPlan(model.graph, plan, params, qMax, name, domain, report);
  if (report.quantized.length === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no Conv, ConvTranspose, MatMul or Gemm with a constant float weight was quantized', { details: { skipped: report.skipped } });
  if (domain !== '') ensureOpset(model, 'com.microsoft', 1);
  dropUnusedInitializersDeep(model);
  return { model, report };
}

function applyPlan(g: GraphProto, plan: StaticPlan, params: Map<string, QParams>, qMax: number, name: (b: string) => string, domain: string, report: StaticReport): void {
  // Fused activations: the layer writes the activation's output directly.
  const removed = new Set<NodeProto>();
  for (const f of plan.fused) { f.producer.output[0] = f.activation.output[0] ?? ''; removed.add(f.activation); }
  const before = new Map<NodeProto, NodeProto[]>();
  for (const l of plan.layers) {
    const p = params.get(l.node.input[0] ?? '');
    before.set(l.node, quantizeLayerWeights(g, l, p?.scale, qMax, name, domain));
    report.quantized.push({ name: l.name, op: l.op, graph: 'main', activations: params.get(l.node.input[0] ?? '')?.unsigned === false ? 'int8' : 'uint8', weights: l.axis >= 0 ? 'int8 per-channel' : 'int8 per-tensor' });
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
      const floatName = name(`${t}_float`);
      producer.output = producer.output.map((o) => (o === t ? floatName : o));
      after.set(producer, [...(after.get(producer) ?? []), ...qdqPair(floatName, t, pi, name, domain)]);
    } else {
      const dq = name(`${t}_dequantized`);
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

/** Every read of `from` (in this graph's nodes, Q / DQ excluded, and its subgraphs) reads `to`. */
function renameReadsDeep(g: GraphProto, from: string, to: string): void {
  for (const n of g.node) {
    if (n.opType === 'QuantizeLinear' && n.input[0] === from) continue;
    n.input = n.input.map((i) => (i === from ? to : i));
    for (const s of nodeSubgraphs(n)) renameReadsDeep(s.graph, from, to);
  }
}
