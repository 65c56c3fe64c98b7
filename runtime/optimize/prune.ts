/**
 * Structured pruning: removes whole hidden units (dense) or channels (conv) and writes a smaller
 * dense model. A prunable chain is
 *   producer (MatMul / Gemm / Conv group=1 with constant weight)
 *   -> [Add of a per-unit constant | BatchNormalization | elementwise unary op]*
 *   -> consumer (MatMul / Gemm for dense, Conv group=1 for conv, or Flatten(axis 1) then MatMul /
 *      Gemm for conv, where channel j owns H*W consecutive consumer rows) reading it as its activation,
 * with every intermediate value read by exactly one node and not a graph output. Removing unit j
 * deletes the producer's output column/channel j (and its bias entry), entry j of every per-unit
 * constant in between, and the consumer's input row/channel j. The last layer's outputs are never
 * pruned (they are not followed by a consumer).
 * Conv chains also pass through pooling and depthwise Convs (whose filter j, bias j and group go with
 * channel j). A conv whose output feeds a residual Add is left alone (its channels stay aligned with
 * the other branch); the layers inside the residual block are pruned. Every graph is pruned, subgraphs
 * included, after Constant-node weights are hoisted to initializers.
 * Units are ranked by ||producer weights of j||_2 * ||consumer weights of j||_2; the lowest go.
 *
 * Contract: returns a new model; the input is not mutated. Throws EDGE_ERR_USAGE for a sparsity
 * outside [0, 1) and EDGE_ERR_QUANTIZE_UNSUPPORTED when the model has no prunable chain.
 */
import { EdgeError } from '../errors.js';
import { attrInt, cloneModel, indexGraph, intAttr, qualifiedOp, type GraphIndex } from './graph-util.js';
import { allGraphs, hoistConstants } from './graph-walk.js';
import { layerName } from './linear-layers.js';
import { DataType } from './onnx-schema.js';
import type { GraphProto, NodeProto, OnnxModel } from './onnx-types.js';
import { inferShapes, shapeSize } from './shape-infer.js';
import { makeFloatTensor, tensorToFloat32 } from './tensor-util.js';

export interface PruneOptions {
  /** Share of hidden units / channels to remove in each chain, in [0, 1). */
  sparsity: number;
}

export interface PrunedLayer {
  name: string;
  op: string;
  unitsBefore: number;
  unitsAfter: number;
  /** The subgraph holding it (absent for the main graph). */
  graph?: string;
  /** Depthwise Convs whose channels went with it. */
  through?: string[];
}

export interface PruneReport {
  layers: PrunedLayer[];
  /** Producers that could not be pruned, with the reason (e.g. the output layer). */
  skipped: { name: string; op: string; reason: string; graph?: string }[];
}

/** A constant to slice: initializer `name` along `axis`, each unit spanning `block` entries (default 1). */
interface Cut {
  name: string;
  axis: number;
  block?: number;
}

interface Chain {
  producer: NodeProto;
  units: number;
  outCuts: Cut[];
  middle: Cut[];
  inCuts: Cut[];
  intermediates: string[];
  depthwise: NodeProto[];
}

const UNARY = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Gelu', 'Elu', 'Selu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Dropout', 'Identity', 'Erf', 'Mish', 'Clip']);
/** Per-channel ops a conv chain passes through unchanged (pooling keeps channels). */
const CHANNEL_WISE = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);

/** A depthwise Conv (group = channels, one filter per channel) with constant float weights. */
function isDepthwise(n: NodeProto, idx: GraphIndex, units: number): boolean {
  const w = constFloat(idx, n.input[1]);
  return n.opType === 'Conv' && attrInt(n, 'group', 1) === units && units > 1 && w !== undefined && w.dims[0] === units && w.dims[1] === 1 && (!n.input[2] || constFloat(idx, n.input[2]) !== undefined);
}

function constFloat(idx: GraphIndex, name: string | undefined): { dims: number[] } | undefined {
  const t = name === undefined ? undefined : idx.initializers.get(name);
  return t !== undefined && t.dataType === DataType.FLOAT && t.dataLocation !== 1 ? { dims: t.dims } : undefined;
}

