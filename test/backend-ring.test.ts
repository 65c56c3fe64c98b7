/**
 * The shared-memory hop (issue 16): runs through the ring answer exactly like runs through
 * postMessage, the ring carries small tensors and postMessage large ones (counted by the engine's
 * hopStats), and crash / unload / failure codes are the same whichever path a run took.
 * Real onnxruntime sessions on the committed model files (and two tiny graphs written here).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { DEFAULT_RING_SLOT_BYTES, RING_MAX_RUN_MS } from '../runtime/backend/worker-host.js';
import { floatValueInfo, intAttr, makeNode } from '../runtime/optimize/graph-util.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import type { ValueInfoProto } from '../runtime/optimize/onnx-types.js';
import { ModelQueue } from '../runtime/scheduler/model-queue.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { wrapModel } from './helpers/synthetic-graphs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): string => join(root, 'test/fixtures/models', name);
const digits = join(root, 'models/digits/student-int8.onnx');
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };
const evalSet = JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] };
const row = (i: number): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(evalSet.inputs[i % evalSet.inputs.length] as number[]) } });
const batch = (n: number): NamedTensors => ({ input: { dtype: 'float32', dims: [n, 64], data: new Float32Array(evalSet.inputs.slice(0, n).flat()) } });

/** The float32 values of `name` in `ts` (empty when absent). */
const f32 = (ts: NamedTensors, name: string): number[] => Array.from((ts[name]?.data ?? new Float32Array(0)) as Float32Array);

/**
 * Engines for the ring's mechanics: the ring on every run that fits, whatever the run times (on a
 * loaded machine a short model's runs can measure >= 1 ms and leave the ring: worker-host.ts).
 */
const always = { ringMaxRunMs: Number.POSITIVE_INFINITY };

