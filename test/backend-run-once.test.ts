import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { evaluateAccuracy, runOnce } from '../runtime/backend/run-once.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

t.test('evaluateAccuracy scores the digits teacher on its eval set', async (t) => {
  const evalSet = JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][]; labels: number[] };
  const bytes = new Uint8Array(readFileSync(join(root, 'models/digits/teacher-fp32.onnx')));
  const { accuracy, predictions } = await evaluateAccuracy(bytes, evalSet);
  t.equal(predictions.length, evalSet.labels.length);
  t.equal(accuracy, predictions.filter((p, i) => p === evalSet.labels[i]).length / predictions.length);
  t.ok(accuracy > 0.9, `accuracy ${accuracy}`);
  await t.rejects(evaluateAccuracy(bytes, { inputs: [[1, 2], [3]], labels: [0, 1] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
});

t.test('runOnce runs a model in process and refuses bytes that are not a model', async (t) => {
  const bytes = new Uint8Array(readFileSync(join(root, 'test/fixtures/models/add-one.onnx')));
  const out = await runOnce(bytes, { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
  t.same(Array.from(out.y?.data as Float32Array), [2, 3, 4, 5]);
  await t.rejects(runOnce(new Uint8Array([9, 9, 9]), {}), { code: 'EDGE_ERR_MODEL_INVALID' });
});