/** How node `n` produces units: the cuts for its output units, or a reason it cannot. */
function producerCuts(n: NodeProto, idx: GraphIndex): { units: number; cuts: Cut[]; conv: boolean } | string {
  const op = n.opType ?? '';
  const w = constFloat(idx, n.input[1]);
  if (w === undefined || idx.initializers.has(n.input[0] ?? '')) return 'weight is not a constant float initializer';
  const wName = n.input[1] as string;
  if (op === 'MatMul' && w.dims.length === 2) return { units: w.dims[1] as number, cuts: [{ name: wName, axis: 1 }], conv: false };
  if (op === 'Gemm' && w.dims.length === 2 && attrInt(n, 'transA', 0) === 0) {
    const transB = attrInt(n, 'transB', 0) !== 0;
    const units = w.dims[transB ? 0 : 1] as number;
    const cuts: Cut[] = [{ name: wName, axis: transB ? 0 : 1 }];
    const c = n.input[2];
    if (c) {
      const cd = constFloat(idx, c);
      if (cd === undefined) return 'Gemm bias is not a constant';
      if (cd.dims[cd.dims.length - 1] === units && units !== 1) cuts.push({ name: c, axis: cd.dims.length - 1 });
      else if (cd.dims.some((d) => d !== 1)) return 'Gemm bias does not broadcast per unit';
    }
    return { units, cuts, conv: false };
  }
  if (op === 'Conv' && attrInt(n, 'group', 1) === 1) {
    const cuts: Cut[] = [{ name: wName, axis: 0 }];
    if (n.input[2]) {
      if (constFloat(idx, n.input[2]) === undefined) return 'Conv bias is not a constant';
      cuts.push({ name: n.input[2], axis: 0 });
    }
    return { units: w.dims[0] as number, cuts, conv: true };
  }
  if (op === 'Conv' && isDepthwise(n, idx, w.dims[0] as number)) return 'depthwise Conv: its channels follow the layer that feeds it (pruned with that layer)';
  return 'not a MatMul / Gemm / Conv (group 1) layer';
}

function consumerCut(n: NodeProto, value: string, idx: GraphIndex, conv: boolean): Cut | undefined {
  const op = n.opType ?? '';
  if (n.input[0] !== value) return undefined;
  const w = constFloat(idx, n.input[1]);
  if (w === undefined) return undefined;
  const name = n.input[1] as string;
  if (!conv && op === 'MatMul' && w.dims.length === 2) return { name, axis: 0 };
  if (!conv && op === 'Gemm' && w.dims.length === 2 && attrInt(n, 'transA', 0) === 0) return { name, axis: attrInt(n, 'transB', 0) ? 1 : 0 };
  if (conv && op === 'Conv' && attrInt(n, 'group', 1) === 1) return { name, axis: 1 };
  return undefined;
}

/** The per-unit constant of an Add / BatchNormalization between producer and consumer. */
function middleCuts(n: NodeProto, value: string, idx: GraphIndex, units: number, conv: boolean): Cut[] | undefined {
  const op = n.opType ?? '';
  if (UNARY.has(op) && (op !== 'Clip' || n.input.slice(1).every((i) => i === '' || idx.initializers.has(i)))) return [];
  if (conv && CHANNEL_WISE.has(op)) return [];
  if (conv && isDepthwise(n, idx, units) && n.input[0] === value) {
    return [{ name: n.input[1] as string, axis: 0 }, ...(n.input[2] ? [{ name: n.input[2], axis: 0 }] : [])];
  }
  if (op === 'BatchNormalization' && conv) {
    const ins = n.input.slice(1, 5);
    return ins.every((i) => constFloat(idx, i)?.dims.length === 1) ? ins.map((name) => ({ name, axis: 0 })) : undefined;
  }
  if (op === 'Add' || op === 'Mul' || op === 'Sub') {
    const other = n.input[0] === value ? n.input[1] : n.input[0];
    const c = constFloat(idx, other);
    if (c === undefined || other === undefined) return undefined;
    const axis = conv ? c.dims.length - 3 : c.dims.length - 1;
    if (axis >= 0 && c.dims[axis] === units && c.dims.every((d, i) => i === axis || d === 1)) return [{ name: other, axis }];
    return c.dims.every((d) => d === 1) ? [] : undefined;
  }
  return undefined;
}

