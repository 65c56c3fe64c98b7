import { readFile } from 'node:fs/promises';
import t from 'tap';
import { evaluateAccuracy } from '../runtime/backend/run-once.js';
import { readOnnx, writeOnnx } from '../runtime/optimize/onnx-io.js';
import { pruneModel } from '../runtime/optimize/prune.js';
import { inspectModel } from '../runtime/optimize/inspect.js';
import { makeFloatTensor, tensorToFloat32 } from '../runtime/optimize/tensor-util.js';
import type { OnnxModel } from '../runtime/optimize/onnx-types.js';
import { buildMlp, maxAbsDiff, prng, randomArray, runModel } from './unit/optimize/helpers.js';

function zeroUnits(model: OnnxModel, name: string, dims: number[], dead: (row: number, col: number) => boolean): void {
  const g = model.graph;
  const i = g.initializer.findIndex((x) => x.name === name);
  const data = tensorToFloat32(g.initializer[i] as never);
  const cols = dims.length === 2 ? (dims[1] as number) : 1;
  for (let k = 0; k < data.length; k++) if (dead(Math.floor(k / cols), k % cols)) data[k] = 0;
  g.initializer[i] = makeFloatTensor(name, dims, data);
}

t.test('pruning a network whose pruned units are provably dead keeps its outputs and shrinks the file', async (t) => {
  const model = buildMlp([8, 16, 16, 4], 11);
  // Units 8..15 of both hidden layers get zero incoming weights and zero bias: Relu(0) = 0, so they are dead.
  zeroUnits(model, 'W0', [8, 16], (_r, c) => c >= 8); // MatMul [K, N]: column = unit
  zeroUnits(model, 'b0', [16], (r) => r >= 8);
  zeroUnits(model, 'W1', [16, 16], (r) => r >= 8); // Gemm transB=1 [N, K]: row = unit
  zeroUnits(model, 'b1', [16], (r) => r >= 8);
  const before = writeOnnx(model);
  const { model: pruned, report } = pruneModel(model, { sparsity: 0.5 });
  t.same(
    report.layers.map((l) => [l.name, l.unitsBefore, l.unitsAfter]),
    [
      ['matmul0', 16, 8],
      ['gemm1', 16, 8],
    ],
  );
  t.same(
    report.skipped.map((s) => s.name),
    ['matmul2'],
    'the output layer is never pruned',
  );
  t.equal(inspectModel(pruned).params, 8 * 8 + 8 + 8 * 8 + 8 + 8 * 4 + 4);
  const after = writeOnnx(pruned);
  t.ok(after.length < before.length / 2, `${after.length} B vs ${before.length} B`);
  const x = randomArray(5 * 8, prng(2));
  const a = await runModel(before, x, [5, 8]);
  const b = await runModel(after, x, [5, 8]);
  t.same(b.dims, [5, 4]);
  t.ok(maxAbsDiff(a.data, b.data) < 1e-5);
});

t.test('pruning the digits teacher to 50% halves its hidden units, cuts params 3x and keeps accuracy reasonable', async (t) => {
  const evalSet = JSON.parse(await readFile('models/digits/eval/eval.json', 'utf8')) as { inputs: number[][]; labels: number[] };
  const src = new Uint8Array(await readFile('models/digits/teacher-fp32.onnx'));
  const { model, report } = pruneModel(readOnnx(src), { sparsity: 0.5 });
  t.same(
    report.layers.map((l) => l.unitsAfter),
    [128, 128],
  );
  t.equal(inspectModel(model).params, 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10);
  const base = (await evaluateAccuracy(src, evalSet)).accuracy;
  const acc = (await evaluateAccuracy(writeOnnx(model), evalSet)).accuracy;
  // Measured without fine-tuning: 0.978 -> 0.900. The recipe fine-tunes to recover the rest.
  t.ok(acc >= 0.85 && acc <= base, `pruned ${acc} vs fp32 ${base}`);
});

t.test('conv channels are pruned through BatchNormalization and Relu in resnet-tiny, and it still runs', async (t) => {
  const src = new Uint8Array(await readFile('test/fixtures/models/resnet-tiny.onnx'));
  const { model, report } = pruneModel(readOnnx(src), { sparsity: 0.5 });
  t.ok(report.layers.length >= 2);
  t.ok(report.layers.every((l) => l.op === 'Conv' && l.unitsAfter === l.unitsBefore / 2));
  t.ok(
    report.skipped.some((s) => s.reason.includes('more than one node')),
    'residual branches are left alone',
  );
  const out = await runModel(writeOnnx(model), new Float32Array(64).fill(0.5), [1, 1, 8, 8]);
  t.same(out.dims, [1, 10]);
  t.ok(inspectModel(model).params < inspectModel(readOnnx(src)).params);
});

t.test('conv channels are pruned through Relu and Flatten into the Gemm head; dead channels leave outputs unchanged', async (t) => {
  const model = readOnnx(new Uint8Array(await readFile('test/fixtures/models/conv-small.onnx')));
  const dead = (name: string, dims: number[], from: number): void => {
    const i = model.graph.initializer.findIndex((x) => x.name === name);
    const data = tensorToFloat32(model.graph.initializer[i] as never);
    const per = data.length / (dims[0] as number);
    data.fill(0, from * per);
    model.graph.initializer[i] = makeFloatTensor(name, dims, data);
  };
  dead('conv1.weight', [8, 1, 3, 3], 4);
  dead('conv1.bias', [8], 4);
  dead('conv2.weight', [16, 8, 3, 3], 8);
  dead('conv2.bias', [16], 8);
  const before = writeOnnx(model);
  const { model: pruned, report } = pruneModel(model, { sparsity: 0.5 });
  t.same(
    report.layers.map((l) => [l.name, l.unitsBefore, l.unitsAfter]),
    [
      ['conv1', 8, 4],
      ['conv2', 16, 8],
    ],
  );
  t.same(pruned.graph.initializer.find((x) => x.name === 'fc.weight')?.dims, [10, 8 * 64], 'the Gemm keeps 64 columns per kept channel');
  const x = randomArray(3 * 64, prng(4));
  const a = await runModel(before, x, [3, 1, 8, 8]);
  const b = await runModel(writeOnnx(pruned), x, [3, 1, 8, 8]);
  t.ok(maxAbsDiff(a.data, b.data) < 1e-5);
});

t.test('a sparsity outside [0, 1) gives EDGE_ERR_USAGE; a model without chains EDGE_ERR_QUANTIZE_UNSUPPORTED', async (t) => {
  const m = buildMlp([4, 4, 2]);
  for (const sparsity of [1, -0.1, Number.NaN, 2]) t.throws(() => pruneModel(m, { sparsity }), { code: 'EDGE_ERR_USAGE' });
  t.throws(() => pruneModel(buildMlp([4, 2]), { sparsity: 0.5 }), { code: 'EDGE_ERR_QUANTIZE_UNSUPPORTED' });
});
