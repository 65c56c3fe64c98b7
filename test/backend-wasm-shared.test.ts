/**
 * Issue 18: the shared WASM runtime (backend/wasm-engine.ts). Several models in one runtime, its
 * one-time cost reported apart from the models', what a crash of it does to every model on it,
 * and that the last unload ends it.
 */
import path from 'node:path';
import t from 'tap';
import type { EdgeError } from '../runtime/errors.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { ROOT } from './helpers/service-process.js';

const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: false, memPattern: true };
const DIGITS = path.join(ROOT, 'models/digits/student-fp32.onnx');
const ADD_ONE = path.join(ROOT, 'test/fixtures/models/add-one.onnx');
const digitsIn = (): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(64).fill(0.5) } });
const addOneIn = (): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) } });

t.test('two models share one runtime whose start is reported once, apart from the models; a refused load leaves them serving', async (t) => {
  const engine = new WasmEngine();
  t.teardown(() => engine.close());
  t.equal(engine.runtimeMB(), null, 'no runtime before the first load (lazy)');
  const a = await engine.load({ key: 'digits', file: DIGITS, session, warmup: digitsIn() });
  const rt = engine.runtimeMB();
  t.ok(rt !== null && rt > 0, `the runtime's start is measured (${rt?.toFixed(1)} MB of process RSS, whatever else the process did meanwhile included)`);
  t.ok(a.rssDeltaMB < (rt ?? 0), `the first model's own figure (${a.rssDeltaMB.toFixed(1)} MB) does not hold the runtime's`);
  await engine.load({ key: 'add-one', file: ADD_ONE, session });
  t.equal(engine.runtimeMB(), rt, 'a second model starts no second runtime');
  t.same(engine.loaded().sort(), ['add-one', 'digits']);
  const r = await engine.run('add-one', addOneIn());
  t.same([...(r.outputs['y']?.data as Float32Array)], [2, 3, 4, 5]);
  t.equal((await engine.run('digits', digitsIn())).outputs['logits']?.dims[1], 10);
  // A model the runtime refuses leaves the models already on it serving.
  await t.rejects(engine.load({ key: 'junk', file: 'junk.onnx', bytes: new Uint8Array([1, 2, 3, 4, 5]), session }), { code: 'EDGE_ERR_MODEL_INVALID' });
  t.same([...((await engine.run('add-one', addOneIn())).outputs['y']?.data as Float32Array)], [2, 3, 4, 5], 'the others keep serving after a refused load');
});

t.test('unloading one model keeps the others serving; the last unload (or releaseSpare with none) ends the runtime', async (t) => {
  const engine = new WasmEngine();
  t.teardown(() => engine.close());
  await engine.load({ key: 'digits', file: DIGITS, session });
  await engine.load({ key: 'add-one', file: ADD_ONE, session });
  await engine.unload('digits');
  await t.rejects(engine.run('digits', digitsIn()), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' });
  t.same([...((await engine.run('add-one', addOneIn())).outputs['y']?.data as Float32Array)], [2, 3, 4, 5]);
  await engine.load({ key: 'digits', file: DIGITS, session });
  t.equal((await engine.run('digits', digitsIn())).outputs['logits']?.dims[1], 10, 'the same key loads again into the same runtime');
  await engine.unload('digits');
  await engine.releaseSpare();
  t.ok(engine.runtimeMB() !== null, 'releaseSpare keeps a runtime that holds a model');
  await engine.unload('add-one');
  t.equal(engine.runtimeMB(), null, 'no runtime left holding its heap');
  engine.prestart();
  await engine.releaseSpare();
  t.equal(engine.runtimeMB(), null, 'a prestarted runtime no load came for is ended by releaseSpare');
});

t.test('a crash of the shared runtime takes every model on it down, each reported once; a new load starts a fresh runtime', async (t) => {
  const crashes: { key: string; code: string }[] = [];
  const engine = new WasmEngine({ allowTestHooks: true, onWorkerCrash: (key, err: EdgeError) => crashes.push({ key, code: err.code }) });
  t.teardown(() => engine.close());
  await engine.load({ key: 'digits', file: DIGITS, session });
  await engine.load({ key: 'add-one', file: ADD_ONE, session });
  engine.crashForTest('add-one');
  while (crashes.length < 2) await new Promise((r) => setTimeout(r, 10));
  t.same(crashes.map((c) => c.key).sort(), ['add-one', 'digits']);
  t.ok(crashes.every((c) => c.code === 'EDGE_ERR_WORKER_CRASHED'));
  await t.rejects(engine.run('add-one', addOneIn()), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' });
  t.same(engine.loaded(), []);
  await engine.load({ key: 'add-one', file: ADD_ONE, session });
  t.same([...((await engine.run('add-one', addOneIn())).outputs['y']?.data as Float32Array)], [2, 3, 4, 5]);
});
