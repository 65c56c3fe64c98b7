/**
 * Static int8 (QDQ) on synthetic graphs of each real-export structure (issue 10): unfused
 * BatchNormalization, depthwise Conv, residual Add, Constant-node weights, old opsets, weights
 * inside If branches, an LSTM. Each result runs in onnxruntime with outputs close to the original.
 */
import t from 'tap';
import { runRowsBatched } from '../runtime/backend/run-once.js';
import type { ActivationRunner } from '../runtime/optimize/calibrate.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import { quantizeStatic } from '../runtime/optimize/quantize-static.js';
import { inspectModel } from '../runtime/optimize/inspect.js';
import { buildCnn, buildIfModel, buildLstmModel } from './helpers/synthetic-graphs.js';
import { mulberry32 } from './helpers/prng.js';
import ort from 'onnxruntime-node';

function samples(n: number, width: number, seed: number): number[][] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Array.from({ length: width }, () => r()));
}

function runner(rows: number[][], shape: number[]): ActivationRunner {
  return (bytes, outputs, visit) => runRowsBatched(bytes, { inputs: rows, shape }, 16, outputs, visit);
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const out = await s.run(feeds);
    return (out[s.outputNames[0] as string] as ort.Tensor).data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Largest |a - b| relative to the spread (max - min) of the reference outputs over the batch. */
function relError(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    lo = Math.min(lo, a[i] as number);
    hi = Math.max(hi, a[i] as number);
  }
  return err / (hi - lo);
}

const cal = samples(64, 256, 1);
const test = samples(32, 256, 2);
const x = new ort.Tensor('float32', Float32Array.from(test.flat()), [32, 1, 16, 16]);

for (const [title, opts] of [
  ['unfused BN, depthwise conv, residual Add (opset 17)', {}],
  ['Constant-node weights behind Identity (opset 11, com.microsoft Q/DQ)', { constantNodes: true, opset: 11 }],
  ['opset 9 export', { opset: 9, constantNodes: true }],
  ['opset 21 export', { opset: 21 }],
] as const) {
  t.test(`static int8 on a CNN: ${title}`, async (t) => {
    const model = buildCnn(opts);
    const fp32 = writeOnnx(model);
    const { model: q, report } = await quantizeStatic(model, { runner: runner(cal, [1, 16, 16]) });
    const int8 = writeOnnx(q);
    t.same(
      report.quantized.map((l) => l.name),
      ['conv_dw', 'conv_pw', 'conv3', 'fc'],
      'Convs (depthwise too) and the Gemm',
    );
    t.match(report.skipped.find((s) => s.name === 'conv1')?.reason ?? '', /stem Conv/, 'the 1-channel stem stays float');
    t.equal(report.foldedBatchNorms, 1);
    t.ok(report.fusedActivations >= 3, `fused ${report.fusedActivations} Relu`);
    const stem = await quantizeStatic(model, { runner: runner(cal, [1, 16, 16]), int8Stem: true });
    t.equal(stem.report.quantized.length, 5, '--int8-stem takes the stem too');
    t.ok(relError(await run(fp32, { x }), await run(writeOnnx(stem.model), { x })) < 0.08);
    t.notOk(inspectModel(q).ops.includes('BatchNormalization'), 'BN folded away');
    const a = await run(fp32, { x });
    const b = await run(int8, { x });
    const err = relError(a, b);
    t.ok(err < 0.08, `max error ${err.toFixed(4)} of the output range`);
  });
}

t.test('static int8 inside If branches: weights int8, activations float, both branches still right', async (t) => {
  const model = buildIfModel();
  const fp32 = writeOnnx(model);
  const { model: q, report } = await quantizeStatic(model, { runner: async () => undefined });
  t.equal(report.quantized.length, 4, 'Conv and MatMul of each branch');
  t.ok(report.quantized.every((l) => l.graph.includes('branch_if') && l.activations === 'float'));
  const int8 = writeOnnx(q);
  const xs = new ort.Tensor('float32', Float32Array.from(samples(4, 64, 3).flat()), [4, 1, 8, 8]);
  for (const flag of [true, false]) {
    const f = new ort.Tensor('bool', [flag], []);
    const err = relError(await run(fp32, { x: xs, flag: f }), await run(int8, { x: xs, flag: f }));
    t.ok(err < 0.03, `branch ${flag}: error ${err.toFixed(4)}`);
  }
});

t.test('LSTM weights go int8 through DynamicQuantizeLSTM and the MatMul head static int8', async (t) => {
  const model = buildLstmModel();
  const rows = samples(128, 5 * 8, 4);
  const { model: q, report } = await quantizeStatic(model, { runner: (bytes, outputs, visit) => runRowsBatched(bytes, { inputs: rows, shape: [5, 8] }, 32, outputs, visit) });
  t.same(report.quantized.map((l) => [l.op, l.weights]).sort(), [
    ['LSTM', 'int8 per-direction'],
    ['MatMul', 'int8 per-channel'],
  ]);
  t.ok(q.graph.node.some((n) => n.opType === 'DynamicQuantizeLSTM' && n.domain === 'com.microsoft'));
  const xs = new ort.Tensor('float32', Float32Array.from(samples(16, 40, 9).flat()), [16, 5, 8]);
  const err = relError(await run(writeOnnx(model), { x: xs }), await run(writeOnnx(q), { x: xs }));
  t.ok(err < 0.08, `error ${err.toFixed(4)} (unseen samples; the 16-wide head clips a little outside the calibrated range)`);
});

t.test('without calibration, int8 stays dynamic but walks If branches and LSTMs too', async (t) => {
  const { quantizeInt8 } = await import('../runtime/optimize/quantize-int8.js');
  const ifq = quantizeInt8(buildIfModel());
  t.same(
    ifq.report.quantized.map((l) => l.graph),
    ['main/branch_if.then_branch', 'main/branch_if.else_branch'],
    'the MatMul of each branch',
  );
  t.ok(ifq.report.skipped.some((s) => s.op === 'Conv' && s.graph === 'main/branch_if.then_branch' && /--calibrate/.test(s.reason)));
  const xs = new ort.Tensor('float32', Float32Array.from(samples(4, 64, 3).flat()), [4, 1, 8, 8]);
  const f = new ort.Tensor('bool', [true], []);
  const err = relError(await run(writeOnnx(buildIfModel()), { x: xs, flag: f }), await run(writeOnnx(ifq.model), { x: xs, flag: f }));
  t.ok(err < 0.05, `error ${err.toFixed(4)}`);
  const lq = quantizeInt8(buildLstmModel());
  t.same(lq.report.quantized.map((l) => l.op).sort(), ['LSTM', 'MatMul']);
});

t.test('ConvTranspose with a BatchNormalization after it: folded, per-channel int8, output close', async (t) => {
  const { buildDecoder } = await import('./helpers/synthetic-graphs.js');
  const model = buildDecoder();
  const rows = samples(64, 128, 21);
  const { model: q, report } = await quantizeStatic(model, { runner: runner(rows, [8, 4, 4]) });
  t.same(
    report.quantized.map((l) => [l.name, l.op]),
    [
      ['conv0', 'Conv'],
      ['up', 'ConvTranspose'],
      ['conv1', 'Conv'],
    ],
  );
  t.equal(report.foldedBatchNorms, 1);
  const xs = new ort.Tensor('float32', Float32Array.from(samples(8, 128, 22).flat()), [8, 8, 4, 4]);
  const err = relError(await run(writeOnnx(model), { x: xs }), await run(writeOnnx(q), { x: xs }));
  t.ok(err < 0.05, `error ${err.toFixed(4)}`);
});
