/**
 * The shared-memory hop (issue 16) on the WASM backend (the Pi Zero 2 W path): the shared runtime's
 * worker serves several models through one ring, each request naming its session; answers equal
 * those of the same engine with the ring off.
 */
import path from 'node:path';
import t from 'tap';
import type { SessionSpec } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { ROOT } from './helpers/service-process.js';

const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: false, memPattern: true };
const DIGITS = path.join(ROOT, 'models/digits/student-fp32.onnx');
const ADD_ONE = path.join(ROOT, 'test/fixtures/models/add-one.onnx');
const digitsIn = (v: number): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(64).fill(v) } });
const addOneIn = (v: number): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([v, v + 1, v + 2, v + 3]) } });
const f32 = (ts: NamedTensors, name: string): number[] => Array.from((ts[name]?.data ?? new Float32Array(0)) as Float32Array);

t.test("two WASM models answer through the shared runtime's ring as they do by postMessage", async (t) => {
  const ring = new WasmEngine({ ringMaxRunMs: Number.POSITIVE_INFINITY }); // the ring on every run, whatever the run times under load
  const post = new WasmEngine({ ringSlotBytes: 0 });
  t.teardown(() => Promise.all([ring.close(), post.close()]));
  for (const e of [ring, post]) {
    await e.load({ key: 'digits', file: DIGITS, session });
    await e.load({ key: 'add-one', file: ADD_ONE, session });
  }
  for (let i = 0; i < 10; i++) {
    // Interleaved and concurrent: each request names its own session in the slot.
    const [rd, ra, pd, pa] = await Promise.all([ring.run('digits', digitsIn(i / 10)), ring.run('add-one', addOneIn(i)), post.run('digits', digitsIn(i / 10)), post.run('add-one', addOneIn(i))]);
    t.same(f32(rd.outputs, 'logits'), f32(pd.outputs, 'logits'), `digits ${i}`);
    t.same(f32(ra.outputs, 'y'), [i + 1, i + 2, i + 3, i + 4], `add-one ${i}`);
    t.same(f32(pa.outputs, 'y'), f32(ra.outputs, 'y'));
  }
  t.same(ring.hopStats('digits'), { ringRuns: 20, postedRuns: 0, postedAnswers: 0, slowRuns: 0 }, 'one ring for the runtime, every run through it');
  t.same(post.hopStats('digits'), { ringRuns: 0, postedRuns: 20, postedAnswers: 0, slowRuns: 0 });
  await ring.unload('add-one');
  t.same(f32((await ring.run('digits', digitsIn(0.3))).outputs, 'logits').length, 10, 'an unload (a control message) got through to the waiting runtime');
});
