import t from 'tap';
import { defaultBackendCaps } from '../../../runtime/planner/backend-caps.js';
import { ESTIMATE } from '../../../runtime/planner/estimate.js';
import { formatPlan } from '../../../runtime/planner/format-plan.js';
import { planModels } from '../../../runtime/planner/plan.js';
import type { Calibration, ModelPlan, Plan, PlanInput } from '../../../runtime/planner/types.js';
import { MiB, model, profile, variant } from './fixtures.js';

// A 6 MB session overhead keeps the arithmetic below round: fp32 58.0 MB, int8 19.0 MB.
const native = { ...defaultBackendCaps('native'), sessionOverheadMB: 6 };

function plan(over: Partial<PlanInput>): Plan {
  return planModels({ profile: profile(), manifests: [model('m')], budgetMB: 512, backend: native, ...over });
}
function only(p: Plan, id = 'm'): ModelPlan {
  const m = p.models.find((x) => x.model === id);
  if (!m) throw new Error(`no plan for ${id}`);
  return m;
}
const reasonOf = (m: ModelPlan, v: string): string | undefined => m.rejected.find((r) => r.variant === v)?.reason;

t.test('the native memory estimate is file bytes x 1.3 plus the per-session overhead', async (t) => {
  const m = only(plan({ backend: defaultBackendCaps('native') }));
  t.equal(ESTIMATE.memoryBytesFactor, 1.3);
  t.equal(m.chosen?.memoryMB, 40 * 1.3 + ESTIMATE.sessionOverheadMB);
  t.equal(m.chosen?.memorySource, 'estimated');
  t.equal(m.chosen?.latencySource, 'estimated');
});

t.test('with room for everything the first precision in the preference wins and the rest are lower preference', async (t) => {
  const m = only(plan({}));
  t.equal(m.chosen?.variant, 'fp32');
  t.equal(reasonOf(m, 'int8'), 'lower-preference');
  t.match(m.rejected[0]?.detail, /fp32 was chosen/);
});

t.test('a budget too small for fp32 but enough for int8 picks int8 and says how far over fp32 is', async (t) => {
  const p = plan({ budgetMB: 30 });
  const m = only(p);
  t.equal(m.chosen?.variant, 'int8');
  t.equal(reasonOf(m, 'fp32'), 'over-budget');
  t.match(m.rejected.find((r) => r.variant === 'fp32')?.detail, /needs 58\.0 MB.*28\.0 MB over the 30\.0 MB left/);
  t.equal(p.usedMB, 19);
});

t.test('when nothing fits a model gets no variant and EDGE_ERR_NO_VARIANT_FITS while other models still plan', async (t) => {
  const small = model('small', [variant('int8', 'int8', 2)]);
  const p = plan({ budgetMB: 12, manifests: [model('big'), small] });
  const big = only(p, 'big');
  t.equal(big.chosen, null);
  t.equal(big.error?.code, 'EDGE_ERR_NO_VARIANT_FITS');
  t.same(
    big.rejected.map((r) => r.reason),
    ['over-budget', 'over-budget'],
  );
  t.equal(only(p, 'small').chosen?.variant, 'int8');
  t.equal(only(p, 'small').error, undefined);
});

t.test('the accuracy floor rejects a variant below it', async (t) => {
  const manifests = [model('m', [variant('fp32', 'fp32', 40, { quality: { accuracy: 0.93, agreement: 1, evalCount: 100 } }), variant('int8', 'int8', 10)])];
  const m = only(plan({ manifests, profile: profile({ accuracyFloor: 0.95 }) }));
  t.equal(reasonOf(m, 'fp32'), 'below-accuracy-floor');
  t.equal(m.chosen?.variant, 'int8');
});

t.test('a backend without an op rejects the variants that use it', async (t) => {
  const mixed = variant('mixed', 'mixed', 6, { ops: ['com.microsoft.MatMulNBits'], layerBits: { w: 4 } });
  const manifests = [model('m', [mixed, variant('int8', 'int8', 10)])];
  const caps = { ...native, unsupportedOps: ['com.microsoft.MatMulNBits'] };
  const m = only(plan({ manifests, backend: caps, profile: profile({ precision: ['mixed', 'int8'] }) }));
  t.equal(reasonOf(m, 'mixed'), 'unsupported-op');
  t.equal(m.chosen?.variant, 'int8');
  t.equal(only(plan({ manifests, profile: profile({ precision: ['mixed', 'int8'] }) })).chosen?.variant, 'mixed', 'the same variant is chosen when the op exists');
});

