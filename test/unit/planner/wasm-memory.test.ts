import t from 'tap';
import { defaultBackendCaps } from '../../../runtime/planner/backend-caps.js';
import { formatPlan } from '../../../runtime/planner/format-plan.js';
import { planModels } from '../../../runtime/planner/plan.js';
import type { BackendCaps, Calibration, PlanInput, WasmMemoryFigures } from '../../../runtime/planner/types.js';
import { fitFallback, wasmVariantFigure } from '../../../runtime/planner/wasm-memory.js';
import { MiB, model, profile, variant } from './fixtures.js';

// A shared runtime of 40 MB (start 30 + shared 10); fp32 of model "a" measured at 30 MB (sha 'a'x64); everything else on the fallback 10 + 2 x file MB.
const figures: WasmMemoryFigures = { measuredOn: 'test', runtimeMB: 30, sharedMB: 10, variants: [{ model: 'a', variant: 'fp32', sha256: 'a'.repeat(64), mb: 30 }], fallback: { baseMB: 10, perFileMB: 2 } };
const wasm: BackendCaps = { ...defaultBackendCaps('wasm'), wasmMemory: figures };
const prof = profile({ backend: 'wasm' });
const a = model('a', [variant('fp32', 'fp32', 4, { sha256: 'a'.repeat(64) }), variant('int8', 'int8', 1)]);
const b = model('b', [variant('fp32', 'fp32', 4), variant('int8', 'int8', 1)]);
const plan = (over: Partial<PlanInput>) => planModels({ profile: prof, manifests: [a, b], budgetMB: 128, backend: wasm, ...over });

t.test('a WASM plan charges the shared runtime once and each model its own figure', async (t) => {
  const p = plan({});
  t.same(p.runtime, { mb: 40, source: 'reference', startMB: 30, sharedMB: 10 });
  const [pa, pb] = [p.models.find((m) => m.model === 'a'), p.models.find((m) => m.model === 'b')];
  t.equal(pa?.chosen?.memoryMB, 30);
  t.equal(pa?.chosen?.memorySource, 'reference');
  t.equal(pb?.chosen?.memoryMB, 18);
  t.equal(pb?.chosen?.memorySource, 'estimated');
  t.equal(p.usedMB, 40 + 30 + 18);
  t.match(formatPlan(p), /shared wasm runtime: 40\.0 MB once \(start 30\.0 x86 \+ 10\.0 shared/);
});

t.test('models share what the runtime leaves: the second falls back to its smaller variant', async (t) => {
  // 80 - 40 runtime = 40; a fp32 30 leaves 10: b fp32 (18) does not fit, b int8 (12) does not either -> rescue squeezes a to int8 (12).
  const p = plan({ budgetMB: 80 });
  t.equal(p.models.find((m) => m.model === 'a')?.chosen?.variant, 'int8');
  t.equal(p.models.find((m) => m.model === 'b')?.chosen?.variant, 'fp32');
  t.ok(p.usedMB <= 80);
});

t.test('a budget below the runtime plans nothing and says the runtime took it', async (t) => {
  const p = plan({ budgetMB: 30 });
  t.equal(p.runtime, undefined);
  t.equal(p.usedMB, 0);
  for (const m of p.models) {
    t.equal(m.error?.code, 'EDGE_ERR_NO_VARIANT_FITS');
    t.match(m.error?.message, /after the wasm runtime's 40\.0 MB/);
  }
});

t.test('calibration on the board replaces the runtime and the variant figures', async (t) => {
  const calibration: Calibration = { profile: prof.id, measuredAt: 'now', entries: [{ model: 'b', variant: 'fp32', backend: 'wasm', threads: prof.inference.threads, loadMs: 1, latencyP50Ms: 1, latencyP95Ms: 1, rssMB: 5 }], runtimes: [{ backend: 'wasm', threads: prof.inference.threads, rssMB: 55, sharedMB: 4 }] };
  const p = plan({ calibration });
  t.same(p.runtime, { mb: 59, source: 'measured', startMB: 55, sharedMB: 4 });
  t.equal(p.models.find((m) => m.model === 'b')?.chosen?.memoryMB, 5);
  t.equal(p.models.find((m) => m.model === 'b')?.chosen?.memorySource, 'measured');
});

t.test('a board calibration without a shared figure holds alone figures, so no allowance is added', async (t) => {
  const calibration: Calibration = { profile: prof.id, measuredAt: 'now', entries: [], runtimes: [{ backend: 'wasm', threads: prof.inference.threads, rssMB: 55 }] };
  t.same(plan({ calibration }).runtime, { mb: 55, source: 'measured', startMB: 55, sharedMB: 0 });
});

t.test('a variant whose file changed (another sha256) is not given the old figure', async (t) => {
  const f = wasmVariantFigure('a', variant('fp32', 'fp32', 4, { sha256: 'c'.repeat(64) }), figures);
  t.same(f, { value: 18, source: 'estimated' });
});

t.test('the native backend has no shared runtime', async (t) => {
  const p = planModels({ profile: profile(), manifests: [a], budgetMB: 512, backend: defaultBackendCaps('native') });
  t.equal(p.runtime, undefined);
});

t.test('the fallback line lies on or above every measured point', async (t) => {
  const points = [
    { fileMB: 0.1, mb: 12 },
    { fileMB: 2.6, mb: 21.6 },
    { fileMB: 0.3, mb: 2.6 },
    { fileMB: 1.6, mb: 17.8 },
  ];
  const f = fitFallback(points);
  t.ok(f.perFileMB >= 1);
  for (const p of points) t.ok(f.baseMB + f.perFileMB * p.fileMB >= p.mb - 1e-9, `${p.fileMB} MB file -> ${p.mb} MB`);
  t.same(fitFallback([]), { baseMB: 0, perFileMB: 1 });
});

t.test('the shipped reference figures cover a runtime and are not below 0', async (t) => {
  const ref = defaultBackendCaps('wasm').wasmMemory;
  t.ok(ref && ref.runtimeMB > 0, 'a measured runtime figure');
  for (const v of ref?.variants ?? []) t.ok(v.mb > 0, `${v.model}/${v.variant}`);
  t.equal(MiB, 1024 * 1024);
});
