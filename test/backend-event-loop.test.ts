import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { InferenceEngine } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function responsive(t: Test, engine: InferenceEngine, n: number): Promise<void> {
  t.teardown(() => engine.close());
  await engine.load({ key: 'slow', file: join(root, 'test/fixtures/models/slow-matmul.onnx'), session: { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true } });
  const x = new Float32Array(n * n).map((_, i) => ((i % 97) - 48) / 480);

  let ticks = 0;
  let maxGapMs = 0;
  let last = performance.now();
  const interval = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  const t0 = performance.now();
  const r = await engine.run('slow', { x: { dtype: 'float32', dims: [n, n], data: x } });
  const wallMs = performance.now() - t0;
  clearInterval(interval);

  t.same(r.outputs.y?.dims, [n, n]);
  t.comment(`inference ${r.inferenceMs.toFixed(0)} ms, wall ${wallMs.toFixed(0)} ms, ${ticks} ticks, max gap ${maxGapMs.toFixed(1)} ms`);
  // Were run() on this thread, no tick could fire until it returned: one tick, gap >= inferenceMs.
  t.ok(ticks >= r.inferenceMs / 10 / 4, `the 10 ms timer fired ${ticks} times during ${r.inferenceMs.toFixed(0)} ms of inference`);
  t.ok(maxGapMs < r.inferenceMs / 4, `the longest gap between ticks (${maxGapMs.toFixed(1)} ms) is far below the inference time`);
}

t.test('timers keep firing on the main thread while a slow native inference runs', (t) => responsive(t, new NativeEngine(), 1024));
t.test('timers keep firing on the main thread while a slow WASM inference runs', (t) => responsive(t, new WasmEngine(), 640));
t.test('timers keep firing while the main thread waits for an answer through the shared-memory ring (Atomics.waitAsync, issue 16)', async (t) => {
  const engine = new NativeEngine({ ringSlotBytes: 8 * 1024 * 1024 }); // slots large enough for the 4 MB tensor
  await responsive(t, engine, 1024);
  t.same(engine.hopStats('slow'), { ringRuns: 1, postedRuns: 0, postedAnswers: 0, slowRuns: 0 }, 'the run went through the ring');
});
