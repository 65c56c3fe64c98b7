import path from 'node:path';
import t from 'tap';
import { createEngine } from '../runtime/backend/select-engine.js';
import { readEvalSet } from '../runtime/optimize/eval-set.js';
import { argmaxRow } from '../runtime/optimize/evaluate.js';
import { inspectModel } from '../runtime/optimize/inspect.js';
import { readOnnx } from '../runtime/optimize/onnx-io.js';
import { verifyVariant } from '../runtime/repository/integrity.js';
import { findVariant, loadManifest } from '../runtime/repository/manifest.js';

const loaded = await loadManifest('models/digits/model.json');
const m = loaded.manifest;
const evalSet = await readEvalSet(path.join(loaded.dir, m.eval?.file ?? 'eval/eval.json'));
const n = evalSet.labels.length;
const engine = createEngine('auto');
t.teardown(() => engine.close());

/** Logits of every eval row through the service's engine (worker thread, graph optimization all). */
async function logitsOf(id: string): Promise<Float32Array> {
  const { path: file, bytes } = await verifyVariant(loaded, findVariant(m, id));
  await engine.load({ key: id, file, bytes, session: { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true } });
  const data = new Float32Array(n * 64);
  evalSet.inputs.forEach((row, i) => data.set(row, i * 64));
  const r = await engine.run(id, { input: { dtype: 'float32', dims: [n, 64], data } });
  await engine.unload(id);
  return r.outputs.logits?.data as Float32Array;
}

const logits = new Map<string, Float32Array>();
for (const v of m.variants) logits.set(v.id, await logitsOf(v.id));
const predictions = (id: string): number[] => evalSet.labels.map((_, i) => argmaxRow(logits.get(id) ?? [], i, 10));
const refPredictions = predictions(m.reference);

t.test('the zoo has the variants issue 4 asks for', async (t) => {
  t.same(m.variants.map((v) => v.id).sort(), ['student-fp32', 'student-int8', 'student-mixed', 'teacher-fp32', 'teacher-int8', 'teacher-mixed', 'teacher-pruned50']);
  t.equal(m.reference, 'teacher-fp32');
});

t.test('manifest figures re-measured: accuracy, agreement, params, MACs and ops of every variant equal model.json', async (t) => {
  for (const v of m.variants) {
    const p = predictions(v.id);
    const accuracy = p.filter((x, i) => x === evalSet.labels[i]).length / n;
    const agreement = p.filter((x, i) => x === refPredictions[i]).length / n;
    t.equal(accuracy, v.quality.accuracy, `${v.id} accuracy`);
    t.equal(agreement, v.quality.agreement, `${v.id} agreement`);
    t.equal(v.quality.evalCount, n, `${v.id} evalCount`);
    const { bytes } = await verifyVariant(loaded, v);
    const r = inspectModel(readOnnx(bytes), bytes.byteLength);
    t.same([r.params, r.macs, r.ops], [v.params, v.macs, v.ops], `${v.id} params, MACs, ops`);
  }
});

// Mean / max absolute logit difference vs the fp32 source on the 360 eval rows, measured with
// ORT 1.30 on x86 when the zoo was made: teacher-int8 0.030 / 0.17, teacher-mixed 0.121 / 0.57,
// teacher-pruned50 (fine-tuned, so further) 0.475 / 2.42, student-int8 0.069 / 0.35,
// student-mixed 0.324 / 1.62 (logits span about +-25). Bounds: ~1.5x the mean, ~1.7x the max.
const CLOSENESS: [string, string, number, number][] = [
  ['teacher-int8', 'teacher-fp32', 0.05, 0.3],
  ['teacher-mixed', 'teacher-fp32', 0.2, 1.0],
  ['teacher-pruned50', 'teacher-fp32', 0.7, 4.0],
  ['student-int8', 'student-fp32', 0.1, 0.6],
  ['student-mixed', 'student-fp32', 0.5, 2.8],
];

t.test('int8, mixed and pruned logits stay close to their fp32 source on the eval set', async (t) => {
  for (const [id, source, meanBound, maxBound] of CLOSENESS) {
    const a = logits.get(id) ?? new Float32Array();
    const b = logits.get(source) ?? new Float32Array();
    let sum = 0;
    let max = 0;
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs((a[i] ?? NaN) - (b[i] ?? NaN));
      sum += d;
      max = Math.max(max, d);
    }
    t.ok(sum / b.length <= meanBound, `${id}: mean |diff| ${(sum / b.length).toFixed(4)} <= ${meanBound}`);
    t.ok(max <= maxBound, `${id}: max |diff| ${max.toFixed(4)} <= ${maxBound}`);
  }
});

t.test('size, parameter and accuracy targets of issue 4 hold', async (t) => {
  const v = (id: string) => findVariant(m, id);
  const fp32 = v('teacher-fp32');
  t.ok(fp32.bytes / v('teacher-int8').bytes >= 3.5, 'int8 file >= 3.5x smaller');
  t.ok(v('teacher-int8').quality.accuracy >= 0.995 * fp32.quality.accuracy, 'int8 keeps >= 99.5% of the accuracy');
  t.ok(fp32.bytes / v('teacher-mixed').bytes >= 5, 'mixed file >= 5x smaller');
  t.ok(v('teacher-mixed').quality.accuracy >= 0.99 * fp32.quality.accuracy, 'mixed keeps >= 99% of the accuracy');
  t.ok(v('teacher-pruned50').quality.accuracy >= 0.98 * fp32.quality.accuracy, 'pruned keeps >= 98% of the accuracy');
  t.ok(fp32.params / v('teacher-pruned50').params >= 2, 'pruning half the hidden units removes over half the parameters');
  t.ok(fp32.params / v('student-fp32').params >= 4, 'student has >= 4x fewer params');
  t.ok(v('student-fp32').quality.accuracy >= 0.97 * fp32.quality.accuracy, 'student keeps >= 97% of the teacher accuracy');
  t.same(v('teacher-mixed').layerBits !== undefined && v('student-mixed').layerBits !== undefined, true, 'mixed variants record their layer bits');
});
