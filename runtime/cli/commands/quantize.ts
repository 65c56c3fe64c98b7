/**
 * `edge-infer quantize <in.onnx> --to int8|int4|mixed -o <out.onnx>`: writes the variant, prints the
 * size before/after, the layers quantized and skipped, and (with --eval) accuracy and top-1
 * agreement with the input model. Progress goes to stderr.
 */
import { evaluateAccuracy, runRowsBatched } from '../../backend/run-once.js';
import { EdgeError } from '../../errors.js';
import { CALIBRATION_METHODS, type ActivationRunner, type CalibrationMethod } from '../../optimize/calibrate.js';
import { readCalibrationSet, readEvalSet, type CalibrationSet, type EvalSet } from '../../optimize/eval-set.js';
import { readOnnx, writeOnnx } from '../../optimize/onnx-io.js';
import type { OnnxModel } from '../../optimize/onnx-types.js';
import type { QuantizeReport } from '../../optimize/quantize-apply.js';
import { quantizeInt4 } from '../../optimize/quantize-int4.js';
import { quantizeInt8 } from '../../optimize/quantize-int8.js';
import { quantizeMixed, type MixedReport } from '../../optimize/quantize-mixed.js';
import { quantizeStatic, type StaticReport } from '../../optimize/quantize-static.js';
import { quantizeStaticMixed, type StaticMixedReport } from '../../optimize/quantize-static-mixed.js';
import type { Command } from '../command.js';
import { checkOutputPath, readInputBytes, writeOutputFile } from '../files.js';
import { onePositional, positiveInt, str } from '../values.js';
import { formatBytes } from './inspect.js';

export async function readModelFile(file: string): Promise<{ bytes: Uint8Array; model: OnnxModel }> {
  const bytes = await readInputBytes(file);
  return { bytes, model: readOnnx(bytes) };
}

export interface EvalComparison {
  inputAccuracy: number;
  outputAccuracy: number;
  agreement: number;
  count: number;
}

/** Accuracy of both models on the eval set and the share of samples where their top-1 agree. */
export async function compareOnEval(before: Uint8Array, after: Uint8Array, evalSet: EvalSet): Promise<EvalComparison> {
  const a = await evaluateAccuracy(before, evalSet);
  const b = await evaluateAccuracy(after, evalSet);
  const same = a.predictions.filter((p, i) => p === b.predictions[i]).length;
  return { inputAccuracy: a.accuracy, outputAccuracy: b.accuracy, agreement: same / a.predictions.length, count: a.predictions.length };
}

/** The calibration runner over a set: batches of 16 samples through onnxruntime (backend/run-once). */
export function setRunner(set: CalibrationSet): ActivationRunner {
  return (bytes, outputs, visit) => runRowsBatched(bytes, set, 16, outputs, visit);
}

/** "left alone because" table lines (issue 10: nothing is skipped silently). */
export function formatLeftAlone(skipped: readonly { name: string; op: string; reason: string; graph?: string }[]): string {
  if (skipped.length === 0) return '';
  let text = `left alone (${skipped.length}):\n`;
  for (const s of skipped) text += `  ${s.name} (${s.op}${s.graph !== undefined && s.graph !== 'main' ? ` in ${s.graph}` : ''}): ${s.reason}\n`;
  return text;
}

function parseMethod(v: string | undefined): CalibrationMethod {
  if (v === undefined) return 'minmax';
  if (!(CALIBRATION_METHODS as readonly string[]).includes(v)) throw new EdgeError('EDGE_ERR_USAGE', `--calibration-method must be ${CALIBRATION_METHODS.join(', ')} (got "${v}")`);
  return v as CalibrationMethod;
}

export function formatComparison(c: EvalComparison): string {
  return `eval (${c.count} samples): accuracy ${(c.inputAccuracy * 100).toFixed(2)}% -> ${(c.outputAccuracy * 100).toFixed(2)}%, top-1 agreement with the input model ${(c.agreement * 100).toFixed(2)}%\n`;
}

/** "0.5%" -> 0.005, "0.005" -> 0.005. Throws EDGE_ERR_USAGE. */
export function parseDrop(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === '' || v.trim() === '%') throw new EdgeError('EDGE_ERR_USAGE', `--max-drop must be like 0.5% or 0.005 (got "${v}")`);
  const pct = v.trim().endsWith('%');
  const n = Number(pct ? v.trim().slice(0, -1) : v);
  const drop = pct ? n / 100 : n;
  if (!Number.isFinite(drop) || drop < 0 || drop >= 1) throw new EdgeError('EDGE_ERR_USAGE', `--max-drop must be like 0.5% or 0.005 (got "${v}")`);
  return drop;
}

