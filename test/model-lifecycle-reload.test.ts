/**
 * Issue 12, service half: the model lifecycle with real onnxruntime workers (continued from
 * model-lifecycle.test.ts, split to keep each file short): waiting for a reload is bounded, and a
 * reload keeps every model whose planned variant did not change (item 7).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import { readProfileFile } from '../runtime/config/profile.js';
import { silentLogger } from '../runtime/log.js';
import { defaultBackendCaps } from '../runtime/planner/backend-caps.js';
import { loadManifests } from '../runtime/repository/manifest.js';
import { ModelRuntime, type ModelRuntimeOptions } from '../runtime/service/model-runtime.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { ROOT } from './helpers/service-process.js';

const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] };
const sample = (i: number): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(evalSet.inputs[i % evalSet.inputs.length]!) } });

async function setup(t: { teardown(fn: () => unknown): void }, extra: Partial<ModelRuntimeOptions> = {}) {
  const profile = await readProfileFile(path.join(ROOT, 'device-profiles', 'generic-x64.json'));
  const { loaded } = await loadManifests(path.join(ROOT, 'models'));
  const manifests = loaded.filter((m) => m.manifest.id === 'digits');
  let rt: ModelRuntime | null = null;
  const engine = new NativeEngine({ allowTestHooks: true, onWorkerCrash: (key, err) => rt?.onWorkerCrash(key, err) });
  t.teardown(() => engine.close());
  const options: ModelRuntimeOptions = {
    profile, manifests, engine, caps: defaultBackendCaps('native'), budgetMB: 512, log: silentLogger,
    crashPolicy: { firstDelayMs: 50, maxDelayMs: 200, maxCrashes: 3, windowMs: 60_000 }, loadWaitMs: 30_000, ...extra,
  };
  rt = new ModelRuntime(options);
  const runtime = rt;
  await runtime.start();
  t.teardown(() => runtime.close(0));
  return { rt: runtime, engine, options, setCurrent: (r: ModelRuntime) => { rt = r; } };
}

function digits(rt: ModelRuntime) {
  return rt.status().find((s) => s.model === 'digits')!;
}

t.test('requests that wait for a reload are bounded by the queue limit and by loadWaitMs', async (t) => {
  const { rt, engine } = await setup(t, {
    settings: { digits: { queueLimit: 2 } }, loadWaitMs: 30_000,
    crashPolicy: { firstDelayMs: 400, maxDelayMs: 400, maxCrashes: 3, windowMs: 60_000 },
  });
  engine.crashForTest(rt.sessionKey('digits')!);
  while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  const waiting = [rt.infer('digits', 'a', sample(0)), rt.infer('digits', 'b', sample(1))];
  await t.rejects(rt.infer('digits', 'c', sample(2)), { code: 'EDGE_ERR_OVERLOADED' }, 'a third waiter is over the queue limit');
  t.equal((await Promise.all(waiting)).length, 2, 'the two waiters are answered');
  const short = await setup(t, { loadWaitMs: 20, crashPolicy: { firstDelayMs: 400, maxDelayMs: 400, maxCrashes: 3, windowMs: 60_000 } });
  short.engine.crashForTest(short.rt.sessionKey('digits')!);
  while (digits(short.rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  await t.rejects(short.rt.infer('digits', 'late', sample(0)), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' }, 'past loadWaitMs it is answered unavailable');
});

t.test('a reload with nothing changed keeps the loaded session and variant', async (t) => {
  const { rt, options, setCurrent } = await setup(t);
  const before = digits(rt);
  const key = rt.sessionKey('digits');
  let current = rt;
  for (let i = 0; i < 3; i++) {
    const fresh = new ModelRuntime(options);
    await fresh.start({ adoptFrom: current });
    setCurrent(fresh);
    await current.close(1000);
    current = fresh;
    t.equal(digits(fresh).variant, before.variant, `reload ${i + 1}: same variant`);
    t.equal(fresh.sessionKey('digits'), key, `reload ${i + 1}: same session, not reloaded`);
    t.notOk(digits(fresh).error, 'no refusal');
    await fresh.infer('digits', `r${i}`, sample(i));
  }
  t.teardown(() => current.close(0));
});
