import t from 'tap';
import type { InferenceEngine, RunResult } from '../../../runtime/backend/types.js';
import { EdgeError } from '../../../runtime/errors.js';
import { ModelQueue, type Timers } from '../../../runtime/scheduler/model-queue.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

/** Fake time: the queue's clock and timers, advanced by hand. */
class FakeTime implements Timers {
  now = 0;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #id = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.#timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.#timers = this.#timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = this.#timers.filter((x) => x.at <= this.now);
    this.#timers = this.#timers.filter((x) => x.at > this.now);
    for (const x of due) x.fn();
  }
}

/** An engine whose runs finish when the test says (y = x * 2, row by row). */
class HeldEngine implements Pick<InferenceEngine, 'run'> {
  calls: { rows: number; finish: () => void; fail: (e: EdgeError) => void }[] = [];
  run(_key: string, inputs: NamedTensors): Promise<RunResult> {
    const x = inputs.x;
    if (x === undefined) return Promise.reject(new Error('no x'));
    return new Promise((resolve, reject) => {
      this.calls.push({ rows: x.dims[0] ?? 0, finish: () => resolve({ outputs: { y: { dtype: 'float32', dims: [...x.dims], data: (x.data as Float32Array).map((v) => v * 2) } }, inferenceMs: 1 }), fail: reject });
    });
  }
}

const row = (...v: number[]): NamedTensors => ({ x: { dtype: 'float32', dims: [1, v.length], data: new Float32Array(v) } });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('a full queue rejects at once with EDGE_ERR_OVERLOADED and keeps serving the rest', async (t) => {
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 2 });
  const first = q.submit(row(1), 1); // dispatched: in flight, not queued
  const queued = [q.submit(row(2), 1), q.submit(row(3), 1)];
  await t.rejects(q.submit(row(4), 1), { code: 'EDGE_ERR_OVERLOADED' });
  t.same(q.stats(), { depth: 2, inFlight: 1, accepted: 3, rejected: 1, completed: 0, failed: 0 });
  engine.calls[0]?.finish();
  t.same(Array.from((await first).outputs.y?.data as Float32Array), [2]);
  await flush();
  engine.calls[1]?.finish();
  await flush();
  engine.calls[2]?.finish();
  t.same(
    (await Promise.all(queued)).map((r) => r.outputs.y?.data[0]),
    [4, 6],
  );
  t.equal(q.stats().completed, 3);
});

t.test('at most `concurrency` runs are in flight', async (t) => {
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, concurrency: 2 });
  const all = [1, 2, 3].map((v) => q.submit(row(v), 1));
  t.equal(engine.calls.length, 2);
  engine.calls[0]?.finish();
  await all[0];
  await flush();
  t.equal(engine.calls.length, 3);
  engine.calls[1]?.finish();
  engine.calls[2]?.finish();
  await Promise.all(all);
});

t.test('queued requests are batched after maxQueueDelayMs on the injected clock and split back by rows', async (t) => {
  const time = new FakeTime();
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, clock: () => time.now, timers: time, batching: { maxBatch: 8, maxQueueDelayMs: 10, preferredBatchSizes: [] } });
  const a = q.submit(row(1, 1), 1);
  time.advance(4);
  const b = q.submit({ x: { dtype: 'float32', dims: [2, 2], data: new Float32Array([2, 2, 3, 3]) } }, 2);
  t.equal(engine.calls.length, 0, 'nothing dispatched before the delay');
  time.advance(6);
  t.same(
    engine.calls.map((c) => c.rows),
    [3],
  );
  engine.calls[0]?.finish();
  const [ra, rb] = await Promise.all([a, b]);
  t.same(Array.from(ra.outputs.y?.data as Float32Array), [2, 2]);
  t.same(rb.outputs.y?.dims, [2, 2]);
  t.same(Array.from(rb.outputs.y?.data as Float32Array), [4, 4, 6, 6]);
  t.equal(ra.queueMs, 10);
  t.equal(rb.queueMs, 6);
  t.equal(ra.batchRequests, 2);
});

