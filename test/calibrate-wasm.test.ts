/**
 * Issue 18: `bench --calibrate` on a WASM board measures the shared runtime's start, the shared
 * allowance and each variant's own cost (after the other models), and the planner uses them.
 */
import path from 'node:path';
import t from 'tap';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import { loadProfile } from '../runtime/config/profile.js';
import { defaultBackendCaps } from '../runtime/planner/backend-caps.js';
import { parseCalibration } from '../runtime/planner/calibration.js';
import { planModels } from '../runtime/planner/plan.js';
import { loadManifests } from '../runtime/repository/manifest.js';
import type { LoadedManifest } from '../runtime/repository/types.js';
import { calibrate } from '../runtime/service/calibrate.js';
import { ROOT } from './helpers/service-process.js';

t.test('calibrating on WASM saves the runtime start and the shared allowance, and the plan charges them once', async (t) => {
  const profile = await loadProfile('rpi-zero-2w', path.join(ROOT, 'device-profiles'));
  const { loaded } = await loadManifests(path.join(ROOT, 'models'));
  // One small variant each of digits and spam keeps the test short (each runtime start is seconds); the pass is the same for all.
  const pick = (id: string, variants: string[]): LoadedManifest => {
    const l = loaded.find((x) => x.manifest.id === id);
    if (!l) throw new Error(`no ${id}`);
    return { ...l, manifest: { ...l.manifest, variants: l.manifest.variants.filter((v) => variants.includes(v.id)) } };
  };
  const manifests = [pick('digits', ['student-int8']), pick('spam', ['student-int8'])];
  const engine = new WasmEngine();
  t.teardown(() => engine.close());
  const r = await calibrate({ profile, manifests, engine, runs: 1 });
  t.same(r.failures, []);
  t.equal(r.calibration.entries.length, 2);
  const rt = r.calibration.runtimes?.[0];
  t.equal(rt?.backend, 'wasm');
  // Under tap the figure also holds tap's loader hooks in the worker: checked for presence, not size.
  t.ok(rt !== undefined && rt.rssMB > 0, `runtime start ${rt?.rssMB} MB`);
  t.ok(rt?.sharedMB !== undefined && rt.sharedMB >= 0, `shared allowance ${rt?.sharedMB} MB`);
  for (const e of r.calibration.entries) t.ok(e.rssMB >= 0, `${e.model}/${e.variant}: ${e.rssMB} MB`);
  const cal = parseCalibration(JSON.parse(JSON.stringify(r.calibration)), 'calibration.json');
  const plan = planModels({ profile, manifests: manifests.map((m) => m.manifest), budgetMB: 512, backend: defaultBackendCaps('wasm', profile.inference.estimatedGmacsPerS), calibration: cal });
  t.equal(plan.runtime?.source, 'measured');
  t.equal(plan.runtime?.mb, Math.round(((rt?.rssMB ?? 0) + (rt?.sharedMB ?? 0)) * 100) / 100);
  t.ok(plan.models.every((m) => m.chosen?.memorySource === 'measured'));
  t.equal(engine.runtimeMB(), null, 'calibration leaves no runtime behind');
});
