import t from 'tap';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { NativeEngine } from '../../../runtime/backend/native-engine.js';
import { readProfileFile } from '../../../runtime/config/profile.js';
import { silentLogger } from '../../../runtime/log.js';
import { defaultBackendCaps } from '../../../runtime/planner/backend-caps.js';
import { loadManifests } from '../../../runtime/repository/manifest.js';
import { ModelRuntime } from '../../../runtime/service/model-runtime.js';
import { checkSessionIo } from '../../../runtime/service/session-io-check.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as { inputs: number[][] };

function digitsCopy(edit?: (m: { inputs: { name: string }[]; variants: unknown[] }) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-rt-'));
  cpSync(path.join(ROOT, 'models', 'digits'), path.join(dir, 'digits'), { recursive: true });
  if (edit) {
    const file = path.join(dir, 'digits', 'model.json');
    const m = JSON.parse(readFileSync(file, 'utf8')) as { inputs: { name: string }[]; variants: unknown[] };
    edit(m);
    writeFileSync(file, JSON.stringify(m));
  }
  return dir;
}

async function runtime(t: { teardown(fn: () => unknown): void }, modelsDir: string) {
  const profile = await readProfileFile(path.join(ROOT, 'device-profiles', 'generic-x64.json'));
  const { loaded } = await loadManifests(modelsDir);
  const engine = new NativeEngine();
  t.teardown(() => engine.close());
  return new ModelRuntime({ profile, manifests: loaded, engine, caps: defaultBackendCaps('native'), budgetMB: 512, settings: { digits: { queueLimit: 1000 } }, log: silentLogger });
}

const sample = (i: number): NamedTensors => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(evalSet.inputs[i % evalSet.inputs.length]!) } });

t.test('session I/O check: symbolic dims match anything, names, dtypes, ranks and fixed dims must agree', async (t) => {
  const manifest = { inputs: [{ name: 'input', dtype: 'float32' as const, shape: ['batch', 64] }], outputs: [{ name: 'logits', dtype: 'float32' as const, shape: ['batch', 10] }] };
  t.same(checkSessionIo(manifest, { inputs: [{ name: 'input', dtype: 'float32', shape: ['N', 64] }], outputs: [{ name: 'logits', dtype: 'float32', shape: [1, 10] }] }), []);
  t.same(checkSessionIo(manifest, {}), [], 'a session that reports nothing is not checked');
  const bad = checkSessionIo(manifest, {
    inputs: [{ name: 'input', dtype: 'float64', shape: ['N', 65] }],
    outputs: [
      { name: 'logits', dtype: 'float32', shape: ['N', 10, 1] },
      { name: 'extra', dtype: 'float32', shape: [] },
    ],
  });
  t.same(
    bad.map((b) => `${b.side}:${b.name}`),
    ['input:input', 'input:input', 'output:logits', 'output:extra'],
  );
  t.equal(checkSessionIo(manifest, { inputs: [{ name: 'pixels', dtype: 'float32', shape: ['N', 64] }] }).length, 2, 'missing and extra input');
});

t.test('a variant whose session inputs differ from model.json is refused with EDGE_ERR_MODEL_MISMATCH and the model stays unavailable', async (t) => {
  const rt = await runtime(
    t,
    digitsCopy((m) => {
      m.inputs[0]!.name = 'pixels';
      m.variants = m.variants.slice(0, 2);
    }),
  );
  const plan = await rt.start();
  t.teardown(() => rt.close(0));
  const d = plan.models.find((m) => m.model === 'digits')!;
  t.equal(d.chosen, null);
  const excluded = d.rejected.filter((r) => r.reason === 'excluded');
  t.ok(excluded.length > 0 && excluded.every((r) => r.detail.startsWith('EDGE_ERR_MODEL_MISMATCH')), 'every tried variant excluded for the mismatch');
  t.equal(rt.status()[0]?.state, 'unavailable');
});

t.test('swap under load: every request in flight gets exactly one result, from the old or the new variant', async (t) => {
  const rt = await runtime(t, digitsCopy());
  await rt.start();
  t.teardown(() => rt.close(0));
  const ladder = rt.ladder('digits');
  t.ok(ladder.length >= 2, `the ladder has candidates: ${ladder.map((r) => r.variant).join(', ')}`);
  const preferred = ladder[0]!.variant;
  t.equal(rt.status()[0]?.variant, preferred, "the ladder starts at the plan's choice");
  const target = ladder.at(-1)!.variant;

  const results: Promise<string>[] = [];
  for (let i = 0; i < 60; i++) results.push(rt.infer('digits', `a${i}`, sample(i)).then((o) => o.variant));
  const swapped = rt.swap('digits', target, 'thermal');
  for (let i = 60; i < 120; i++) results.push(rt.infer('digits', `b${i}`, sample(i)).then((o) => o.variant));
  const record = await swapped;
  for (let i = 120; i < 140; i++) results.push(rt.infer('digits', `c${i}`, sample(i)).then((o) => o.variant));
  const settled = await Promise.allSettled(results);
  t.same(
    settled.filter((s) => s.status === 'rejected'),
    [],
    'no request failed',
  );
  const variants = settled.map((s) => (s.status === 'fulfilled' ? s.value : ''));
  t.equal(variants[0], preferred, 'requests before the swap ran on the old variant');
  t.ok(
    variants.slice(120).every((v) => v === target),
    'requests after the swap run on the new variant',
  );
  t.same({ from: record?.from, to: record?.to, reason: record?.reason }, { from: preferred, to: target, reason: 'thermal' });
  const st = rt.status()[0]!;
  t.equal(st.variant, target);
  t.equal(st.preferred, preferred);
  t.equal(st.switches.length, 1);
  t.equal(rt.telemetry()[0]?.lastSwitch?.reason, 'thermal');
  t.equal(await rt.swap('digits', target, 'thermal'), null, 'a swap to the current variant does nothing');
  const back = await rt.swap('digits', preferred, 'recovered');
  t.equal(back?.to, preferred);
  t.equal((await rt.infer('digits', 'z', sample(0))).variant, preferred);
});
