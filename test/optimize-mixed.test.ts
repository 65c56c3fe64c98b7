import { readFile } from 'node:fs/promises';
import t from 'tap';
import { evaluateAccuracy } from '../runtime/backend/run-once.js';
import { readOnnx, writeOnnx } from '../runtime/optimize/onnx-io.js';
import { quantizeMixed, ruleBits } from '../runtime/optimize/quantize-mixed.js';
import { inspectModel } from '../runtime/optimize/inspect.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(await readFile('models/digits/eval/eval.json', 'utf8')) as EvalSet;
const teacherBytes = new Uint8Array(await readFile('models/digits/teacher-fp32.onnx'));
const evaluate = async (bytes: Uint8Array): Promise<number> => (await evaluateAccuracy(bytes, evalSet)).accuracy;

t.test('mixed with an eval set stays within its accuracy budget, re-measured independently', async (t) => {
  const base = await evaluate(teacherBytes);
  for (const maxDrop of [0.005, 0]) {
    const { model, report } = await quantizeMixed(readOnnx(teacherBytes), { evaluate, maxDrop });
    t.equal(report.method, 'sensitivity');
    t.same(Object.keys(report.layerBits).sort(), ['/0/Gemm', '/3/Gemm', '/6/Gemm']);
    const bytes = writeOnnx(model);
    const acc = await evaluate(bytes);
    t.ok(base - acc <= maxDrop + 1e-9, `maxDrop ${maxDrop}: accuracy ${acc} vs fp32 ${base}`);
    t.equal(acc, report.finalAccuracy);
    t.ok(bytes.length < teacherBytes.length / 3.5, `${bytes.length} B`);
    t.same(
      report.quantized.map((q) => [q.name, q.bits]),
      Object.entries(report.layerBits).filter(([, b]) => b !== 32),
    );
  }
});

t.test('mixed without an eval set keeps the first and last layers at 8 bits', async (t) => {
  const { model, report } = await quantizeMixed(readOnnx(teacherBytes));
  t.equal(report.method, 'rule');
  t.same(report.layerBits, { '/0/Gemm': 8, '/3/Gemm': 4, '/6/Gemm': 8 });
  const ops = inspectModel(model).ops;
  t.ok(ops.includes('com.microsoft.MatMulNBits') && ops.includes('MatMulInteger'));
  t.same(
    [...Array(16).keys()].map((i) => ruleBits(i, 16)),
    [8, 8, 4, 4, 8, 4, 4, 8, 4, 4, 8, 4, 4, 8, 8, 8],
  );
});
