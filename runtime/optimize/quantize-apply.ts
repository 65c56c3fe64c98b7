/**
 * Applies a bit width per linear layer (8 = int8 dynamic, 4 = MatMulNBits, 32 = leave in float).
 * Shared by quantizeInt8, quantizeInt4 and quantizeMixed.
 *
 * Contract: returns a new model; the input is not mutated. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED
 * when no layer ends up quantized, or int8 is asked for with a default opset below 11.
 */
import { EdgeError } from '../errors.js';
import { cloneModel, defaultOpset, ensureOpset, makeNode } from './graph-util.js';
import { allGraphs, dropUnusedInitializersDeep, hoistConstants, lookupInitializer, modelNamer } from './graph-walk.js';
import { lstmQuantizable, quantizeLstm } from './quantize-lstm.js';
import { findLinearLayers, type LinearLayer, type SkippedLayer } from './linear-layers.js';
import type { NodeProto, OnnxModel } from './onnx-types.js';
import { int4Layer, type Int4Options } from './quantize-int4.js';
import { int8Layer } from './quantize-int8.js';

export type LayerBits = 4 | 8 | 32;

export interface QuantizedLayer {
  name: string;
  op: string;
  K: number;
  N: number;
  bits: number;
  /** The subgraph holding it (absent for the main graph). */
  graph?: string;
}

export interface QuantizeReport {
  quantized: QuantizedLayer[];
  /** Layers left as they were, with the reason. */
  skipped: SkippedLayer[];
}

export interface ApplyOptions extends Int4Options {
  /** Restrict to these layer names. */
  only?: ReadonlySet<string>;
  /** See QuantizeInt8Options.reduceRange (default true). */
  int8ReduceRange?: boolean;
  /** Also turn LSTM weights int8 (com.microsoft.DynamicQuantizeLSTM), as the dynamic int8 path does. */
  lstm?: boolean;
}

/** The quantizable layers of a model, in graph order, and the ones that are not (with reasons). */
export function quantizableLayers(model: OnnxModel): { layers: LinearLayer[]; skipped: SkippedLayer[] } {
  const m = cloneModel(model);
  hoistConstants(m);
  const all = allGraphs(m).map((v) => findLinearLayers(v.graph));
  return { layers: all.flatMap((a) => a.layers), skipped: all.flatMap((a) => a.skipped) };
}

export function quantizeLayers(input: OnnxModel, bitsFor: (layer: LinearLayer, index: number, count: number) => LayerBits, opts: ApplyOptions = {}): { model: OnnxModel; report: QuantizeReport } {
  const model = cloneModel(input);
  // Constant-node weights become initializers; every graph (If / Loop / Scan bodies) is walked.
  hoistConstants(model);
  const report: QuantizeReport = { quantized: [], skipped: [] };
  const name = modelNamer(model);
  const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  const visits = allGraphs(model);
  const found = visits.map((v) => ({ v, ...findLinearLayers(v.graph) }));
  const count = found.reduce((a, f) => a + f.layers.length, 0);
  let index = 0;
  for (const { v, layers, skipped } of found) {
    const g = v.graph;
    const where = (x: SkippedLayer): SkippedLayer => (v.depth === 0 ? x : { ...x, graph: v.path });
    report.skipped.push(...skipped.map(where));
    const dqFor = new Map<string, { q: string; scale: string; zp: string }>();
    for (const layer of layers) {
      const i = index++;
      if (opts.only !== undefined && !opts.only.has(layer.name)) {
        report.skipped.push(where({ name: layer.name, op: layer.op, reason: 'not selected' }));
        continue;
      }
      const bits = bitsFor(layer, i, count);
      if (bits === 32) {
        report.skipped.push(where({ name: layer.name, op: layer.op, reason: 'kept in float by the bit plan' }));
        continue;
      }
      const out = layer.node.output[0] ?? '';
      const newNodes: NodeProto[] = [];
      if (bits === 8) {
        const opset = defaultOpset(model);
        if (opset < 11) throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', `int8 needs opset >= 11 (DynamicQuantizeLinear); the model has opset ${opset}`, { details: { opset } });
        let dq = dqFor.get(layer.input);
        if (dq === undefined) {
          const base = sanitize(layer.input);
          dq = { q: name(`${base}_quantized`), scale: name(`${base}_scale`), zp: name(`${base}_zero_point`) };
          dqFor.set(layer.input, dq);
          newNodes.push(makeNode('DynamicQuantizeLinear', [layer.input], [dq.q, dq.scale, dq.zp], name(`${base}_DynamicQuantizeLinear`)));
        }
        const built = int8Layer(layer, dq, name, out, opts.int8ReduceRange === false ? 127 : 63);
        newNodes.push(...built.nodes);
        g.initializer.push(...built.inits);
      } else {
        const built = int4Layer(layer, name, out, opts);
        newNodes.push(...built.nodes);
        g.initializer.push(...built.inits);
        ensureOpset(model, 'com.microsoft', 1);
      }
      g.node.splice(g.node.indexOf(layer.node), 1, ...newNodes);
      report.quantized.push({ name: layer.name, op: layer.op, K: layer.K, N: layer.N, bits, ...(v.depth === 0 ? {} : { graph: v.path }) });
    }
    if (opts.lstm === true) {
      for (const n of [...g.node]) {
        if (n.opType !== 'LSTM' || (n.domain ?? '') !== '') continue;
        const lname = n.name || (n.output[0] ?? '');
        const why = lstmQuantizable(n, v.scope);
        if (why !== undefined) {
          report.skipped.push(where({ name: lname, op: 'LSTM', reason: why }));
          continue;
        }
        quantizeLstm(g, n, v.scope, opts.int8ReduceRange === false ? 127 : 63, name);
        ensureOpset(model, 'com.microsoft', 1);
        const w = lookupInitializer(v.scope, n.input[1]);
        report.quantized.push({ name: lname, op: 'LSTM', K: w?.dims[2] ?? 0, N: w?.dims[1] ?? 0, bits: 8, ...(v.depth === 0 ? {} : { graph: v.path }) });
      }
    }
  }
  if (report.quantized.length === 0) {
    throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no MatMul or Gemm with a constant float weight was quantized', { details: { skipped: report.skipped } });
  }
  dropUnusedInitializersDeep(model);
  return { model, report };
}
