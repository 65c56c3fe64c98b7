/**
 * Issue 18, "done when": the whole zoo planned and loaded on the WASM backend (the Pi Zero 2 W
 * profile), answers equal to the native backend's, and plan and run agree on it (the
 * other shipped profiles: plan-run-profiles.test.ts).
 */
import path from 'node:path';
import t from 'tap';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import { createEngine } from '../runtime/backend/select-engine.js';
import type { InferenceEngine } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import { silentLogger } from '../runtime/log.js';
import { planModels } from '../runtime/planner/plan.js';
import type { Plan } from '../runtime/planner/types.js';
import type { LoadedManifest } from '../runtime/repository/types.js';
import { ModelRuntime } from '../runtime/service/model-runtime.js';
import { resolveSetup } from '../runtime/service/setup.js';
import { readEvalSet } from '../runtime/optimize/eval-set.js';
import { allocate, elementCount, type NamedTensors } from '../runtime/tensor.js';
import { ROOT } from './helpers/service-process.js';

const chosen = (p: Plan): Record<string, string | null> => Object.fromEntries(p.models.map((m) => [m.model, m.chosen?.variant ?? null]));

/** What `edge-infer plan --profile <id>` plans (plan.ts: the profile's board decides the backend). */
async function cliPlan(profile: string): Promise<Plan> {
  const setup = await resolveSetup({ packageRoot: ROOT, profile, backendFor: 'profile' });
  return planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
}

t.test('plan --profile rpi-zero-2w holds every zoo model on WASM within the 128 MB budget', async (t) => {
  const plan = await cliPlan('rpi-zero-2w');
  t.equal(plan.backend, 'wasm');
  t.ok(plan.runtime && plan.runtime.mb > 0, 'the shared runtime is charged once');
  for (const m of plan.models) t.not(m.chosen, null, `${m.model}: ${m.error?.message ?? ''}`);
  t.ok(plan.usedMB <= 128, `used ${plan.usedMB} MB`);
});

{
  const id = 'rpi-zero-2w';
  t.test(`the model runtime on ${id} loads exactly what plan shows`, async (t) => {
    const expected = await cliPlan(id);
    const setup = await resolveSetup({ packageRoot: ROOT, profile: id });
    t.equal(setup.backend, expected.backend, 'run resolves the backend plan names');
    const engine = createEngine(setup.profile.inference.backend);
    const rt = new ModelRuntime({ profile: setup.profile, manifests: setup.manifests, engine, caps: setup.caps, budgetMB: setup.budget.budgetMB, log: silentLogger });
    t.teardown(async () => {
      await rt.close(0);
      await engine.close();
    });
    const after = await rt.start();
    t.same(chosen(after), chosen(expected), 'the same variants after loading');
    const loaded = Object.fromEntries(rt.status().map((s) => [s.model, s.state === 'ready' ? s.variant : null]));
    t.same(loaded, chosen(expected), 'every planned variant is loaded and ready');
    t.ok(rt.usedMB() <= setup.budget.budgetMB, `accounted ${rt.usedMB()} MB within ${setup.budget.budgetMB} MB`);
  });
}

/**
 * The first `n` eval rows of a model as a batch: the first input from the rows (with the set's
 * sample shape), a recurrent model's constants from its eval sequence (vad: sr = 16000), every
 * other input zeros with its symbolic batch dim set to n (vad: h and c, the zero start state).
 */
async function evalInputs(m: LoadedManifest, n: number): Promise<NamedTensors> {
  const evalFile = m.manifest.eval?.file;
  if (!evalFile) throw new Error(`${m.manifest.id}: no eval set`);
  const set = await readEvalSet(path.join(m.dir, evalFile));
  const rows = set.inputs.slice(0, n);
  const out: NamedTensors = {};
  m.manifest.inputs.forEach((spec, i) => {
    const constant = set.sequence?.constants[spec.name];
    if (constant) {
      out[spec.name] = { dtype: constant.dtype, dims: constant.dims, data: constant.dtype === 'int64' ? BigInt64Array.from(constant.data, (v) => BigInt(v)) : Float32Array.from(constant.data) } as NamedTensors[string];
    } else if (i === 0) {
      const dims = [rows.length, ...(set.shape ?? [rows[0]?.length ?? 0])];
      out[spec.name] = spec.dtype === 'int64' ? { dtype: 'int64', dims, data: BigInt64Array.from(rows.flat(), (v) => BigInt(Math.trunc(v))) } : { dtype: 'float32', dims, data: Float32Array.from(rows.flat()) };
    } else {
      const dims = spec.shape.map((d) => (typeof d === 'number' ? d : rows.length));
      out[spec.name] = { dtype: spec.dtype, dims, data: allocate(spec.dtype, elementCount(dims)) };
    }
  });
  return out;
}

async function answer(engine: InferenceEngine, key: string, m: LoadedManifest, file: string, inputs: NamedTensors): Promise<Float32Array> {
  await engine.load({ key, file, session: { intraOpThreads: 1, graphOptimization: 'all', memArena: false, memPattern: true } });
  const out = await engine.run(key, inputs);
  const first = m.manifest.outputs[0]?.name ?? '';
  return out.outputs[first]?.data as Float32Array;
}

t.test('every model of the zero plan answers on the shared WASM runtime like on native', async (t) => {
  const plan = await cliPlan('rpi-zero-2w');
  const setup = await resolveSetup({ packageRoot: ROOT, profile: 'rpi-zero-2w', backendFor: 'profile' });
  const wasm = new WasmEngine();
  const native = new NativeEngine();
  t.teardown(async () => {
    await wasm.close();
    await native.close();
  });
  for (const mp of plan.models) {
    const m = setup.manifests.find((x) => x.manifest.id === mp.model);
    const v = m?.manifest.variants.find((x) => x.id === mp.chosen?.variant);
    if (!m || !v) {
      t.fail(`${mp.model}: nothing planned`);
      continue;
    }
    const file = path.join(m.dir, v.file);
    const w = await answer(wasm, mp.model, m, file, await evalInputs(m, 32));
    const n = await answer(native, mp.model, m, file, await evalInputs(m, 32));
    t.equal(w.length, n.length, `${mp.model}/${v.id}: same output size`);
    const classes = w.length / 32;
    let maxDiff = 0;
    let sameTop = 0;
    for (let r = 0; r < 32; r++) {
      let bw = 0;
      let bn = 0;
      for (let c = 0; c < classes; c++) {
        const i = r * classes + c;
        maxDiff = Math.max(maxDiff, Math.abs((w[i] ?? 0) - (n[i] ?? 0)));
        if ((w[i] ?? 0) > (w[r * classes + bw] ?? 0)) bw = c;
        if ((n[i] ?? 0) > (n[r * classes + bn] ?? 0)) bn = c;
      }
      if (bw === bn) sameTop++;
    }
    t.equal(sameTop, 32, `${mp.model}/${v.id}: the same class for all 32 eval rows`);
    t.ok(maxDiff <= 1e-3, `${mp.model}/${v.id}: max |wasm - native| = ${maxDiff}`);
  }
  t.equal(wasm.loaded().length, plan.models.length, 'all of them in one shared runtime');
});