function findChains(g: GraphProto): { chains: Chain[]; skipped: PruneReport['skipped'] } {
  const idx = indexGraph(g);
  const shapes = inferShapes(g);
  const chains: Chain[] = [];
  const skipped: PruneReport['skipped'] = [];
  for (const n of g.node) {
    const op = n.opType ?? '';
    if (!['MatMul', 'Gemm', 'Conv'].includes(op) || (n.domain ?? '') !== '') continue;
    const p = producerCuts(n, idx);
    if (typeof p === 'string') {
      skipped.push({ name: layerName(n), op, reason: p });
      continue;
    }
    const middle: Cut[] = [];
    const intermediates: string[] = [];
    let value = n.output[0] ?? '';
    let found: Cut | undefined;
    let reason = 'its output does not feed another prunable layer (output layer or unsupported op in between)';
    const depthwise: NodeProto[] = [];
    let globalPooled = false;
    let conv = p.conv;
    let block = 1;
    for (;;) {
      const readers = idx.consumers.get(value) ?? [];
      if (idx.graphOutputs.has(value) || readers.length !== 1) {
        if (readers.length > 1) reason = 'its output is read by more than one node';
        break;
      }
      const next = readers[0] as NodeProto;
      intermediates.push(value);
      found = consumerCut(next, value, idx, conv);
      if (found) {
        if (block > 1) found = { ...found, block };
        break;
      }
      if (conv && next.opType === 'Flatten' && attrInt(next, 'axis', 1) === 1) {
        const spatial = globalPooled ? 1 : shapeSize(shapes.get(value)?.slice(2));
        if (spatial === null) break;
        conv = false;
        block = spatial;
        value = next.output[0] ?? '';
        continue;
      }
      if (block > 1 && !UNARY.has(next.opType ?? '')) break;
      const mid = middleCuts(next, value, idx, p.units, conv);
      if (mid === undefined) {
        if (next.opType === 'Add' || next.opType === 'Sum') reason = 'its output feeds a residual Add: its channels stay aligned with the other branch';
        break;
      }
      if (conv && isDepthwise(next, idx, p.units)) depthwise.push(next);
      if (next.opType === 'GlobalAveragePool' || next.opType === 'GlobalMaxPool') globalPooled = true;
      middle.push(...mid);
      value = next.output[0] ?? '';
    }
    if (found === undefined) {
      skipped.push({ name: layerName(n), op, reason });
      continue;
    }
    chains.push({ producer: n, units: p.units, outCuts: p.cuts, middle, inCuts: [found], intermediates, depthwise });
  }
  // An initializer shared by two nodes cannot be sliced for one of them.
  const uses = new Map<string, number>();
  for (const n of g.node) for (const i of n.input) uses.set(i, (uses.get(i) ?? 0) + 1);
  return {
    chains: chains.filter((c) => {
      const shared = [...c.outCuts, ...c.middle, ...c.inCuts].some((cut) => (uses.get(cut.name) ?? 0) > 1);
      if (shared) skipped.push({ name: layerName(c.producer), op: c.producer.opType ?? '', reason: 'a weight is shared with another node' });
      return !shared;
    }),
    skipped,
  };
}

/** Squared L2 norm of every unit (`block` consecutive slices) along `axis`. */
function sliceNorms(data: Float32Array, dims: number[], axis: number, block = 1): Float64Array {
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis] as number;
  const out = new Float64Array(size / block);
  for (let i = 0; i < data.length; i++) {
    const u = Math.floor((Math.floor(i / inner) % size) / block);
    out[u] = (out[u] as number) + (data[i] as number) ** 2;
  }
  return out;
}

