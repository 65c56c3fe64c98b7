import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import { runOnce } from '../runtime/backend/run-once.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import type { EdgeError } from '../runtime/errors.js';
import type { NamedTensors } from '../runtime/tensor.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): string => join(root, 'test/fixtures/models', name);
const teacher = join(root, 'models/digits/teacher-fp32.onnx');
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };
const evalSet = JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][]; labels: number[] };

function digitsBatch(n: number): NamedTensors {
  const rows = evalSet.inputs.slice(0, n);
  return { input: { dtype: 'float32', dims: [rows.length, 64], data: new Float32Array(rows.flat()) } };
}

function argmax(data: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if ((data[row * classes + c] as number) > (data[row * classes + best] as number)) best = c;
  return best;
}

t.test('add-one returns x + 1; small inputs go through shared memory, large ones are transferred', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  const info = await engine.load({ key: 'add', file: fixture('add-one.onnx'), session, warmup: { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } } });
  t.same(info.inputNames, ['x']);
  t.same(info.outputNames, ['y']);
  t.same(info.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], 'the dynamic batch dim is reported by name');
  t.type(info.warmupMs, 'number');
  const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const r = await engine.run('add', { x: { dtype: 'float32', dims: [2, 4], data: x } });
  t.same(r.outputs.y?.dims, [2, 4]);
  t.same(Array.from(r.outputs.y?.data as Float32Array), [2, 3, 4, 5, 6, 7, 8, 9]);
  t.equal(x.length, 8, 'a small input is copied into the shared-memory ring, not transferred');
  const big = new Float32Array(8192 * 4).fill(1);
  const rb = await engine.run('add', { x: { dtype: 'float32', dims: [8192, 4], data: big } });
  t.equal((rb.outputs.y?.data as Float32Array)[8191 * 4 + 3], 2);
  t.equal(big.length, 0, 'an input larger than a ring slot is transferred to the worker, not copied');
  t.same(engine.hopStats('add'), { ringRuns: 1, postedRuns: 1, postedAnswers: 0, slowRuns: 0 });
});

t.test('a model with a float32 and an int64 input runs with both dtypes', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'two', file: fixture('two-inputs.onnx'), session });
  const r = await engine.run('two', { a: { dtype: 'float32', dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }, b: { dtype: 'int64', dims: [2, 1], data: new BigInt64Array([2n, -1n]) } });
  t.same(Array.from(r.outputs.y?.data as Float32Array), [2, 4, 6, -4, -5, -6]);
});

t.test('the digits teacher answers the eval set like an in-process session and mostly right', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  const bytes = new Uint8Array(readFileSync(teacher));
  await engine.load({ key: 'digits', file: teacher, bytes, session });
  const n = evalSet.labels.length;
  const r = await engine.run('digits', digitsBatch(n));
  const raw = await runOnce(bytes, digitsBatch(n));
  const logits = r.outputs.logits?.data as Float32Array;
  t.same(Array.from(logits), Array.from(raw.logits?.data as Float32Array), 'same logits as a session on the main thread');
  let correct = 0;
  for (let i = 0; i < n; i++) if (argmax(logits, i, 10) === evalSet.labels[i]) correct++;
  t.ok(correct / n > 0.9, `accuracy ${correct}/${n}`);
});

t.test('given bytes are loaded instead of re-reading the file', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  const bytes = new Uint8Array(readFileSync(fixture('add-one.onnx')));
  await engine.load({ key: 'add', file: join(tmpdir(), 'no-such-file.onnx'), bytes, session });
  const r = await engine.run('add', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
  t.same(Array.from(r.outputs.y?.data as Float32Array), [1, 1, 1, 1]);
  t.equal(bytes.length, 144, 'the caller keeps its bytes');
});