t.test('a preferred batch size is dispatched as soon as it is formed', async (t) => {
  const time = new FakeTime();
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, clock: () => time.now, timers: time, batching: { maxBatch: 8, maxQueueDelayMs: 1000, preferredBatchSizes: [2] } });
  const all = [q.submit(row(1), 1), q.submit(row(2), 1)];
  t.same(
    engine.calls.map((c) => c.rows),
    [2],
  );
  engine.calls[0]?.finish();
  await Promise.all(all);
});

t.test('a failed batched run fails every request in it with the engine error', async (t) => {
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, batching: { maxBatch: 4, maxQueueDelayMs: 0, preferredBatchSizes: [] } });
  const first = q.submit(row(0), 1);
  const rest = [q.submit(row(1), 1), q.submit(row(2), 1)];
  engine.calls[0]?.finish();
  await first;
  await flush();
  t.same(
    engine.calls.map((c) => c.rows),
    [1, 2],
  );
  engine.calls[1]?.fail(new EdgeError('EDGE_ERR_WORKER_CRASHED', 'gone'));
  for (const p of rest) await t.rejects(p, { code: 'EDGE_ERR_WORKER_CRASHED' });
  t.equal(q.stats().failed, 2);
});

t.test('requests over maxBatch rows or with inconsistent rows are refused at submit', async (t) => {
  const q = new ModelQueue({ engine: new HeldEngine(), key: 'm', queueLimit: 10, batching: { maxBatch: 2, maxQueueDelayMs: 0, preferredBatchSizes: [] } });
  await t.rejects(q.submit({ x: { dtype: 'float32', dims: [3, 1], data: new Float32Array(3) } }, 3), { code: 'EDGE_ERR_TOO_LARGE' });
  await t.rejects(q.submit({ x: { dtype: 'float32', dims: [2, 1], data: new Float32Array(2) } }, 1), { code: 'EDGE_ERR_BAD_TENSOR' });
});

t.test('invalid queue settings are refused with EDGE_ERR_CONFIG_INVALID', async (t) => {
  t.throws(() => new ModelQueue({ engine: new HeldEngine(), key: 'm', queueLimit: 1, batching: { maxBatch: 4, maxQueueDelayMs: 0, preferredBatchSizes: [8] } }), { code: 'EDGE_ERR_CONFIG_INVALID' });
  t.throws(() => new ModelQueue({ engine: new HeldEngine(), key: 'm', queueLimit: 1, concurrency: 0 }), { code: 'EDGE_ERR_CONFIG_INVALID' });
});

t.test('drain refuses new work, rejects queued requests and lets in-flight ones finish', async (t) => {
  const time = new FakeTime();
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, clock: () => time.now, timers: time });
  const inFlight = q.submit(row(1), 1);
  const queued = q.submit(row(2), 1);
  const drained = q.drain(1000);
  await t.rejects(queued, { code: 'EDGE_ERR_SHUTTING_DOWN' });
  await t.rejects(q.submit(row(3), 1), { code: 'EDGE_ERR_SHUTTING_DOWN' });
  engine.calls[0]?.finish();
  t.same((await inFlight).outputs.y?.data[0], 2);
  t.same(await drained, { finished: 1, dropped: 1 });
  t.equal(engine.calls.length, 1, 'the queued request never ran');
});

t.test('drain rejects in-flight requests still running at the timeout', async (t) => {
  const time = new FakeTime();
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, clock: () => time.now, timers: time });
  const inFlight = q.submit(row(1), 1);
  const drained = q.drain(50);
  await flush();
  time.advance(50);
  await t.rejects(inFlight, { code: 'EDGE_ERR_SHUTTING_DOWN' });
  t.same(await drained, { finished: 0, dropped: 1 });
  engine.calls[0]?.finish(); // a late result is dropped, not delivered twice
  await flush();
  t.equal(q.stats().completed, 0);
});
