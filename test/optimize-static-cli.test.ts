/**
 * `edge-infer quantize --to int8 --calibrate` and `--to mixed --calibrate --eval` on a synthetic CNN
 * (issue 10): the path taken is said, the left-alone table is there, sets carry "shape", and bad
 * calibration input gets a stable code.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import ort from 'onnxruntime-node';
import { runInProcess } from './helpers/run-command.js';
import { command as quantize } from '../runtime/cli/commands/quantize.js';
import { command as inspect } from '../runtime/cli/commands/inspect.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import { mulberry32 } from './helpers/prng.js';
import { buildCnn, buildLstmModel } from './helpers/synthetic-graphs.js';

const run = runInProcess;

const dir = await mkdtemp(join(tmpdir(), 'cli-static-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const model = join(dir, 'cnn.onnx');
const bytes = writeOnnx(buildCnn());
await writeFile(model, bytes);
const r = mulberry32(9);
const rows = Array.from({ length: 48 }, () => Array.from({ length: 256 }, () => r()));
const session = await ort.InferenceSession.create(bytes);
const y = (await session.run({ x: new ort.Tensor('float32', Float32Array.from(rows.flat()), [48, 1, 16, 16]) })).y?.data as Float32Array;
await session.release();
const labels = rows.map((_, i) => {
  let b = 0;
  for (let c = 1; c < 10; c++) if ((y[i * 10 + c] as number) > (y[i * 10 + b] as number)) b = c;
  return b;
});
const cal = join(dir, 'cal.json');
const evalFile = join(dir, 'eval.json');
await writeFile(cal, JSON.stringify({ shape: [1, 16, 16], inputs: rows.slice(0, 24) }));
await writeFile(evalFile, JSON.stringify({ shape: [1, 16, 16], inputs: rows, labels }));

t.test('--to int8 --calibrate takes the static path, says so, and keeps the fp32 answers', async (t) => {
  const out = join(dir, 'int8.onnx');
  const res = await run(quantize, [model], { to: 'int8', output: out, calibrate: cal, 'calibration-method': 'percentile', eval: evalFile }, true);
  const doc = JSON.parse(res.out) as { path: string; method: string; quantized: unknown[]; skipped: unknown[]; eval: { agreement: number } };
  t.equal(res.code, 0);
  t.equal(doc.path, 'static');
  t.equal(doc.method, 'percentile');
  t.equal(doc.quantized.length, 4);
  t.equal(doc.skipped.length, 1, 'the stem conv, with its reason');
  t.ok(doc.eval.agreement >= 0.95, `agreement ${doc.eval.agreement}`);
  const text = await run(inspect, [out], {}, false);
  t.match(text.out, /conv_dw\s+Conv\s+\d+\s+\d+\s+\d+/, 'inspect sees the QDQ conv with its params and MACs');
});

t.test('--to int8 without --calibrate stays dynamic and lists the convs it left alone', async (t) => {
  const res = await run(quantize, [model], { to: 'int8', output: join(dir, 'dyn.onnx') }, false);
  t.match(res.out, /path: dynamic int8/);
  t.match(res.out, /left alone \(4\):\n {2}conv1 \(Conv\): /);
});

t.test('--to mixed --calibrate --eval reports the plan it measured', async (t) => {
  const res = await run(quantize, [model], { to: 'mixed', output: join(dir, 'mixed.onnx'), calibrate: cal, eval: evalFile, 'max-drop': '5%' }, false);
  t.match(res.out, /mixed \((all-int8-within-budget|sensitivity), \d+ evaluations\)/);
});

t.test('the LSTM is quantized with DynamicQuantizeLSTM and the report says so', async (t) => {
  const lstm = join(dir, 'lstm.onnx');
  await writeFile(lstm, writeOnnx(buildLstmModel()));
  const lcal = join(dir, 'lcal.json');
  await writeFile(lcal, JSON.stringify({ shape: [5, 8], inputs: rows.slice(0, 8).map((row) => row.slice(0, 40)) }));
  const res = await run(quantize, [lstm], { to: 'int8', output: join(dir, 'l8.onnx'), calibrate: lcal }, false);
  t.match(res.out, /quantized lstm \(LSTM\): weights int8 per-direction, activations float/);
});

t.test('a calibration set whose shape does not fit the model fails with a stable code', async (t) => {
  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ shape: [1, 8, 32], inputs: rows.slice(0, 4) }));
  await t.rejects(run(quantize, [model], { to: 'int8', output: join(dir, 'x.onnx'), calibrate: bad }, false), { code: 'EDGE_ERR_CALIBRATION_FAILED' });
  const ragged = join(dir, 'ragged.json');
  await writeFile(ragged, JSON.stringify({ shape: [1, 16, 16], inputs: [[1, 2, 3]] }));
  await t.rejects(run(quantize, [model], { to: 'int8', output: join(dir, 'x.onnx'), calibrate: ragged }, false), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  await t.rejects(run(quantize, [model], { to: 'int4', output: join(dir, 'x.onnx'), calibrate: cal }, false), { code: 'EDGE_ERR_USAGE' });
});
