import t from 'tap';
import ort from 'onnxruntime-node';
import { floatValueInfo, intsAttr, makeNode } from '../../../runtime/optimize/graph-util.js';
import { allGraphs, hoistConstants, lookupInitializer } from '../../../runtime/optimize/graph-walk.js';
import { checkCalibrationSet, checkEvalSet } from '../../../runtime/optimize/eval-set.js';
import { writeOnnx } from '../../../runtime/optimize/onnx-io.js';
import { raiseOpsetTo10 } from '../../../runtime/optimize/opset-raise.js';
import { makeFloatTensor } from '../../../runtime/optimize/tensor-util.js';
import { buildCnn, buildIfModel, wrapModel } from '../../helpers/synthetic-graphs.js';

t.test('allGraphs lists If branches with their path and an outer-scope lookup', async (t) => {
  const v = allGraphs(buildIfModel());
  t.same(
    v.map((x) => x.path),
    ['main', 'main/branch_if.then_branch', 'main/branch_if.else_branch'],
  );
  t.equal(lookupInitializer(v[1]?.scope ?? [], 'then_w')?.dims.length, 4);
  t.equal(lookupInitializer(v[1]?.scope ?? [], 'else_w'), undefined, 'a sibling branch is not in scope');
});

t.test('hoistConstants turns Constant nodes behind Identity into initializers', async (t) => {
  const m = buildCnn({ constantNodes: true, opset: 11 });
  const r = hoistConstants(m);
  t.same([r.constants, r.identities], [4, 4]);
  t.notOk(m.graph.node.some((n) => n.opType === 'Constant' || n.opType === 'Identity'));
  t.equal(m.graph.node.find((n) => n.name === 'conv1')?.input[1], 'w1_const', 'the conv reads the hoisted constant');
  t.ok(lookupInitializer([m.graph], 'w1_const'));
});

t.test('raiseOpsetTo10 rewrites Slice attributes as inputs and the model computes the same', async (t) => {
  const g = {
    name: 'slice9',
    node: [makeNode('Slice', ['x'], ['s'], 'slice', [intsAttr('starts', [1]), intsAttr('ends', [3]), intsAttr('axes', [1])]), makeNode('Relu', ['s'], ['y'], 'relu')],
    initializer: [makeFloatTensor('unused', [1], Float32Array.of(0))],
    sparseInitializer: [],
    input: [floatValueInfo('x', [2, 4])],
    output: [floatValueInfo('y', [2, 2])],
    valueInfo: [],
    quantizationAnnotation: [],
    metadataProps: [],
  };
  const m = wrapModel(g, 9);
  const x = new ort.Tensor('float32', Float32Array.of(1, -2, 3, 4, 5, 6, -7, 8), [2, 4]);
  const before = await (await ort.InferenceSession.create(writeOnnx(m))).run({ x });
  t.equal(raiseOpsetTo10(m), undefined);
  t.equal(m.opsetImport[0]?.version, 10);
  t.equal(m.graph.node[0]?.input.length, 4);
  const after = await (await ort.InferenceSession.create(writeOnnx(m))).run({ x });
  t.same(Array.from(after.y?.data as Float32Array), Array.from(before.y?.data as Float32Array));
});

t.test('sets: "shape" must hold each row, labels are optional only for calibration', async (t) => {
  t.same(checkCalibrationSet({ shape: [1, 2, 2], inputs: [[1, 2, 3, 4]] }).shape, [1, 2, 2]);
  t.throws(() => checkCalibrationSet({ shape: [3], inputs: [[1, 2, 3, 4]] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  t.throws(() => checkCalibrationSet({ shape: [0, 4], inputs: [[1, 2, 3, 4]] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  t.throws(() => checkEvalSet({ inputs: [[1, 2]] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  t.same(checkEvalSet({ inputs: [[1, 2]], labels: [0], shape: [2] }).labels, [0]);
});