t.test('bytes that are not an ONNX model are refused with EDGE_ERR_MODEL_INVALID', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await t.rejects(engine.load({ key: 'junk', file: 'junk.onnx', bytes: new TextEncoder().encode('this is not a protobuf model'), session }), { code: 'EDGE_ERR_MODEL_INVALID' });
  await t.rejects(engine.load({ key: 'gone', file: join(tmpdir(), 'no-such-file.onnx'), session }), { code: 'EDGE_ERR_FILE_MISSING' });
  t.notOk(engine.available('junk'));
});

t.test('a wrong input shape fails the run with EDGE_ERR_INFERENCE_FAILED and the model keeps serving', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'add', file: fixture('add-one.onnx'), session });
  await t.rejects(engine.run('add', { x: { dtype: 'float32', dims: [1, 3], data: new Float32Array(3) } }), { code: 'EDGE_ERR_INFERENCE_FAILED' });
  const r = await engine.run('add', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
  t.equal(r.outputs.y?.data[0], 1);
});

t.test('a crashed worker rejects its in-flight runs with EDGE_ERR_WORKER_CRASHED and leaves other models running', async (t) => {
  const crashes: [string, EdgeError][] = [];
  const engine = new NativeEngine({ allowTestHooks: true, onWorkerCrash: (key, err) => crashes.push([key, err]) });
  t.teardown(() => engine.close());
  await engine.load({ key: 'a', file: fixture('add-one.onnx'), session });
  await engine.load({ key: 'b', file: fixture('add-one.onnx'), session });
  engine.crashForTest('a');
  const inFlight = engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
  await t.rejects(inFlight, { code: 'EDGE_ERR_WORKER_CRASHED' });
  t.same(
    crashes.map(([k, e]) => [k, e.code]),
    [['a', 'EDGE_ERR_WORKER_CRASHED']],
  );
  t.notOk(engine.available('a'));
  await t.rejects(engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } }), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' });
  const rb = await engine.run('b', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
  t.equal(rb.outputs.y?.data[0], 1, 'the other model is unaffected');
  await engine.load({ key: 'a', file: fixture('add-one.onnx'), session });
  const ra = await engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
  t.equal(ra.outputs.y?.data[0], 1, 'the crashed model can be loaded again');
});

t.test('the test crash hook is refused unless the engine enables it', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'a', file: fixture('add-one.onnx'), session });
  t.throws(() => engine.crashForTest('a'), { code: 'EDGE_ERR_INTERNAL' });
});

t.test('unload ends the model: later runs get EDGE_ERR_MODEL_UNAVAILABLE, a loaded key is not loaded twice', async (t) => {
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'a', file: fixture('add-one.onnx'), session });
  await t.rejects(engine.load({ key: 'a', file: fixture('add-one.onnx'), session }), { code: 'EDGE_ERR_LOAD_FAILED' });
  await engine.unload('a');
  await t.rejects(engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } }), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' });
});

t.test('the second load uses the optimized-model cache and answers the same; a stale sidecar is ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edge-cache-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const optimizedModelPath = join(dir, 'teacher.opt.onnx');
  const spec: SessionSpec = { ...session, optimizedModelPath };
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  const first = await engine.load({ key: 'd', file: teacher, session: spec });
  t.equal(first.fromCache, false);
  const r1 = await engine.run('d', digitsBatch(20));
  await engine.unload('d');
  const second = await engine.load({ key: 'd', file: teacher, session: spec });
  t.equal(second.fromCache, true);
  const r2 = await engine.run('d', digitsBatch(20));
  t.same(Array.from(r2.outputs.logits?.data as Float32Array), Array.from(r1.outputs.logits?.data as Float32Array));
  await engine.unload('d');
  const sidecar = JSON.parse(readFileSync(`${optimizedModelPath}.json`, 'utf8')) as Record<string, string>;
  writeFileSync(`${optimizedModelPath}.json`, JSON.stringify({ ...sidecar, sourceSha256: '0'.repeat(64) }));
  const third = await engine.load({ key: 'd', file: teacher, session: spec });
  t.equal(third.fromCache, false, 'a sidecar for other source bytes is a miss');
});