const tmp = mkdtempSync(join(tmpdir(), 'edge-ring-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function int64Info(name: string, dims: number[]): ValueInfoProto {
  return { ...floatValueInfo(name, dims), type: { tensorType: { elemType: 7, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

/** y = Tile(x, r): a small request whose answer can be made larger than a slot. */
const tileModel = join(tmp, 'tile.onnx');
writeFileSync(
  tileModel,
  writeOnnx(wrapModel({ name: 'tile', node: [makeNode('Tile', ['x', 'r'], ['y'], 'tile')], initializer: [], sparseInitializer: [], input: [floatValueInfo('x', [1, 4]), int64Info('r', [2])], output: [floatValueInfo('y', ['n', 'm'])], valueInfo: [], quantizationAnnotation: [], metadataProps: [] }, 17)),
);
/** y = Cast(x, BOOL): an output dtype edge-infer does not carry. */
const boolModel = join(tmp, 'bool.onnx');
writeFileSync(
  boolModel,
  writeOnnx(
    wrapModel(
      {
        name: 'bool',
        node: [makeNode('Cast', ['x'], ['y'], 'cast', [intAttr('to', 9)])],
        initializer: [],
        sparseInitializer: [],
        input: [floatValueInfo('x', [1, 4])],
        output: [{ ...floatValueInfo('y', [1, 4]), type: { tensorType: { elemType: 9, shape: { dim: [{ dimValue: 1 }, { dimValue: 4 }] } } } }],
        valueInfo: [],
        quantizationAnnotation: [],
        metadataProps: [],
      },
      17,
    ),
  ),
);

t.test('answers through the ring equal answers through postMessage (digits eval rows, a fixture with an int64 input)', async (t) => {
  const ring = new NativeEngine(always);
  const post = new NativeEngine({ ringSlotBytes: 0 });
  t.teardown(() => Promise.all([ring.close(), post.close()]));
  for (const e of [ring, post]) {
    await e.load({ key: 'digits', file: digits, session });
    await e.load({ key: 'two', file: fixture('two-inputs.onnx'), session });
  }
  for (let i = 0; i < 20; i++) {
    const [a, b] = await Promise.all([ring.run('digits', row(i)), post.run('digits', row(i))]);
    t.same(f32(a.outputs, 'logits'), f32(b.outputs, 'logits'), `digits row ${i}`);
    t.same(a.outputs.logits?.dims, b.outputs.logits?.dims);
    t.type(a.inferenceMs, 'number');
  }
  const two = (): NamedTensors => ({ a: { dtype: 'float32', dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, b: { dtype: 'int64', dims: [2, 1], data: new BigInt64Array([2n, -1n]) } });
  const [ta, tb] = await Promise.all([ring.run('two', two()), post.run('two', two())]);
  t.same(f32(ta.outputs, 'y'), [2, 4, 6, -4, -5, -6], 'an int64 input crosses the ring');
  t.same(f32(ta.outputs, 'y'), f32(tb.outputs, 'y'));
  t.same(ring.hopStats('digits'), { ringRuns: 20, postedRuns: 0, postedAnswers: 0, slowRuns: 0 }, 'every digits run took the ring');
  t.same(post.hopStats('digits'), { ringRuns: 0, postedRuns: 20, postedAnswers: 0, slowRuns: 0 }, 'with the ring off every run is posted');
  t.equal(ring.hopStats('two')?.ringRuns, 1);
});

t.test('inputs larger than a slot go by postMessage, answers larger than their slot come back by postMessage', async (t) => {
  const engine = new NativeEngine(always);
  t.teardown(() => engine.close());
  await engine.load({ key: 'digits', file: digits, session });
  await engine.load({ key: 'tile', file: tileModel, session });
  const big = batch(300); // 300 x 64 x 4 = 76.8 KB, over a default slot
  t.ok(big.input!.data.byteLength > DEFAULT_RING_SLOT_BYTES);
  const r = await engine.run('digits', big);
  t.same(r.outputs.logits?.dims, [300, 10]);
  t.equal(big.input!.data.length, 0, 'the large input was transferred, not copied');
  const small = await engine.run('digits', batch(8));
  t.same(small.outputs.logits?.dims, [8, 10]);
  t.same(engine.hopStats('digits'), { ringRuns: 1, postedRuns: 1, postedAnswers: 0, slowRuns: 0 });
  const tile = (n: number): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) }, r: { dtype: 'int64', dims: [2], data: new BigInt64Array([BigInt(n), 1n]) } });
  const huge = await engine.run('tile', tile(8192)); // 128 KB answer to a 40-byte request
  t.same(huge.outputs.y?.dims, [8192, 4]);
  t.same(Array.from((huge.outputs.y?.data as Float32Array).slice(-4)), [1, 2, 3, 4]);
  const fitting = await engine.run('tile', tile(2));
  t.same(Array.from(fitting.outputs.y?.data as Float32Array), [1, 2, 3, 4, 1, 2, 3, 4]);
  t.same(engine.hopStats('tile'), { ringRuns: 2, postedRuns: 0, postedAnswers: 1, slowRuns: 0 }, 'the 128 KB answer came back by postMessage');
});

t.test('failures keep their codes on the ring: a wrong shape, an output dtype edge-infer does not carry, a detached input', async (t) => {
  const ring = new NativeEngine(always);
  const post = new NativeEngine({ ringSlotBytes: 0 });
  t.teardown(() => Promise.all([ring.close(), post.close()]));
  for (const e of [ring, post]) {
    await e.load({ key: 'digits', file: digits, session });
    await e.load({ key: 'bool', file: boolModel, session });
    const wrong: NamedTensors = { input: { dtype: 'float32', dims: [1, 63], data: new Float32Array(63) } };
    await t.rejects(e.run('digits', wrong), { code: 'EDGE_ERR_INFERENCE_FAILED' });
    await t.rejects(e.run('bool', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([0, 1, 2, 0]) } }), { code: 'EDGE_ERR_INFERENCE_FAILED', message: /bool/ });
    const ragged: NamedTensors = { input: { dtype: 'float32', dims: [2, 64], data: new Float32Array(64) } };
    t.throws(() => e.run('digits', ragged), { code: 'EDGE_ERR_BAD_TENSOR' });
    const ok = await e.run('digits', row(0));
    t.same(ok.outputs.logits?.dims, [1, 10], 'the model keeps serving');
  }
  t.same(ring.hopStats('digits'), { ringRuns: 2, postedRuns: 0, postedAnswers: 0, slowRuns: 0 });
  t.throws(() => new NativeEngine({ ringSlotBytes: 10 }), { code: 'EDGE_ERR_CONFIG_INVALID' });
  t.throws(() => new NativeEngine({ ringMaxRunMs: -1 }), { code: 'EDGE_ERR_CONFIG_INVALID' });
  t.throws(() => new NativeEngine({ ringMaxRunMs: Number.NaN }), { code: 'EDGE_ERR_CONFIG_INVALID' });
});

