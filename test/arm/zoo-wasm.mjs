#!/usr/bin/env node
// Issue 18, ARM side: the whole rpi-zero-2w plan loaded into ONE shared WASM runtime (as the service
// does) on THIS node, every model answering 8 eval rows; prints one JSON document. Run it on x86 and
// under the emulated Zero, then compare:
//
//   node test/arm/zoo-wasm.mjs > /tmp/x86.json
//   nice .ci/pi-emu armv7 -- node test/arm/zoo-wasm.mjs > /tmp/armv7.json
//   node test/arm/zoo-wasm.mjs --compare /tmp/x86.json /tmp/armv7.json    # exit 0 when they agree
//
// Plain .mjs over dist/ (run `npm run build` first) so it runs under the emulated node without a
// build step; tap does not pick it up. Agreement: same models and variants loaded, same top class per
// row (or the same side of 0.5 for one-score outputs), outputs within 1e-3.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROWS = 8;

if (process.argv[2] === '--compare') {
  const [a, b] = process.argv.slice(3).map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const problems = [];
  for (const [model, x] of Object.entries(a.models)) {
    const y = b.models[model];
    if (!y) {
      problems.push(`${model}: not loaded on ${b.arch}`);
      continue;
    }
    if (x.variant !== y.variant) problems.push(`${model}: variant ${x.variant} vs ${y.variant}`);
    const diff = x.outputs.reduce((m, v, i) => Math.max(m, Math.abs(v - (y.outputs[i] ?? NaN))), 0);
    const top = (o) =>
      Array.from({ length: ROWS }, (_, r) => {
        const row = o.slice(r * x.classes, (r + 1) * x.classes);
        return x.classes === 1 ? Number(row[0] >= 0.5) : row.indexOf(Math.max(...row));
      });
    const same = top(x.outputs).every((c, r) => c === top(y.outputs)[r]);
    console.log(`${model.padEnd(8)} ${x.variant.padEnd(18)} max |${a.arch} - ${b.arch}| ${diff.toExponential(2)}  top-1 ${same ? 'same' : 'DIFFERENT'}`);
    if (!(diff <= 1e-3) || !same) problems.push(`${model}: diff ${diff}, top-1 ${same ? 'same' : 'different'}`);
  }
  for (const m of Object.keys(b.models)) if (!a.models[m]) problems.push(`${m}: not loaded on ${a.arch}`);
  // Issue 16: the shared-memory ring carried runs on both (SharedArrayBuffer + Atomics in worker threads).
  for (const d of [a, b]) {
    console.log(`${d.arch}: ${d.hop?.ringRuns ?? 0} runs through the shared-memory ring, ${d.hop?.postedRuns ?? 0} by postMessage`);
    if (!((d.hop?.ringRuns ?? 0) > 0)) problems.push(`${d.arch}: no run went through the shared-memory ring`);
  }
  console.log(problems.length === 0 ? 'agree' : `DISAGREE:\n${problems.join('\n')}`);
  process.exit(problems.length === 0 ? 0 : 1);
}

const dist = (p) => import(pathToFileURL(join(root, 'dist', 'runtime', p)).href);
const { resolveSetup } = await dist('service/setup.js');
const { planModels } = await dist('planner/plan.js');
const { WasmEngine } = await dist('backend/wasm-engine.js');
const { readEvalSet } = await dist('optimize/eval-set.js');
const { allocate, elementCount } = await dist('tensor.js');

const setup = await resolveSetup({ packageRoot: root, profile: 'rpi-zero-2w', backendFor: 'profile' });
const plan = planModels({ profile: setup.profile, manifests: setup.manifests.map((m) => m.manifest), budgetMB: setup.budget.budgetMB, backend: setup.caps });
const engine = new WasmEngine();
const doc = { arch: process.arch, node: process.version, usedMB: plan.usedMB, models: {} };
try {
  for (const mp of plan.models) {
    const lm = setup.manifests.find((m) => m.manifest.id === mp.model);
    const v = lm?.manifest.variants.find((x) => x.id === mp.chosen?.variant);
    if (!lm || !v) continue;
    const set = await readEvalSet(join(lm.dir, lm.manifest.eval.file));
    const rows = set.inputs.slice(0, ROWS);
    const inputs = {};
    lm.manifest.inputs.forEach((spec, i) => {
      const c = set.sequence?.constants[spec.name];
      if (c) inputs[spec.name] = { dtype: c.dtype, dims: c.dims, data: c.dtype === 'int64' ? BigInt64Array.from(c.data, (x) => BigInt(x)) : Float32Array.from(c.data) };
      else if (i === 0) {
        const dims = [rows.length, ...(set.shape ?? [rows[0].length])];
        inputs[spec.name] = spec.dtype === 'int64' ? { dtype: 'int64', dims, data: BigInt64Array.from(rows.flat(), (x) => BigInt(Math.trunc(x))) } : { dtype: 'float32', dims, data: Float32Array.from(rows.flat()) };
      } else {
        const dims = spec.shape.map((d) => (typeof d === 'number' ? d : rows.length));
        inputs[spec.name] = { dtype: spec.dtype, dims, data: allocate(spec.dtype, elementCount(dims)) };
      }
    });
    await engine.load({ key: mp.model, file: join(lm.dir, v.file), session: { intraOpThreads: 1, graphOptimization: 'all', memArena: false, memPattern: true } });
    const out = await engine.run(mp.model, inputs);
    const first = out.outputs[lm.manifest.outputs[0].name];
    doc.models[mp.model] = { variant: v.id, classes: first.data.length / rows.length, outputs: Array.from(first.data, (x) => Number(x)) };
    // Issue 16: runs per path of the shared runtime (ring.ts: tensors up to a slot go through shared memory).
    doc.hop = engine.hopStats(mp.model);
  }
} finally {
  await engine.close();
}
process.stdout.write(JSON.stringify(doc) + '\n');