export const command: Command = {
  name: 'quantize',
  summary: 'make an int8, int4 (MatMulNBits) or mixed-bit variant of an ONNX model',
  usage: '<in.onnx> --to int8|int4|mixed -o <out.onnx> [--calibrate <set.json|dir>] [--calibration-method minmax|percentile|entropy] [--percentile 99.99] [--activations uint8|int8] [--int8-stem] [--block-size 32] [--accuracy-level 4] [--max-drop 0.5%] [--eval <eval.json|dir>] [--full-range] [--json]',
  examples: ['edge-infer quantize model.onnx --to int8 -o model-int8.onnx --eval eval.json', 'edge-infer quantize cnn.onnx --to int8 --calibrate calib.json --calibration-method percentile -o cnn-int8.onnx', 'edge-infer quantize model.onnx --to mixed --max-drop 0.5% --eval eval.json -o model-mixed.onnx'],
  options: {
    to: { type: 'string', help: 'int8 | int4 | mixed (required)' },
    output: { type: 'string', short: 'o', help: 'output .onnx file (required)' },
    'block-size': { type: 'string', help: 'int4 weights per block along K, power of two 16..256 (default 32)' },
    'accuracy-level': { type: 'string', help: 'MatMulNBits accuracy_level 0..4 (default 4: int8 compute)' },
    'max-drop': { type: 'string', help: 'mixed: largest accepted accuracy drop, e.g. 0.5% (default 0.5%)' },
    eval: { type: 'string', help: 'labelled eval set {"inputs","labels"} (file or folder with eval.json): mixed measures sensitivity on it; all print accuracy and agreement' },
    calibrate: { type: 'string', help: 'int8 / mixed: static QDQ int8 (Conv, ConvTranspose, MatMul, Gemm, BN folded) with activation ranges measured on this set {"inputs"[, "labels", "shape"]}; without it int8 is dynamic (MatMul / Gemm / LSTM)' },
    'calibration-method': { type: 'string', help: 'minmax | percentile | entropy (default minmax)' },
    'int8-stem': { type: 'boolean', help: 'static int8: quantize the stem Conv over the model input too (default float: measured faster)' },
    activations: { type: 'string', help: 'static int8: uint8 (default, U8S8: what onnxruntime fuses fully on x86) | int8 (S8S8, ARM-native)' },
    percentile: { type: 'string', help: 'percentile method: share of values kept, in percent (default 99.99)' },
    'full-range': { type: 'boolean', help: 'int8: full 8-bit weights (exact on ARM / VNNI; saturates on x86 AVX2). Default: 7-bit range' },
  },
  async run(ctx) {
    const file = onePositional(ctx.positionals, '<in.onnx>');
    const to = str(ctx.values, 'to');
    const out = str(ctx.values, 'output');
    if (to !== 'int8' && to !== 'int4' && to !== 'mixed') throw new EdgeError('EDGE_ERR_USAGE', `--to must be int8, int4 or mixed (got ${to ?? 'nothing'})`);
    if (out === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'missing -o <out.onnx>');
    // Checked whatever --to is: a bad value is a mistake even where it would not be used (issue 13 probes).
    const blockSize = positiveInt(ctx.values, 'block-size', 32);
    if (blockSize < 16 || blockSize > 256 || (blockSize & (blockSize - 1)) !== 0) throw new EdgeError('EDGE_ERR_USAGE', `--block-size must be a power of two from 16 to 256 (got ${blockSize})`);
    const al = str(ctx.values, 'accuracy-level');
    const accuracyLevel = al === undefined ? 4 : Number(al);
    if (!Number.isInteger(accuracyLevel) || accuracyLevel < 0 || accuracyLevel > 4) throw new EdgeError('EDGE_ERR_USAGE', `--accuracy-level must be 0, 1, 2, 3 or 4 (got "${al ?? ''}")`);
    const maxDrop = parseDrop(str(ctx.values, 'max-drop')) ?? 0.005;
    const evalRef = str(ctx.values, 'eval');
    await checkOutputPath(out, evalRef === undefined ? [file] : [file, evalRef]);
    const evalSet = evalRef === undefined ? undefined : await readEvalSet(evalRef);
    const { bytes, model } = await readModelFile(file);
    const progress = (m: string): void => {
      process.stderr.write(`quantize: ${m}\n`);
    };
    const calRef = str(ctx.values, 'calibrate');
    if (calRef !== undefined && to === 'int4') throw new EdgeError('EDGE_ERR_USAGE', '--calibrate goes with --to int8 or --to mixed');
    if (calRef !== undefined && to === 'mixed' && evalSet === undefined) throw new EdgeError('EDGE_ERR_USAGE', "--to mixed --calibrate needs --eval <set> to measure each layer's sensitivity");
    const calSet = calRef === undefined ? undefined : await readCalibrationSet(calRef);
    const method = parseMethod(str(ctx.values, 'calibration-method'));
    const pct = str(ctx.values, 'percentile');
    let result: { model: OnnxModel; report: QuantizeReport | MixedReport | StaticReport };
    const acts = str(ctx.values, 'activations') ?? 'uint8';
    if (acts !== 'uint8' && acts !== 'int8') throw new EdgeError('EDGE_ERR_USAGE', `--activations must be uint8 or int8 (got "${acts}")`);
    const staticOpts = calSet === undefined ? undefined : ({ runner: setRunner(calSet), method, activations: acts, int8Stem: ctx.values['int8-stem'] === true, reduceRange: ctx.values['full-range'] !== true, ...(pct !== undefined ? { percentile: Number(pct) } : {}) } as const);
    if (staticOpts !== undefined && calSet !== undefined) progress(`static int8 (QDQ, ${acts === 'uint8' ? 'U8S8' : 'S8S8'}, per-channel int8 weights), ${method} calibration on ${calSet.inputs.length} samples`);
    if (to === 'int8' && staticOpts !== undefined) {
      result = await quantizeStatic(model, staticOpts);
    } else if (to === 'mixed' && staticOpts !== undefined && evalSet !== undefined) {
      const evaluate = async (b: Uint8Array): Promise<number> => (await evaluateAccuracy(b, evalSet)).accuracy;
      result = await quantizeStaticMixed(model, { ...staticOpts, evaluate, maxDrop, onProgress: progress });
    } else if (to === 'int8') {
      progress('dynamic int8 (no --calibrate): MatMul / Gemm weights int8, activations quantized at run time');
      result = quantizeInt8(model, { reduceRange: ctx.values['full-range'] !== true });
    } else if (to === 'int4') result = quantizeInt4(model, { blockSize, accuracyLevel });
    else {
      const evaluate = evalSet === undefined ? undefined : async (b: Uint8Array): Promise<number> => (await evaluateAccuracy(b, evalSet)).accuracy;
      result = await quantizeMixed(model, { blockSize, accuracyLevel, maxDrop, onProgress: progress, ...(evaluate ? { evaluate } : {}) });
    }
    const written = writeOnnx(result.model);
    await writeOutputFile(out, written);
    const comparison = evalSet === undefined ? undefined : await compareOnEval(bytes, written, evalSet);
    if (ctx.json) {
      ctx.out(JSON.stringify({ input: file, output: out, to, path: 'path' in result.report ? 'static' : to === 'int8' ? 'dynamic' : to, bytesBefore: bytes.byteLength, bytesAfter: written.byteLength, ...result.report, ...(comparison ? { eval: comparison } : {}) }, null, 2) + '\n');
      return 0;
    }
    const r = result.report;
    let text = `${file} -> ${out} (${to}): ${formatBytes(bytes.byteLength)} -> ${formatBytes(written.byteLength)} (${(bytes.byteLength / written.byteLength).toFixed(2)}x smaller)\n`;
    if ('path' in r) {
      text += `path: static int8 QDQ (${r.method} calibration), ${r.foldedBatchNorms} BatchNormalization folded, ${r.fusedActivations} Relu/Clip fused, Constant nodes hoisted ${r.hoisted.constants}\n`;
      for (const q of r.quantized) text += `  quantized ${q.name} (${q.op}${q.graph !== 'main' ? ` in ${q.graph}` : ''}): weights ${q.weights}, activations ${q.activations}\n`;
      const ops = Object.entries(r.quantizedOps)
        .map(([op, n]) => `${op} x${n}`)
        .join(', ');
      if (ops !== '') text += `  kept int8 between layers: ${ops}\n`;
    } else {
      if (to === 'int8') text += 'path: dynamic int8 (no --calibrate)\n';
      for (const q of r.quantized) text += `  quantized ${q.name} (${q.op} ${q.K}x${q.N}${q.graph !== undefined ? ` in ${q.graph}` : ''}) to ${q.bits} bits\n`;
    }
    text += formatLeftAlone(r.skipped);
    if ('layerBits' in r) text += `layer bits (${r.method}): ${JSON.stringify(r.layerBits)}\n`;
    if ('mixed' in r) {
      const m = (r as StaticMixedReport).mixed;
      text += `mixed (${m.method}, ${m.evaluations} evaluations): accuracy ${(m.baselineAccuracy * 100).toFixed(2)}% -> ${(m.finalAccuracy * 100).toFixed(2)}%; float layers: ${
        Object.entries(m.layerBits)
          .filter(([, b]) => b === 32)
          .map(([n]) => n)
          .join(', ') || 'none'
      }\n`;
    }
    if (comparison) text += formatComparison(comparison);
    ctx.out(text);
    return 0;
  },
};