t.test('many concurrent requests: none lost, each answered with its own row, through both paths', async (t) => {
  const ring = new NativeEngine(always);
  const ref = new NativeEngine({ ringSlotBytes: 0 });
  t.teardown(() => Promise.all([ring.close(), ref.close()]));
  await ring.load({ key: 'digits', file: digits, session });
  await ref.load({ key: 'digits', file: digits, session });
  const n = 200;
  const want: number[][] = [];
  for (let i = 0; i < n; i++) want.push(f32((await ref.run('digits', row(i))).outputs, 'logits'));
  const inputs = Array.from({ length: n }, (_, i) => row(i));
  const got = await Promise.all(inputs.map((x) => ring.run('digits', x)));
  let same = 0;
  got.forEach((g, i) => {
    if (JSON.stringify(f32(g.outputs, 'logits')) === JSON.stringify(want[i])) same++;
  });
  t.equal(same, n, "every answer is its own row's");
  const s = ring.hopStats('digits');
  t.equal((s?.ringRuns ?? 0) + (s?.postedRuns ?? 0), n);
  t.ok((s?.ringRuns ?? 0) >= 4 && (s?.postedRuns ?? 0) > 0, `4 slots in flight, the rest posted (${JSON.stringify(s)})`);
  // Through the scheduler (one run in flight per model) every request takes the ring.
  const q = new ModelQueue({ engine: ring, key: 'digits', queueLimit: n });
  const before = ring.hopStats('digits')?.ringRuns ?? 0;
  const queued = await Promise.all(Array.from({ length: n }, (_, i) => q.submit(row(i), 1)));
  t.equal(queued.length, n);
  t.equal((ring.hopStats('digits')?.ringRuns ?? 0) - before, n, 'one run in flight: all through the ring');
  t.equal(queued.filter((r, i) => JSON.stringify(f32(r.outputs, 'logits')) === JSON.stringify(want[i])).length, n, "each queued request got its own row's answer");
});

/** A run's outcome as its error code, or 'ok'. */
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: { code: string }) => e.code,
  );
const square = (n: number): NamedTensors => ({ x: { dtype: 'float32', dims: [n, n], data: new Float32Array(n * n).fill(0.01) } });

/**
 * On slow-matmul: a posted run (n = 512: 1 MB, over a slot; tens to hundreds of ms) keeps the
 * worker busy while four small runs (n = 16: 1 KB) wait in the ring's slots. Their outcomes, in order.
 */
function busyWithRingWaiting(engine: NativeEngine): Promise<string>[] {
  return [square(512), square(16), square(16), square(16), square(16)].map((x) => codeOf(engine.run('slow', x)));
}