t.test('a pre-started worker is taken by the next load, which then answers; crashes of that model are reported under its key', async (t) => {
  const crashes: string[] = [];
  const engine = new NativeEngine({ allowTestHooks: true, onWorkerCrash: (key) => crashes.push(key) });
  t.teardown(() => engine.close());
  t.notOk(engine.hasSpare);
  engine.prestart();
  t.ok(engine.hasSpare, 'a spare worker is up before any load');
  engine.prestart();
  const a = await engine.load({ key: 'a', file: fixture('add-one.onnx'), session });
  t.equal(a.prestarted, true, 'the first load used the spare');
  t.notOk(engine.hasSpare, 'the spare was consumed');
  t.ok(a.rssDeltaMB > 0, `the model's memory includes the spare worker's start-up (${a.rssDeltaMB.toFixed(1)} MB)`);
  const b = await engine.load({ key: 'b', file: fixture('add-one.onnx'), session });
  t.equal(b.prestarted, false, 'without a spare the load starts its own worker');
  const r = await engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });
  t.same(Array.from(r.outputs.y?.data as Float32Array), [2, 3, 4, 5]);
  engine.crashForTest('a');
  await t.rejects(engine.run('a', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } }), { code: /EDGE_ERR_(WORKER_CRASHED|MODEL_UNAVAILABLE)/ });
  await new Promise((r) => setTimeout(r, 100));
  t.same(crashes, ['a'], 'the crash of the worker that was the spare is reported as model "a"');
});

t.test('releaseSpare ends an unused spare and close ends one too', async (t) => {
  const engine = new NativeEngine();
  engine.prestart();
  t.ok(engine.hasSpare);
  await engine.releaseSpare();
  t.notOk(engine.hasSpare);
  const c = await engine.load({ key: 'c', file: fixture('add-one.onnx'), session });
  t.equal(c.prestarted, false);
  engine.prestart();
  await engine.close();
  t.notOk(engine.hasSpare, 'close stops the spare');
  engine.prestart();
  t.notOk(engine.hasSpare, 'a closed engine starts no spare');
});

t.test('the early worker started with the process is adopted by prestart when the boot matches, and ended when it does not', async (t) => {
  const { startEarlyWorker, takeEarlyWorker } = await import('../runtime/backend/early-worker.js');
  startEarlyWorker();
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  engine.prestart();
  t.ok(engine.hasSpare, 'the early worker became the spare');
  t.equal(takeEarlyWorker({ kind: 'native', allowTestHooks: false }), undefined, 'and is handed out only once');
  const m = await engine.load({ key: 'm', file: fixture('add-one.onnx'), session });
  t.equal(m.prestarted, true);
  const r = await engine.run('m', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([0, 1, 2, 3]) } });
  t.same(Array.from(r.outputs.y?.data as Float32Array), [1, 2, 3, 4]);
  startEarlyWorker();
  t.equal(takeEarlyWorker({ kind: 'native', allowTestHooks: true }), undefined, 'a test-hook engine does not take it (it is ended)');
  t.equal(takeEarlyWorker({ kind: 'native', allowTestHooks: false }), undefined, 'nothing is left');
});

t.test('ending the early worker right after its start keeps the process alive until it is gone', async (t) => {
  // The early worker is unref'd; ending it before it answered once used to let the process exit
  // with the top-level await unsettled (exit 13), or abort inside onnxruntime's native start.
  const early = new URL('../runtime/backend/early-worker.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(early)}); m.startEarlyWorker(); await m.discardEarlyWorker(); console.log('done');`;
  const { execFile } = await import('node:child_process');
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (_e, out) => resolve({ code: c.exitCode, out }));
  });
  t.equal(r.code, 0);
  t.equal(r.out.trim(), 'done');
});
