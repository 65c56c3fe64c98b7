/** `edge-infer prune <in.onnx> --sparsity 0.5 -o <out.onnx> [--eval <eval.json>]`: structured pruning (optimize/prune.ts). */
import { EdgeError } from '../../errors.js';
import { readEvalSet } from '../../optimize/eval-set.js';
import { inspectModel } from '../../optimize/inspect.js';
import { writeOnnx } from '../../optimize/onnx-io.js';
import { pruneModel } from '../../optimize/prune.js';
import type { Command } from '../command.js';
import { checkOutputPath, writeOutputFile } from '../files.js';
import { onePositional, str } from '../values.js';
import { formatBytes } from './inspect.js';
import { compareOnEval, formatComparison, formatLeftAlone, readModelFile } from './quantize.js';

export const command: Command = {
  name: 'prune',
  summary: 'remove hidden units / channels by weight norm and write a smaller dense model',
  usage: '<in.onnx> --sparsity 0.5 -o <out.onnx> [--eval <eval.json|dir>] [--json]',
  examples: ['edge-infer prune model.onnx --sparsity 0.5 -o model-pruned.onnx --eval eval.json'],
  options: { sparsity: { type: 'string', help: 'share of units to remove in each prunable layer, in [0, 1) (required)' }, output: { type: 'string', short: 'o', help: 'output .onnx file (required)' }, eval: { type: 'string', help: 'labelled eval set: print accuracy and agreement with the input model' } },
  async run(ctx) {
    const file = onePositional(ctx.positionals, '<in.onnx>');
    const s = str(ctx.values, 'sparsity');
    const out = str(ctx.values, 'output');
    if (s === undefined || s.trim() === '') throw new EdgeError('EDGE_ERR_USAGE', 'missing --sparsity <0..1>');
    if (out === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'missing -o <out.onnx>');
    const sparsity = Number(s);
    if (!(Number.isFinite(sparsity) && sparsity >= 0 && sparsity < 1)) throw new EdgeError('EDGE_ERR_USAGE', `--sparsity must be a number in [0, 1) (got "${s}")`);
    const evalRef = str(ctx.values, 'eval');
    await checkOutputPath(out, evalRef === undefined ? [file] : [file, evalRef]);
    const evalSet = evalRef === undefined ? undefined : await readEvalSet(evalRef);
    const { bytes, model } = await readModelFile(file);
    const { model: pruned, report } = pruneModel(model, { sparsity });
    const written = writeOnnx(pruned);
    await writeOutputFile(out, written);
    const paramsBefore = inspectModel(model).params;
    const paramsAfter = inspectModel(pruned).params;
    const comparison = evalSet === undefined ? undefined : await compareOnEval(bytes, written, evalSet);
    if (ctx.json) {
      ctx.out(JSON.stringify({ input: file, output: out, sparsity, bytesBefore: bytes.byteLength, bytesAfter: written.byteLength, paramsBefore, paramsAfter, ...report, ...(comparison ? { eval: comparison } : {}) }, null, 2) + '\n');
      return 0;
    }
    let text = `${file} -> ${out}: ${formatBytes(bytes.byteLength)} -> ${formatBytes(written.byteLength)}, params ${paramsBefore} -> ${paramsAfter}\n`;
    for (const l of report.layers) text += `  pruned  ${l.name} (${l.op}${l.graph ? ` in ${l.graph}` : ''}): ${l.unitsBefore} -> ${l.unitsAfter} units${l.through ? ` (with depthwise ${l.through.join(', ')})` : ''}\n`;
    text += formatLeftAlone(report.skipped);
    if (comparison) text += formatComparison(comparison);
    ctx.out(text);
    return 0;
  },
};
