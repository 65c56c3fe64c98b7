// Recipe helper (not part of the runtime): runs ONNX files in onnxruntime-node on one thread over an
// eval.json whose rows are flat images and whose "shape" is one sample's shape ([1,28,28]); prints
// {"<file stem>": argmax[]} as JSON on stdout. Used by train.py to check that the exported graphs
// predict what torch predicted.
// Usage: node models/fashion/recipe/ort-predict.mjs <eval.json> <model.onnx>...
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import ort from 'onnxruntime-node';

const [evalFile, ...models] = process.argv.slice(2);
const { inputs, shape } = JSON.parse(readFileSync(evalFile, 'utf8'));
const n = inputs.length;
const data = Float32Array.from(inputs.flat());
const result = {};
for (const file of models) {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [n, ...shape]) });
  const logits = out[session.outputNames[0]];
  const classes = logits.dims[1];
  const preds = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits.data[i * classes + c] > logits.data[i * classes + best]) best = c;
    preds.push(best);
  }
  result[basename(file, '.onnx')] = preds;
  await session.release();
}
process.stdout.write(JSON.stringify(result) + '\n');
