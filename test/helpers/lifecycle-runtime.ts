/**
 * A digits-only ModelRuntime on real onnxruntime workers with test hooks, for the lifecycle tests
 * (crash, reload, waiting): short crash backoff, the crash hook wired to the runtime current at the
 * time (`setCurrent` after a reload), closed at teardown.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NativeEngine } from '../../runtime/backend/native-engine.js';
import { readProfileFile } from '../../runtime/config/profile.js';
import { silentLogger } from '../../runtime/log.js';
import { defaultBackendCaps } from '../../runtime/planner/backend-caps.js';
import { loadManifests } from '../../runtime/repository/manifest.js';
import { ModelRuntime, type ModelRuntimeOptions } from '../../runtime/service/model-runtime.js';
import type { NamedTensors } from '../../runtime/tensor.js';
import { ROOT } from './service-process.js';

const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] };
export const sample = (i: number): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(evalSet.inputs[i % evalSet.inputs.length]!) } });

export async function setup(t: { teardown(fn: () => unknown): void }, extra: Partial<ModelRuntimeOptions> = {}) {
  const profile = await readProfileFile(path.join(ROOT, 'device-profiles', 'generic-x64.json'));
  const { loaded } = await loadManifests(path.join(ROOT, 'models'));
  const manifests = loaded.filter((m) => m.manifest.id === 'digits');
  let rt: ModelRuntime | null = null;
  const engine = new NativeEngine({ allowTestHooks: true, onWorkerCrash: (key, err) => rt?.onWorkerCrash(key, err) });
  t.teardown(() => engine.close());
  const options: ModelRuntimeOptions = { profile, manifests, engine, caps: defaultBackendCaps('native'), budgetMB: 512, log: silentLogger, crashPolicy: { firstDelayMs: 50, maxDelayMs: 200, maxCrashes: 3, windowMs: 60_000 }, loadWaitMs: 30_000, ...extra };
  rt = new ModelRuntime(options);
  const runtime = rt;
  await runtime.start();
  t.teardown(() => runtime.close(0));
  return {
    rt: runtime,
    engine,
    options,
    setCurrent: (r: ModelRuntime) => {
      rt = r;
    },
  };
}

export function digits(rt: ModelRuntime) {
  return rt.status().find((s) => s.model === 'digits')!;
}
