/**
 * Raises a model's default opset from 9 to 10 (issue 10: paddle2onnx exports at opset 9, and
 * onnxruntime fuses QDQ groups into onnx-domain QLinearConv / QLinearMatMul, which exist from 10).
 *
 * Between 9 and 10 only Slice (starts / ends / axes attributes became inputs), TopK (k became an
 * input), Upsample (deprecated) and Dropout (mask type) changed. Slice and TopK are rewritten to
 * their opset-10 form with int64 constant inputs; Dropout is kept as-is (inference ignores it).
 *
 * Contract: mutates `model` (callers pass a clone); returns undefined on success, or the reason the
 * opset cannot be raised (an Upsample node, or a default opset other than 9).
 */
import { defaultOpset, ensureOpset } from './graph-util.js';
import { allGraphs, modelNamer } from './graph-walk.js';
import type { NodeProto, OnnxModel } from './onnx-types.js';
import { makeInt64Tensor } from './tensor-util.js';

export function raiseOpsetTo10(model: OnnxModel): string | undefined {
  const opset = defaultOpset(model);
  if (opset >= 10) return undefined;
  if (opset !== 9) return `opset ${opset} (only 9 is raised to 10)`;
  const visits = allGraphs(model);
  const upsample = visits.some((v) => v.graph.node.some((n) => (n.domain ?? '') === '' && n.opType === 'Upsample'));
  if (upsample) return 'opset 9 with Upsample (deprecated at 10)';
  const name = modelNamer(model);
  for (const v of visits) {
    for (const n of v.graph.node) {
      if ((n.domain ?? '') !== '') continue;
      if (n.opType === 'Slice') toInputs(n, ['starts', 'ends', 'axes'], name, v.graph.initializer);
      if (n.opType === 'TopK') {
        const k = n.attribute.find((a) => a.name === 'k')?.i ?? 1;
        const kName = name(`${n.name || 'topk'}_k`);
        v.graph.initializer.push(makeInt64Tensor(kName, [1], [k]));
        n.input = [n.input[0] ?? '', kName];
        n.attribute = n.attribute.filter((a) => a.name !== 'k');
      }
    }
  }
  ensureOpset(model, '', 10);
  return undefined;
}

function toInputs(n: NodeProto, attrs: string[], name: (b: string) => string, inits: OnnxModel['graph']['initializer']): void {
  const inputs = [n.input[0] ?? ''];
  for (const a of attrs) {
    const ints = n.attribute.find((x) => x.name === a)?.ints;
    if (ints === undefined) {
      inputs.push('');
      continue;
    }
    const t = name(`${n.name || 'slice'}_${a}`);
    inits.push(makeInt64Tensor(t, [ints.length], ints));
    inputs.push(t);
  }
  while (inputs[inputs.length - 1] === '') inputs.pop();
  n.input = inputs;
  n.attribute = n.attribute.filter((x) => !attrs.includes(x.name ?? ''));
}