t.test('a worker crashing while the main thread waits on the ring rejects every pending run with EDGE_ERR_WORKER_CRASHED', async (t) => {
  const crashes: string[] = [];
  const engine = new NativeEngine({ ...always, allowTestHooks: true, onWorkerCrash: (key, err) => crashes.push(`${key}:${err.code}`) });
  t.teardown(() => engine.close());
  await engine.load({ key: 'slow', file: fixture('slow-matmul.onnx'), session });
  // The crash message comes while four small runs wait in the ring's slots (busyWithRingWaiting).
  const runs = busyWithRingWaiting(engine);
  t.same(engine.hopStats('slow'), { ringRuns: 4, postedRuns: 1, postedAnswers: 0, slowRuns: 0 }, 'one run posted, four waiting in slots');
  engine.crashForTest('slow');
  const codes = await Promise.all(runs);
  t.ok(codes[0] === 'ok' || codes[0] === 'EDGE_ERR_WORKER_CRASHED', codes.join(' '));
  t.same(codes.slice(1), new Array(4).fill('EDGE_ERR_WORKER_CRASHED'), 'the four runs waiting in slots were rejected');
  t.same(crashes, ['slow:EDGE_ERR_WORKER_CRASHED']);
  await t.rejects(engine.run('slow', square(16)), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' });
});

t.test('unload while runs wait in the ring rejects them with EDGE_ERR_MODEL_UNAVAILABLE; a reload serves again', async (t) => {
  const engine = new NativeEngine(always);
  t.teardown(() => engine.close());
  await engine.load({ key: 'slow', file: fixture('slow-matmul.onnx'), session });
  // The unload comes while four small runs wait in their slots (a run answered before it resolves).
  const runs = busyWithRingWaiting(engine);
  t.same(engine.hopStats('slow'), { ringRuns: 4, postedRuns: 1, postedAnswers: 0, slowRuns: 0 });
  await engine.unload('slow');
  const codes = await Promise.all(runs);
  t.ok(codes[0] === 'ok' || codes[0] === 'EDGE_ERR_MODEL_UNAVAILABLE', codes.join(' '));
  t.same(codes.slice(1), new Array(4).fill('EDGE_ERR_MODEL_UNAVAILABLE'), 'the four runs waiting in slots were rejected');
  await engine.load({ key: 'slow', file: fixture('slow-matmul.onnx'), session });
  const r = await engine.run('slow', square(16));
  t.same(r.outputs.y?.dims, [16, 16]);
  t.equal(engine.hopStats('slow')?.ringRuns, 1, 'the new worker has its own ring');
});

t.test('control messages get through while the worker waits on the ring: load, unload, close', async (t) => {
  const engine = new NativeEngine(always);
  await engine.load({ key: 'a', file: digits, session });
  await engine.run('a', row(1)); // the worker is now blocked in Atomics.wait
  await new Promise((r) => setTimeout(r, 50));
  engine.prestart();
  await engine.load({ key: 'b', file: fixture('add-one.onnx'), session });
  const [ra, rb] = await Promise.all([engine.run('a', row(2)), engine.run('b', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } })]);
  t.same(ra.outputs.logits?.dims, [1, 10]);
  t.equal(rb.outputs.y?.data[0], 1);
  await engine.unload('b');
  t.notOk(engine.available('b'));
  t.same((await engine.run('a', row(3))).outputs.logits?.dims, [1, 10], 'a still serves after b was unloaded');
  const t0 = Date.now();
  await engine.close();
  t.ok(Date.now() - t0 < 5000, 'close ends workers blocked in Atomics.wait');
  t.notOk(engine.available('a'));
});

t.test('runs of a session whose recent runs took RING_MAX_RUN_MS or more go by postMessage, short ones keep the ring', async (t) => {
  const engine = new NativeEngine({ ringSlotBytes: 512 * 1024 });
  t.teardown(() => engine.close());
  await engine.load({ key: 'slow', file: fixture('slow-matmul.onnx'), session });
  await engine.load({ key: 'digits', file: digits, session });
  // n = 256: 256 KB each way (fits these slots), 12 x 256^3 multiply-adds: ~4 ms per run here.
  const times: number[] = [];
  for (let i = 0; i < 7; i++) times.push((await engine.run('slow', square(256))).inferenceMs);
  t.ok(Math.min(...times) >= RING_MAX_RUN_MS, `the runs are long (${times.map((x) => x.toFixed(1)).join(', ')} ms)`);
  t.same(engine.hopStats('slow'), { ringRuns: 4, postedRuns: 3, postedAnswers: 0, slowRuns: 3 }, 'the first four runs (too few known) took the ring, the next ones postMessage');
  for (let i = 0; i < 4; i++) await engine.run('digits', row(i));
  t.same(engine.hopStats('digits'), { ringRuns: 4, postedRuns: 0, postedAnswers: 0, slowRuns: 0 }, 'a short model on another worker keeps the ring');
  const everyRun = new NativeEngine({ ringSlotBytes: 512 * 1024, ringMaxRunMs: Number.POSITIVE_INFINITY });
  t.teardown(() => everyRun.close());
  await everyRun.load({ key: 'slow', file: fixture('slow-matmul.onnx'), session });
  for (let i = 0; i < 6; i++) await everyRun.run('slow', square(256));
  t.same(everyRun.hopStats('slow'), { ringRuns: 6, postedRuns: 0, postedAnswers: 0, slowRuns: 0 }, 'ringMaxRunMs Infinity keeps every run on the ring');
});
