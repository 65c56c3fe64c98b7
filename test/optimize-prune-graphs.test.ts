/**
 * Structured Conv pruning on synthetic graphs of real-export structures (issue 10): through
 * BatchNormalization and a depthwise Conv into the next layer, with a residual Add across the pruned
 * layer kept aligned; Constant-node weights; weights inside If branches. Results run in onnxruntime.
 */
import t from 'tap';
import ort from 'onnxruntime-node';
import { inspectModel } from '../runtime/optimize/inspect.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import { pruneModel } from '../runtime/optimize/prune.js';
import { mulberry32 } from './helpers/prng.js';
import { buildCnn, buildIfModel, buildResidualBlock } from './helpers/synthetic-graphs.js';

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    return ((await s.run(feeds))[s.outputNames[0] as string] as ort.Tensor).data as Float32Array;
  } finally {
    await s.release();
  }
}

function input(dims: number[], seed: number): ort.Tensor {
  const r = mulberry32(seed);
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r()),
    dims,
  );
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

t.test('prunes a conv through BN and a depthwise conv into the next layer; the residual Add stays aligned', async (t) => {
  const model = buildResidualBlock(true);
  const { model: pruned, report } = pruneModel(model, { sparsity: 0.5 });
  const a = report.layers.find((l) => l.name === 'conv_a');
  t.same([a?.unitsBefore, a?.unitsAfter, a?.through], [16, 8, ['conv_dw']]);
  t.match(report.skipped.find((s) => s.name === 'conv_b')?.reason ?? '', /residual Add/);
  t.match(report.skipped.find((s) => s.name === 'conv0')?.reason ?? '', /more than one node/);
  t.ok(inspectModel(pruned).params < inspectModel(model).params);
  const x = input([4, 4, 8, 8], 1);
  const err = maxDiff(await run(writeOnnx(model), { x }), await run(writeOnnx(pruned), { x }));
  t.ok(err < 0.01, `the weak half went: output moved by ${err.toExponential(2)}`);
});

t.test('prunes conv layers whose weights sit in Constant nodes (opset 11) and through global pooling into a Gemm', async (t) => {
  const model = buildCnn({ constantNodes: true, opset: 11 });
  const { model: pruned, report } = pruneModel(model, { sparsity: 0.5 });
  t.same(
    report.layers.map((l) => [l.name, l.unitsAfter]),
    [['conv3', 8]],
  );
  const y = await run(writeOnnx(pruned), { x: input([2, 1, 16, 16], 2) });
  t.equal(y.length, 20);
});

t.test('prunes inside both branches of an If', async (t) => {
  const model = buildIfModel();
  const { model: pruned, report } = pruneModel(model, { sparsity: 0.5 });
  t.same(
    report.layers.map((l) => [l.name, l.graph]),
    [
      ['then_conv', 'main/branch_if.then_branch'],
      ['else_conv', 'main/branch_if.else_branch'],
    ],
  );
  for (const flag of [true, false]) {
    const y = await run(writeOnnx(pruned), { x: input([2, 1, 8, 8], 3), flag: new ort.Tensor('bool', [flag], []) });
    t.equal(y.length, 6);
  }
});
