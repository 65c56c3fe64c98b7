import { readFile } from 'node:fs/promises';
import t from 'tap';
import { readOnnx, writeOnnx } from '../runtime/optimize/onnx-io.js';
import { quantizeInt8 } from '../runtime/optimize/quantize-int8.js';
import { quantizeInt4 } from '../runtime/optimize/quantize-int4.js';
import { inspectModel } from '../runtime/optimize/inspect.js';
import { argmaxRows, maxAbsDiff, runModel } from './unit/optimize/helpers.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(await readFile('models/digits/eval/eval.json', 'utf8')) as EvalSet;
const x = Float32Array.from(evalSet.inputs.flat());
const dims = [evalSet.inputs.length, 64];
const teacherBytes = new Uint8Array(await readFile('models/digits/teacher-fp32.onnx'));
const reference = await runModel(teacherBytes, x, dims);
const refTop1 = argmaxRows(reference.data, 10);

function agreement(a: number[], b: number[]): number {
  return a.filter((v, i) => v === b[i]).length / a.length;
}

// Thresholds from measured figures (digits teacher, 360 eval samples): int8 max |logit error| 0.17,
// int4 0.57, top-1 agreement 100% for both; limits leave headroom without letting a broken layout pass.
t.test('int8 digits teacher: smaller, top-1 agrees with fp32, logits close', async (t) => {
  const { model, report } = quantizeInt8(readOnnx(teacherBytes));
  const bytes = writeOnnx(model);
  t.equal(report.quantized.length, 3);
  t.ok(bytes.length * 3.5 < teacherBytes.length, `int8 ${bytes.length} B vs fp32 ${teacherBytes.length} B`);
  const out = await runModel(bytes, x, dims, { graphOptimizationLevel: 'all' });
  t.ok(agreement(argmaxRows(out.data, 10), refTop1) >= 0.99);
  t.ok(maxAbsDiff(out.data, reference.data) < 0.5);
  t.same(inspectModel(model).params, inspectModel(readOnnx(teacherBytes)).params, 'params keep counting logical weights');
});

t.test('int4 digits teacher: MatMulNBits file is smaller still and agrees with fp32', async (t) => {
  const { model, report } = quantizeInt4(readOnnx(teacherBytes), { blockSize: 32, accuracyLevel: 4 });
  const bytes = writeOnnx(model);
  t.equal(report.quantized.length, 3);
  t.ok(bytes.length * 5 < teacherBytes.length, `int4 ${bytes.length} B vs fp32 ${teacherBytes.length} B`);
  t.ok(inspectModel(model).ops.includes('com.microsoft.MatMulNBits'));
  t.ok(model.opsetImport.some((o) => o.domain === 'com.microsoft'));
  const out = await runModel(bytes, x, dims);
  t.ok(agreement(argmaxRows(out.data, 10), refTop1) >= 0.97);
  t.ok(maxAbsDiff(out.data, reference.data) < 1.5);
});

t.test('int8 on a conv model quantizes the Gemm head and lists the Conv layers as skipped', async (t) => {
  const src = new Uint8Array(await readFile('test/fixtures/models/conv-small.onnx'));
  const { model, report } = quantizeInt8(readOnnx(src));
  t.same(
    report.quantized.map((q) => q.op),
    ['Gemm'],
  );
  t.same(
    report.skipped.map((s) => s.op),
    ['Conv', 'Conv'],
  );
  const inp = new Float32Array(2 * 64).map((_, i) => (i % 7) / 7);
  const a = await runModel(src, inp, [2, 1, 8, 8]);
  const b = await runModel(writeOnnx(model), inp, [2, 1, 8, 8]);
  t.ok(maxAbsDiff(a.data, b.data) < 0.5);
});

t.test('a model with nothing to quantize gives EDGE_ERR_QUANTIZE_UNSUPPORTED', async (t) => {
  const src = new Uint8Array(await readFile('test/fixtures/models/add-one.onnx'));
  t.throws(() => quantizeInt8(readOnnx(src)), { code: 'EDGE_ERR_QUANTIZE_UNSUPPORTED' });
  t.throws(() => quantizeInt4(readOnnx(teacherBytes), { blockSize: 24 }), { code: 'EDGE_ERR_USAGE' });
});

t.test('onnxruntime fuses every int8 layer (bias included) into DynamicQuantizeMatMul at load', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const ort = (await import('onnxruntime-node')).default;
  const dir = await mkdtemp(join(tmpdir(), 'fuse-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'opt.onnx');
  const s = await ort.InferenceSession.create(writeOnnx(quantizeInt8(readOnnx(teacherBytes)).model), { graphOptimizationLevel: 'all', optimizedModelFilePath: out, logSeverityLevel: 3 });
  await s.release();
  const ops = inspectModel(readOnnx(new Uint8Array(await readFile(out)))).opCounts;
  t.same(ops, { 'com.microsoft.DynamicQuantizeMatMul': 3, Relu: 2 });
});

t.test('int4 handles K that is not a multiple of the block size (the last block is padded)', async (t) => {
  const { buildMlp, prng, randomArray } = await import('./unit/optimize/helpers.js');
  const m = buildMlp([20, 40, 6], 5);
  const x = randomArray(3 * 20, prng(9));
  const a = await runModel(writeOnnx(m), x, [3, 20]);
  for (const blockSize of [16, 32, 64]) {
    const b = await runModel(writeOnnx(quantizeInt4(m, { blockSize }).model), x, [3, 20]);
    t.ok(maxAbsDiff(a.data, b.data) < 0.25, `block ${blockSize}: max error ${maxAbsDiff(a.data, b.data)}`);
  }
});
