import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { evaluateAccuracy } from '../runtime/backend/run-once.js';
import { createEngine } from '../runtime/backend/select-engine.js';
import { readEvalSet } from '../runtime/optimize/eval-set.js';
import { argmaxRow, modelFigures } from '../runtime/optimize/evaluate.js';
import { readOnnx } from '../runtime/optimize/onnx-io.js';
import { createPreprocessor } from '../runtime/preprocess/index.js';
import { verifyVariant } from '../runtime/repository/integrity.js';
import { findVariant, loadManifest } from '../runtime/repository/manifest.js';
import { decodeRequest } from '../runtime/transport/request-codec.js';
import { DEFAULT_LIMITS } from '../runtime/transport/types.js';

const loaded = await loadManifest('models/spam/model.json');
const m = loaded.manifest;
const evalSet = await readEvalSet(path.join(loaded.dir, m.eval?.file ?? 'eval/eval.json'));
const n = evalSet.labels.length;

t.test('the spam model has a teacher, a distilled student, int8, mixed and pruned variants', async (t) => {
  const ids = m.variants.map((v) => v.id);
  for (const id of ['teacher-fp32', 'student-fp32', 'teacher-int8', 'teacher-mixed', 'teacher-pruned50']) t.ok(ids.includes(id), id);
  t.equal(m.reference, 'teacher-fp32');
  t.equal(findVariant(m, 'student-fp32').distillation?.teacher, 'teacher-fp32');
  t.equal(m.preprocess?.input, 'input_ids');
});

t.test('manifest figures re-measured: accuracy, agreement, bytes, sha256, params, MACs and ops of every variant', async (t) => {
  let ref: number[] | undefined;
  for (const id of [m.reference, ...m.variants.map((v) => v.id).filter((id) => id !== m.reference)]) {
    const v = findVariant(m, id);
    const { bytes } = await verifyVariant(loaded, v);
    const fig = modelFigures(bytes, readOnnx(bytes));
    t.same([fig.bytes, fig.sha256, fig.params, fig.ops], [v.bytes, v.sha256, v.params, v.ops], `${id} bytes, sha256, params, ops`);
    // inspect cannot follow shapes through Gather/Reshape/Split here; the recipe counts MACs from the weight shapes.
    if (fig.macsUnknown.length === 0) t.equal(fig.macs, v.macs, `${id} MACs`);
    const { predictions, accuracy } = await evaluateAccuracy(bytes, evalSet);
    ref ??= predictions;
    const agreement = predictions.filter((p, i) => p === ref?.[i]).length / n;
    t.equal(accuracy, v.quality.accuracy, `${id} accuracy`);
    t.equal(agreement, v.quality.agreement, `${id} agreement`);
    t.equal(v.quality.evalCount, n);
  }
});

t.test("MACs in the manifest are the recipe's architecture count", async (t) => {
  const metrics = JSON.parse(await readFile(path.join(loaded.dir, 'recipe', 'metrics.json'), 'utf8')) as { teacher: { macs: number }; student: { macs: number } };
  t.equal(findVariant(m, 'teacher-fp32').macs, metrics.teacher.macs);
  t.equal(findVariant(m, 'teacher-int8').macs, metrics.teacher.macs);
  t.equal(findVariant(m, 'student-fp32').macs, metrics.student.macs);
  t.ok(findVariant(m, 'teacher-pruned50').macs < metrics.teacher.macs, 'pruning removes MACs');
});

t.test('raw text requests go through the declared tokenizer and the teacher classifies the samples', async (t) => {
  const preprocess = (await createPreprocessor(loaded)) ?? undefined;
  t.ok(preprocess);
  const engine = createEngine('auto');
  t.teardown(() => engine.close());
  const { path: file, bytes } = await verifyVariant(loaded, findVariant(m, 'teacher-fp32'));
  await engine.load({ key: 'spam', file, bytes, session: { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true } });
  for (const label of ['ham', 'spam']) {
    const payload = new Uint8Array(await readFile(path.join(loaded.dir, 'eval', `sample-${label}.json`)));
    const decoded = decodeRequest({ model: 'spam', payload, specs: m.inputs, limits: DEFAULT_LIMITS, preprocess });
    t.ok(decoded.ok, `sample-${label} decodes`);
    if (!decoded.ok) continue;
    const r = await engine.run('spam', decoded.request.inputs);
    const logits = r.outputs['logits'];
    t.same(logits?.dims, [1, 2]);
    t.equal(m.labels?.[argmaxRow(logits?.data ?? [], 0, 2)], label, `sample-${label} is classified ${label}`);
  }
});