function keepSlices(data: Float32Array, dims: number[], axis: number, keep: number[]): { data: Float32Array; dims: number[] } {
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis] as number;
  const outer = data.length / (inner * size);
  const out = new Float32Array(outer * keep.length * inner);
  let o = 0;
  for (let a = 0; a < outer; a++)
    for (const u of keep) {
      out.set(data.subarray((a * size + u) * inner, (a * size + u + 1) * inner), o);
      o += inner;
    }
  const newDims = [...dims];
  newDims[axis] = keep.length;
  return { data: out, dims: newDims };
}

export function pruneModel(input: OnnxModel, opts: PruneOptions): { model: OnnxModel; report: PruneReport } {
  const s = opts.sparsity;
  if (!(Number.isFinite(s) && s >= 0 && s < 1)) throw new EdgeError('EDGE_ERR_USAGE', `sparsity must be in [0, 1), got ${s}`, { details: { sparsity: s } });
  const model = cloneModel(input);
  // Weights in Constant nodes (paddle2onnx) become initializers first; every graph (If / Loop / Scan
  // bodies included) is pruned on its own weights.
  hoistConstants(model);
  const report: PruneReport = { layers: [], skipped: [] };
  for (const v of allGraphs(model)) {
    const { chains, skipped } = findChains(v.graph);
    report.skipped.push(...skipped.map((k) => (v.depth === 0 ? k : { ...k, graph: v.path })));
    pruneChains(v.graph, chains, s, report, v.depth === 0 ? undefined : v.path);
  }
  if (report.layers.length === 0) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no prunable MatMul/Gemm/Conv chain in the model', { details: { skipped: report.skipped } });
  return { model, report };
}

function pruneChains(g: GraphProto, chains: Chain[], s: number, report: PruneReport, graph: string | undefined): void {
  const byName = new Map(g.initializer.map((t, i) => [t.name ?? '', i] as const));
  const read = (name: string): { data: Float32Array; dims: number[] } => {
    const t = g.initializer[byName.get(name) as number];
    if (t === undefined) throw new EdgeError('EDGE_ERR_INTERNAL', `initializer ${name} vanished`);
    return { data: tensorToFloat32(t), dims: [...t.dims] };
  };
  const write = (name: string, v: { data: Float32Array; dims: number[] }): void => {
    g.initializer[byName.get(name) as number] = makeFloatTensor(name, v.dims, v.data);
  };
  const dropValueInfo = new Set<string>();
  for (const c of chains) {
    const keepCount = Math.max(1, Math.round(c.units * (1 - s)));
    const wOut = c.outCuts[0] as Cut;
    const wIn = c.inCuts[0] as Cut;
    const a = read(wOut.name);
    const b = read(wIn.name);
    const na = sliceNorms(a.data, a.dims, wOut.axis);
    const nb = sliceNorms(b.data, b.dims, wIn.axis, wIn.block);
    const score = Array.from(na, (v, j) => Math.sqrt(v) * Math.sqrt(nb[j] ?? 0));
    const keep = [...score.keys()]
      .sort((x, y) => (score[y] as number) - (score[x] as number) || x - y)
      .slice(0, keepCount)
      .sort((x, y) => x - y);
    for (const cut of [...c.outCuts, ...c.middle, ...c.inCuts]) {
      const v = read(cut.name);
      const block = cut.block ?? 1;
      const rows = block === 1 ? keep : keep.flatMap((u) => Array.from({ length: block }, (_, k) => u * block + k));
      write(cut.name, keepSlices(v.data, v.dims, cut.axis, rows));
    }
    for (const d of c.depthwise) d.attribute = [...d.attribute.filter((x) => x.name !== 'group'), intAttr('group', keep.length)];
    for (const v of c.intermediates) dropValueInfo.add(v);
    report.layers.push({ name: layerName(c.producer), op: qualifiedOp(c.producer), unitsBefore: c.units, unitsAfter: keep.length, ...(graph ? { graph } : {}), ...(c.depthwise.length ? { through: c.depthwise.map(layerName) } : {}) });
  }
  g.valueInfo = g.valueInfo.filter((v) => !dropValueInfo.has(v.name ?? ''));
}
