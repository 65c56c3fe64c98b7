/**
 * The figures `edge-infer eval` measures for one model file, and how they are derived. Pure: the
 * inference itself (predictions, latency) is measured by an injected `ModelMeasurer`, so this
 * module does no I/O and imports no onnxruntime.
 *
 * Conventions:
 * - a row's prediction is the argmax of its first output's row, except for a single score per
 *   row ([N, 1]: a binary detector such as a VAD), where it is 1 when the score is >= 0.5, else 0;
 * - accuracy = share of eval rows whose prediction equals the label; agreement = share of rows whose
 *   argmax equals the reference model's (null when there is no reference).
 * - params, macs, ops come from `inspectModel` (ops domain-qualified, e.g. "com.microsoft.MatMulNBits").
 * - layerBits is read from the graph: a MatMulNBits node counts its `bits` (default 4), a
 *   MatMulInteger / DynamicQuantizeMatMul node 8, a float MatMul/Gemm with a constant weight 32.
 *   Keys are the layer names `edge-infer quantize` prints (the source node name, i.e. the node
 *   name without the quantizer's `_MatMulNBits` / `_MatMulInteger` suffix).
 */
import { createHash } from 'node:crypto';
import { attrInt, cloneModel, qualifiedOp } from './graph-util.js';
import { allGraphs, hoistConstants, lookupInitializer } from './graph-walk.js';
import { DataType } from './onnx-schema.js';
import { inspectModel } from './inspect.js';
import type { EvalSequence } from './eval-sequence.js';
import type { NodeProto, OnnxModel } from './onnx-types.js';

/** Median latency of repeated runs at one batch size. */
export interface LatencyFigure {
  batch: number;
  runs: number;
  /** Median time inside session.run (in the worker), ms. */
  medianMs: number;
  /** Median round trip through the engine (thread hop + copy + run), ms. */
  medianRoundTripMs: number;
  /** Median session.run time per sample (medianMs / batch), ms. */
  perSampleMs: number;
}

export interface MeasureResult {
  /** Argmax of the first output for every eval row, in order. */
  predictions: number[];
  /** One figure per requested batch size (empty when no latency was asked for). */
  latency: LatencyFigure[];
}

/** How flat eval rows feed a model: one sample's shape, and a sequence's state (eval-set.ts). */
export interface EvalLayout {
  shape?: number[];
  sequence?: EvalSequence;
}

/**
 * Runs a model. Owned by the caller (who closes it). Errors: EDGE_ERR_MODEL_INVALID |
 * EDGE_ERR_LOAD_FAILED when the bytes do not load, EDGE_ERR_INFERENCE_FAILED when a run fails.
 */
export interface ModelMeasurer {
  /** Backend kind and intra-op threads, for the report. */
  readonly backend: string;
  readonly threads: number;
  measure(file: string, bytes: Uint8Array, rows: number[][], latency: { batches: number[]; runs: number }, layout?: EvalLayout): Promise<MeasureResult>;
}

export interface ModelFigures {
  bytes: number;
  sha256: string;
  params: number;
  macs: number;
  /** Layers whose MACs inspect could not determine (macs undercounts when non-empty). */
  macsUnknown: string[];
  ops: string[];
  /** Weight bits per layer when any layer is quantized; undefined for an all-float model. */
  layerBits: Record<string, number> | undefined;
}

export interface QualityFigures {
  accuracy: number;
  agreement: number | null;
  evalCount: number;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const QUANT_SUFFIX = /_(MatMulNBits|MatMulInteger|DynamicQuantizeMatMul)$/;

/**
 * Weight bits per layer read from the graph (see the module comment), in every graph (If / Loop /
 * Scan bodies too), or undefined when none is quantized. Static int8 (QDQ) layers, whose weight is a
 * DequantizeLinear of an 8-bit constant, count 8; Conv / ConvTranspose with a float weight 32.
 */
export function layerBitsOf(input: OnnxModel): Record<string, number> | undefined {
  const model = cloneModel(input);
  hoistConstants(model);
  const bits: Record<string, number> = {};
  let quantized = false;
  for (const v of allGraphs(model)) {
    const dq = new Map<string, NodeProto>();
    for (const n of v.graph.node) if (n.opType === 'DequantizeLinear' && lookupInitializer(v.scope, n.input[0]) !== undefined) dq.set(n.output[0] ?? '', n);
    for (const node of v.graph.node) {
      const op = qualifiedOp(node);
      const name = (node.name || node.output[0] || '').replace(QUANT_SUFFIX, '');
      if (op === 'com.microsoft.MatMulNBits') {
        bits[name] = attrInt(node, 'bits', 4);
        quantized = true;
      } else if (op === 'MatMulInteger' || op === 'com.microsoft.DynamicQuantizeMatMul' || op === 'com.microsoft.DynamicQuantizeLSTM') {
        bits[name] = 8;
        quantized = true;
      } else if (['MatMul', 'Gemm', 'Conv', 'ConvTranspose'].includes(op)) {
        const w = node.input[1];
        const viaDq = dq.get(w ?? '');
        const t = viaDq ? lookupInitializer(v.scope, viaDq.input[0]) : undefined;
        if (t !== undefined && (t.dataType === DataType.INT8 || t.dataType === DataType.UINT8)) {
          bits[name] = 8;
          quantized = true;
        } else if (lookupInitializer(v.scope, w) !== undefined) bits[name] = 32;
      }
    }
  }
  return quantized ? bits : undefined;
}

/** Size, hash and structure of a model file. Throws nothing beyond what inspectModel throws. */
export function modelFigures(bytes: Uint8Array, model: OnnxModel): ModelFigures {
  const r = inspectModel(model, bytes.byteLength);
  return { bytes: bytes.byteLength, sha256: sha256Hex(bytes), params: r.params, macs: r.macs, macsUnknown: r.macsUnknown, ops: r.ops, layerBits: layerBitsOf(model) };
}

/** Accuracy against `labels` and top-1 agreement with `reference` (null when absent). */
export function qualityFigures(predictions: number[], labels: number[], reference: number[] | undefined): QualityFigures {
  const n = predictions.length;
  let correct = 0;
  let same = 0;
  predictions.forEach((p, i) => {
    if (p === labels[i]) correct++;
    if (reference !== undefined && p === reference[i]) same++;
  });
  return { accuracy: correct / n, agreement: reference === undefined ? null : same / n, evalCount: n };
}

/** Median of a non-empty list (mean of the two middle values for even lengths). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** SCORE_THRESHOLD: a single score per row at or above it predicts class 1. */
export const SCORE_THRESHOLD = 0.5;

/** Prediction for row `i` of a flat [N, classes] array: argmax, or score >= 0.5 when classes is 1. */
export function predictionOf(data: ArrayLike<number | bigint>, i: number, classes: number): number {
  return classes === 1 ? (Number(data[i]) >= SCORE_THRESHOLD ? 1 : 0) : argmaxRow(data, i, classes);
}

/** Index of the largest value in row `i` of a flat [N, classes] array. */
export function argmaxRow(data: ArrayLike<number | bigint>, i: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (Number(data[i * classes + c]) > Number(data[i * classes + best])) best = c;
  return best;
}