t.test('a precision the backend cannot run is rejected (fp16 under WASM)', async (t) => {
  const manifests = [model('m', [variant('fp16', 'fp16', 20), variant('fp32', 'fp32', 40)])];
  const prof = profile({ precision: ['fp16', 'fp32'] });
  t.equal(reasonOf(only(plan({ manifests, profile: prof, backend: defaultBackendCaps('wasm') })), 'fp16'), 'unsupported-precision');
  t.equal(only(plan({ manifests, profile: prof })).chosen?.variant, 'fp16');
});

t.test('a precision missing from the profile preference is never chosen', async (t) => {
  const m = only(plan({ profile: profile({ precision: ['int8'] }) }));
  t.equal(reasonOf(m, 'fp32'), 'unsupported-precision');
  t.match(m.rejected[0]?.detail, /not in this profile's precision preference/);
});

t.test('the latency target rejects a slow variant', async (t) => {
  // fp32 at 4 GMAC/s: 400M MACs -> 100 ms + overhead, over a 50 ms target.
  const manifests = [model('m', [variant('fp32', 'fp32', 40, { macs: 400_000_000 }), variant('int8', 'int8', 10, { macs: 400_000_000 })])];
  const m = only(plan({ manifests, profile: profile({ latencyTargetMs: 80 }) }));
  t.equal(reasonOf(m, 'fp32'), 'slower-than-target');
  t.equal(m.chosen?.variant, 'int8');
  t.equal(m.chosen?.latencyMs, Math.round((400 / 8 + ESTIMATE.latencyOverheadMs) * 100) / 100);
});

t.test('under WASM int8 is estimated slower than fp32, so the backend changes the choice', async (t) => {
  const prof = profile({ precision: ['int8', 'fp32'], latencyTargetMs: 80, estimatedGmacsPerS: { fp32: 4, int8: 8 } });
  const manifests = [model('m', [variant('fp32', 'fp32', 40, { macs: 200_000_000 }), variant('int8', 'int8', 10, { macs: 200_000_000 })])];
  t.equal(only(plan({ manifests, profile: prof })).chosen?.variant, 'int8');
  const wasm = only(plan({ manifests, profile: prof, backend: defaultBackendCaps('wasm', prof.inference.estimatedGmacsPerS) }));
  t.equal(reasonOf(wasm, 'int8'), 'slower-than-target', 'int8 under WASM: 50 ms x 2.8 x 8/4 ... over 80 ms');
  t.equal(wasm.chosen?.variant, 'fp32');
});

t.test('calibration figures replace estimates and change the choice', async (t) => {
  const prof = profile({ precision: ['int8', 'fp32'], latencyTargetMs: 20 });
  t.equal(only(plan({ profile: prof })).chosen?.variant, 'int8');
  const calibration: Calibration = {
    profile: 'test-board',
    measuredAt: '2026-01-01T00:00:00Z',
    entries: [
      { model: 'm', variant: 'int8', backend: 'native', threads: 2, loadMs: 5, latencyP50Ms: 30, latencyP95Ms: 45, rssMB: 12 },
      { model: 'm', variant: 'fp32', backend: 'native', threads: 2, loadMs: 9, latencyP50Ms: 3, latencyP95Ms: 4, rssMB: 70 },
    ],
  };
  const m = only(plan({ profile: prof, calibration }));
  t.equal(reasonOf(m, 'int8'), 'slower-than-target');
  t.match(m.rejected[0]?.detail, /45\.0 ms \(measured\)/);
  t.same([m.chosen?.variant, m.chosen?.memoryMB, m.chosen?.memorySource, m.chosen?.latencyMs, m.chosen?.latencySource], ['fp32', 70, 'measured', 4, 'measured']);
});

t.test('calibration measured on another backend or thread count is not used', async (t) => {
  const entry = { model: 'm', variant: 'fp32', loadMs: 1, latencyP50Ms: 1, latencyP95Ms: 1, rssMB: 1 };
  const calibration: Calibration = {
    profile: 'test-board',
    measuredAt: 'x',
    entries: [
      { ...entry, backend: 'wasm', threads: 2 },
      { ...entry, backend: 'native', threads: 4 },
    ],
  };
  t.equal(only(plan({ calibration })).chosen?.memorySource, 'estimated');
});

t.test('excluded variants are skipped with their error code and the next one is chosen', async (t) => {
  const m = only(plan({ exclusions: [{ model: 'm', variant: 'fp32', code: 'EDGE_ERR_INTEGRITY', detail: 'sha256 differs' }] }));
  t.equal(reasonOf(m, 'fp32'), 'excluded');
  t.match(m.rejected[0]?.detail, /^EDGE_ERR_INTEGRITY/);
  t.equal(m.chosen?.variant, 'int8');
});

t.test('a shared budget squeezes the lower-priority model first', async (t) => {
  // 80 MB: one fp32 (58) and one int8 (19) fit, two fp32 do not.
  const manifests = [model('a'), model('b')];
  const p1 = plan({ manifests, budgetMB: 80, priorities: { a: 2, b: 1 } });
  t.same(
    p1.models.map((m) => [m.model, m.chosen?.variant]),
    [
      ['a', 'fp32'],
      ['b', 'int8'],
    ],
  );
  t.equal(reasonOf(only(p1, 'b'), 'fp32'), 'over-budget');
  const p2 = plan({ manifests, budgetMB: 80, priorities: { a: 1, b: 2 } });
  t.same(
    p2.models.map((m) => [m.model, m.chosen?.variant]),
    [
      ['b', 'fp32'],
      ['a', 'int8'],
    ],
  );
  t.equal(p2.usedMB, 77);
});

t.test('a higher-priority model is downgraded when that is the only way a lower one can load', async (t) => {
  // 70 MB: a takes fp32 (58), 12 left is too little for b's int8 (19); a at int8 lets both run.
  const p = plan({ manifests: [model('a'), model('b')], budgetMB: 70, priorities: { a: 2, b: 1 } });
  t.same(
    p.models.map((m) => [m.model, m.chosen?.variant]),
    [
      ['a', 'int8'],
      ['b', 'int8'],
    ],
  );
  t.equal(reasonOf(only(p, 'a'), 'fp32'), 'over-budget');
  t.match(only(p, 'a').rejected[0]?.detail, /gave way so that b/);
  t.ok(p.usedMB <= 70);
});

t.test('when downgrading cannot make room the higher-priority model keeps its variant', async (t) => {
  // 30 MB: a gets int8 (19); b would need 19 more; a has nothing cheaper.
  const p = plan({ manifests: [model('a'), model('b')], budgetMB: 30, priorities: { a: 2, b: 1 } });
  t.equal(only(p, 'a').chosen?.variant, 'int8');
  t.equal(only(p, 'b').chosen, null);
  t.equal(only(p, 'b').error?.code, 'EDGE_ERR_NO_VARIANT_FITS');
});

t.test('a model whose every variant is filtered out gets EDGE_ERR_NO_VARIANT_FITS', async (t) => {
  const m = only(plan({ profile: profile({ accuracyFloor: 0.99 }) }));
  t.equal(m.chosen, null);
  t.equal(m.error?.code, 'EDGE_ERR_NO_VARIANT_FITS');
  t.same(
    m.rejected.map((r) => r.reason),
    ['below-accuracy-floor', 'below-accuracy-floor'],
  );
});

t.test('among the same precision the more accurate variant wins', async (t) => {
  const manifests = [model('m', [variant('pruned', 'int8', 8, { quality: { accuracy: 0.95, agreement: 0.97, evalCount: 100 } }), variant('int8', 'int8', 10, { quality: { accuracy: 0.96, agreement: 0.99, evalCount: 100 } })])];
  const m = only(plan({ manifests, profile: profile({ precision: ['int8'] }) }));
  t.equal(m.chosen?.variant, 'int8');
  t.match(m.rejected[0]?.detail, /more accurate/);
});

t.test('a negative budget is a usage error', async (t) => {
  t.throws(() => plan({ budgetMB: -1 }), { code: 'EDGE_ERR_USAGE' });
});

t.test('formatPlan prints one row per model and every rejection with its reason', async (t) => {
  const text = formatPlan(plan({ budgetMB: 30, manifests: [model('m'), model('zz', [variant('fp32', 'fp32', 100)])] }));
  const lines = text.trimEnd().split('\n');
  t.match(lines[0], /budget 30\.0 MB, used 19\.0 MB/);
  t.ok(
    lines.some((l) => /^m\s+int8\s+int8\s+19\.0 \(est\)/.test(l)),
    text,
  );
  t.ok(
    lines.some((l) => /^ {4}- fp32: over-budget: needs 58\.0 MB/.test(l)),
    text,
  );
  t.ok(
    lines.some((l) => /^zz\s+-/.test(l)),
    text,
  );
  t.ok(
    lines.some((l) => l.includes('EDGE_ERR_NO_VARIANT_FITS')),
    text,
  );
  t.equal(MiB, 1048576);
});
