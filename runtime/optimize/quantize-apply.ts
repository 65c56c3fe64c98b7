/**
 * Applies a bit width per linear layer (8 = int8 dynamic, 4 = MatMulNBits, 32 = leave in float).
 * Shared by quantizeInt8, quantizeInt4 and quantizeMixed.
 *
 * Contract: returns a new model; the input is not mutated. Throws EDGE_ERR_QUANTIZE_UNSUPPORTED
 * when no layer ends up quantized, or int8 is asked for with a default opset below 11.
 */
import { EdgeError } from '../errors.js';
import { cloneModel, defaultOpset, dropUnusedInitializers, ensureOpset, makeNode, uniqueNamer } from './graph-util.js';
import { findLinearLayers, type LinearLayer, type SkippedLayer } from './linear-layers.js';
import type { NodeProto, OnnxModel } from './onnx-types.js';
import { int4Layer, type Int4Options } from './quantize-int4.js';
import { int8Layer } from './quantize-int8.js';

export type LayerBits = 4 | 8 | 32;

export interface QuantizedLayer { name: string; op: string; K: number; N: number; bits: number }

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
}

/** The quantizable layers of a model, in graph order, and the ones that are not (with reasons). */
export function quantizableLayers(model: OnnxModel): { layers: LinearLayer[]; skipped: SkippedLayer[] } {
  return findLinearLayers(model.graph);
}

export function quantizeLayers(input: OnnxModel, bitsFor: (layer: LinearLayer, index: number, count: number) => LayerBits, opts: ApplyOptions = {}): { model: OnnxModel; report: QuantizeReport } {
  const model = cloneModel(input);
  const g = model.graph;
  const { layers, skipped } = findLinearLayers(g);
  const report: QuantizeReport = { quantized: [], skipped: [...skipped] };
  const name = uniqueNamer(g);
  const dqFor = new Map<string, { q: string; scale: string; zp: string }>();
  const sanitize = (s: string): string => s.replace(/[^A-Za-z0-9_.:/-]/g, '_');
  layers.forEach((layer, i) => {
    if (opts.only !== undefined && !opts.only.has(layer.name)) { report.skipped.push({ name: layer.name, op: layer.op, reason: 'not selected' }); return; }
    const bits = bitsFor(layer, i, layers.length);
    if (bits === 32) { report.skipped.push({ name: layer.name, op: layer.op, reason: 'kept in float by the bit plan' }); return; }
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
    report.quantized.push({ name: layer.name, op: layer.op, K: layer.K, N: layer.N, bits });
  });
  if (report.quantized.length === 0) {
    throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', 'no MatMul or Gemm with a constant float weight was quantized', { details: { skipped: report.skipped } });
  }
  dropUnusedInitializers(g);
  return { model, report };
}
