import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { checkEvalSet, readEvalSet } from '../../../runtime/optimize/eval-set.js';
import { SequenceState } from '../../../runtime/optimize/eval-sequence.js';
import { predictionOf } from '../../../runtime/optimize/evaluate.js';

const rows = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
  [8, 9, 10, 11],
];
const sequence = { starts: [0, 2], constants: { sr: { dtype: 'int64', dims: [], data: [16000] } }, state: [{ input: 'h', output: 'hn', dims: [2, 1] }] };

t.test("an eval set may give one sample's shape, which must hold as many numbers as a row", async (t) => {
  t.same(checkEvalSet({ inputs: rows, labels: [0, 1, 0], shape: [1, 2, 2] }).shape, [1, 2, 2]);
  t.throws(() => checkEvalSet({ inputs: rows, labels: [0, 1, 0], shape: [3, 2] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  t.throws(() => checkEvalSet({ inputs: rows, labels: [0, 1, 0], shape: [0, 4] }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
  t.throws(() => checkEvalSet({ inputs: rows, labels: [0, 1, 0], shape: 'x' }), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
});

t.test('a sequence is checked: starts from 0 and increasing inside the set, typed constants, named state', async (t) => {
  t.same(checkEvalSet({ inputs: rows, labels: [0, 1, 0], sequence }).sequence?.starts, [0, 2]);
  const bad = [
    { ...sequence, starts: [1] },
    { ...sequence, starts: [0, 0] },
    { ...sequence, starts: [0, 3] },
    { ...sequence, constants: { sr: { dtype: 'float64', dims: [], data: [1] } } },
    { ...sequence, constants: { sr: { dtype: 'int64', dims: [2], data: [1] } } },
    { ...sequence, state: [] },
    { ...sequence, state: [{ input: 'h', dims: [2] }] },
    { ...sequence, state: [{ input: 'h', output: 'hn', dims: [0] }] },
    'not an object',
  ];
  for (const s of bad) t.throws(() => checkEvalSet({ inputs: rows, labels: [0, 1, 0], sequence: s }), { code: 'EDGE_ERR_EVAL_SET_INVALID' }, JSON.stringify(s));
});

t.test('a .gz eval set is read through gzip; a corrupt one is a coded error', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'eval-set-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'eval.json.gz');
  await writeFile(good, gzipSync(JSON.stringify({ inputs: rows, labels: [0, 1, 2], shape: [4] })));
  t.same((await readEvalSet(good)).labels, [0, 1, 2]);
  const corrupt = path.join(dir, 'bad.json.gz');
  await writeFile(corrupt, Buffer.from('not gzip at all'));
  await t.rejects(readEvalSet(corrupt), { code: 'EDGE_ERR_EVAL_SET_INVALID' });
});

t.test("SequenceState feeds constants and zero state at each start and carries each run's state output to the next row", async (t) => {
  const seq = checkEvalSet({ inputs: rows, labels: [0, 1, 0], sequence }).sequence;
  if (seq === undefined) throw new Error('no sequence');
  const s = new SequenceState(seq);
  const input = { x: { dtype: 'float32' as const, dims: [1, 4], data: new Float32Array(4) } };
  const f0 = s.feeds(0, input);
  t.same(Array.from(f0.h?.data as Float32Array), [0, 0]);
  t.same(f0.sr?.dims, []);
  t.equal((f0.sr?.data as BigInt64Array)[0], 16000n);
  t.equal(f0.x, input.x);
  s.advance({ hn: { dtype: 'float32', dims: [2, 1], data: Float32Array.from([0.5, -1]) } });
  t.same(Array.from(s.feeds(1, input).h?.data as Float32Array), [0.5, -1], "row 1 gets row 0's state");
  s.advance({ hn: { dtype: 'float32', dims: [2, 1], data: Float32Array.from([2, 3]) } });
  t.same(Array.from(s.feeds(2, input).h?.data as Float32Array), [0, 0], 'row 2 starts a new recording');
  t.throws(() => s.advance({}), { code: 'EDGE_ERR_INFERENCE_FAILED' });
  t.throws(() => s.advance({ hn: { dtype: 'float32', dims: [3], data: new Float32Array(3) } }), { code: 'EDGE_ERR_INFERENCE_FAILED' });
});

t.test('a single score per row predicts 1 at or above 0.5; several columns predict their argmax', async (t) => {
  t.same(
    [0.2, 0.5, 0.9].map((_, i, a) => predictionOf(a, i, 1)),
    [0, 1, 1],
  );
  t.equal(predictionOf([0.1, 0.7, 0.2, 0.9, 0.05, 0.05], 1, 3), 0);
  t.equal(predictionOf([0.1, 0.7, 0.2, 0.9, 0.05, 0.05], 0, 3), 1);
});
