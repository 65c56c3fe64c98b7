import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runInProcess } from './helpers/run-command.js';
import { command as inspect } from '../runtime/cli/commands/inspect.js';
import { command as quantize } from '../runtime/cli/commands/quantize.js';
import { command as prune } from '../runtime/cli/commands/prune.js';

const TEACHER = 'models/digits/teacher-fp32.onnx';

const run = runInProcess;

t.test('quantize --to int8 with --eval writes a smaller file and reports accuracy and agreement', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-q-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'int8.onnx');
  const r = await run(quantize, [TEACHER], { to: 'int8', output: out, eval: 'models/digits/eval' });
  const doc = JSON.parse(r.out) as { bytesAfter: number; bytesBefore: number; quantized: unknown[]; eval: { agreement: number; outputAccuracy: number } };
  t.equal(r.code, 0);
  t.equal((await stat(out)).size, doc.bytesAfter);
  t.ok(doc.bytesAfter < doc.bytesBefore / 3.5);
  t.equal(doc.quantized.length, 3);
  t.ok(doc.eval.agreement >= 0.99);
});

t.test('quantize --to mixed prints the chosen bits per layer', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-m-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await run(quantize, [TEACHER], { to: 'mixed', output: join(dir, 'm.onnx') }, false);
  t.match(r.out, /layer bits \(rule\): \{"\/0\/Gemm":8,"\/3\/Gemm":4,"\/6\/Gemm":8\}/);
});

t.test('prune and inspect agree on the pruned parameter count', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-p-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'p.onnx');
  const p = JSON.parse((await run(prune, [TEACHER], { sparsity: '0.5', output: out })).out) as { paramsAfter: number };
  const i = JSON.parse((await run(inspect, [out], {})).out) as { params: number; bytes: number };
  t.equal(i.params, p.paramsAfter);
  t.equal(i.bytes, (await readFile(out)).length);
});

t.test('bad inputs give coded errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-e-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const junk = join(dir, 'junk.onnx');
  await writeFile(junk, 'not a model at all');
  const badEval = join(dir, 'eval.json');
  await writeFile(badEval, JSON.stringify({ inputs: [[1, 2], [3]], labels: [0, 1] }));
  await t.rejects(run(inspect, [junk], {}), { code: 'EDGE_ERR_ONNX_PARSE' });
  await t.rejects(run(quantize, [TEACHER], { to: 'int3', output: join(dir, 'x.onnx') }), { code: 'EDGE_ERR_USAGE' });
  await t.rejects(run(quantize, [TEACHER], { to: 'mixed', output: join(dir, 'x.onnx'), 'max-drop': 'lots' }), { code: 'EDGE_ERR_USAGE' });
  await t.rejects(run(quantize, [TEACHER], { to: 'int8', output: join(dir, 'x.onnx'), eval: badEval }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  await t.rejects(run(quantize, ['test/fixtures/models/add-one.onnx'], { to: 'int8', output: join(dir, 'x.onnx') }), { code: 'EDGE_ERR_QUANTIZE_UNSUPPORTED' });
  await t.rejects(run(prune, [TEACHER], { sparsity: '1.5', output: join(dir, 'x.onnx') }), { code: 'EDGE_ERR_USAGE' });
});
