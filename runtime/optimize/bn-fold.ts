/**
 * Folds BatchNormalization (inference form) into the Conv / ConvTranspose that feeds it, in every
 * graph of the model (issue 10: paddle2onnx and other exports leave BN unfused; static int8 must
 * quantize the folded weights, or the per-channel scales would be wrong).
 *
 *   y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta
 *     = conv(x, W * k) + (b - mean) * k + beta,   k = gamma / sqrt(var + eps) per output channel
 *
 * Contract: mutates `model` (callers pass a clone). A pair is folded only when the conv's weight
 * (and bias) and BN's four parameters are constant float initializers, the conv output is read by
 * the BN alone and is not a graph output, and BN uses only its first output. Other BNs are left
 * and reported with the reason.
 */
import { attrFloat, attrInt } from './graph-util.js';
import { allGraphs, lookupInitializer, modelNamer, nodeSubgraphs, usedNames } from './graph-walk.js';
import { DataType } from './onnx-schema.js';
import type { NodeProto, OnnxModel, TensorProto } from './onnx-types.js';
import { makeFloatTensor, tensorToFloat32 } from './tensor-util.js';

export interface FoldReport {
  folded: string[];
  left: { name: string; path: string; reason: string }[];
}

function isFloatConst(t: TensorProto | undefined): t is TensorProto {
  return t !== undefined && t.dataType === DataType.FLOAT && t.dataLocation !== 1;
}

export function foldBatchNorms(model: OnnxModel): FoldReport {
  const report: FoldReport = { folded: [], left: [] };
  const name = modelNamer(model);
  for (const v of allGraphs(model)) {
    const g = v.graph;
    const outputs = new Set(g.output.map((o) => o.name ?? ''));
    const drop = new Set<NodeProto>();
    for (const bn of g.node) {
      if (bn.opType !== 'BatchNormalization' || (bn.domain ?? '') !== '') continue;
      const bnName = bn.name || (bn.output[0] ?? '');
      const left = (reason: string): void => {
        report.left.push({ name: bnName, path: v.path, reason });
      };
      const x = bn.input[0] ?? '';
      const conv = g.node.find((n) => n.output[0] === x);
      if (conv === undefined || (conv.opType !== 'Conv' && conv.opType !== 'ConvTranspose')) {
        left('not fed by a Conv / ConvTranspose');
        continue;
      }
      const readers = g.node.filter((n) => n.input.includes(x)).length;
      const subgraphReads = g.node.some((n) => nodeSubgraphs(n).some((s) => usedNames(s.graph).has(x)));
      if (readers !== 1 || subgraphReads || outputs.has(x)) {
        left('the conv output is also read elsewhere');
        continue;
      }
      const extra = bn.output.slice(1).filter((o) => o !== '');
      if (extra.some((o) => usedNames(g).has(o)) || attrInt(bn, 'training_mode', 0) !== 0) {
        left('BatchNormalization in training mode');
        continue;
      }
      const w = lookupInitializer(v.scope, conv.input[1]);
      const b = conv.input[2] ? lookupInitializer(v.scope, conv.input[2]) : undefined;
      const params = bn.input.slice(1, 5).map((i) => lookupInitializer(v.scope, i));
      if (!isFloatConst(w) || (conv.input[2] && !isFloatConst(b)) || !params.every(isFloatConst)) {
        left('weights or BN parameters are not constant float tensors');
        continue;
      }
      const [gamma, beta, mean, variance] = params.map((t) => tensorToFloat32(t as TensorProto)) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const eps = attrFloat(bn, 'epsilon', 1e-5);
      const group = attrInt(conv, 'group', 1);
      const transpose = conv.opType === 'ConvTranspose';
      const wData = tensorToFloat32(w);
      const dims = w.dims;
      // Output channels: Conv W [Cout, Cin/g, k...]; ConvTranspose W [Cin, Cout/g, k...] (channel = g_idx * Cout/g + j).
      const cout = transpose ? (dims[1] as number) * group : (dims[0] as number);
      if (gamma.length !== cout) {
        left(`BN has ${gamma.length} channels, the conv ${cout}`);
        continue;
      }
      const k = Float32Array.from(gamma, (gm, c) => gm / Math.sqrt((variance[c] as number) + eps));
      const inner = dims.slice(2).reduce((a, d) => a * d, 1);
      const out = new Float32Array(wData.length);
      if (!transpose) {
        const per = wData.length / cout;
        for (let i = 0; i < wData.length; i++) out[i] = (wData[i] as number) * (k[Math.floor(i / per)] as number);
      } else {
        const cin = dims[0] as number;
        const coutPerGroup = dims[1] as number;
        const cinPerGroup = cin / group;
        for (let i = 0; i < wData.length; i++) {
          const ci = Math.floor(i / (coutPerGroup * inner));
          const j = Math.floor(i / inner) % coutPerGroup;
          out[i] = (wData[i] as number) * (k[Math.floor(ci / cinPerGroup) * coutPerGroup + j] as number);
        }
      }
      const bias = b ? tensorToFloat32(b) : new Float32Array(cout);
      const newBias = Float32Array.from(k, (kc, c) => ((bias[c] as number) - (mean[c] as number)) * kc + (beta[c] as number));
      const wName = name(`${conv.name || 'conv'}_wf`);
      const bName = name(`${conv.name || 'conv'}_bf`);
      g.initializer.push(makeFloatTensor(wName, dims, out), makeFloatTensor(bName, [cout], newBias));
      conv.input = [conv.input[0] ?? '', wName, bName];
      conv.output = [bn.output[0] ?? ''];
      drop.add(bn);
      report.folded.push(bnName);
    }
    g.node = g.node.filter((n) => !drop.has(n));
  }
  return report;
}
