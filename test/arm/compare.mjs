#!/usr/bin/env node
// ARM proof, the verdict: compares the documents test/arm/check.mjs wrote for the x86 reference and
// the emulated runs, prints a table, exits 1 on any disagreement (2 on bad usage).
//
//   node test/arm/compare.mjs <reference.json> '<label>=<run.json>;backend=native|wasm[;arch=arm64|armv7]
//        [;features=+f,-g][;board=<profile id>]' ...
//   e.g. 'a76=out/a76.json;backend=native;arch=arm64;features=+neon,+dotprod;board=rpi5-8gb'
//
// Rules, per model, variant and sample: the run answered (no error), with the expected backend; same
// top-1 class as the reference; every logit within the tolerance of its precision (below). Per plan
// given for the same profile and backend in both documents: same chosen variant per model. detect must
// pick a profile of the expected arch (armv7/arm64) and read (+) / not read (-) the listed CPU features
// from the emulated /proc/cpuinfo; with board=, `detect --root` on the board-like tree (check.mjs
// --board-mem) must pick that profile.
import { readFileSync } from 'node:fs';

/**
 * Absolute logit tolerance by variant precision. fp32: 1e-3 (observed: x86 native vs arm64 native and
 * armv7 WASM differ by < 1e-5 on digits; summation order only). Quantized variants run different
 * integer/dequant kernels per ISA (x86 AVX2/VNNI, ARM NEON/dotprod, WASM SIMD) and requantize
 * activations, so one rounding step can move a logit by a quantization step: 5e-2 for int8/mixed/int4,
 * 1e-2 for fp16. Top-1 must still agree exactly.
 */
export const TOLERANCE = { fp32: 1e-3, fp16: 1e-2, int8: 5e-2, mixed: 5e-2, int4: 5e-2 };

const [refPath, ...runSpecs] = process.argv.slice(2);
if (refPath === undefined || runSpecs.length === 0) {
  process.stderr.write('usage: compare.mjs <reference.json> \'<label>=<run.json>;backend=native|wasm[;arch=..][;features=+f,-g][;board=<profile>]\' ...\n');
  process.exit(2);
}
const ref = JSON.parse(readFileSync(refPath, 'utf8'));
const problems = [];
const rows = [];
const detects = [];

function refVariant(model, variant) {
  return ref.models.find((m) => m.model === model)?.variants.find((v) => v.variant === variant);
}

for (const spec of runSpecs) {
  const [head, ...opts] = spec.split(';');
  const eq = head.indexOf('=');
  const o = Object.fromEntries(opts.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
  if (eq <= 0 || !['native', 'wasm'].includes(o.backend) || Object.keys(o).some((k) => !['backend', 'arch', 'features', 'board'].includes(k))) {
    process.stderr.write(`compare: bad run spec "${spec}"\n`);
    process.exit(2);
  }
  const label = head.slice(0, eq);
  const path = head.slice(eq + 1);
  const { backend: wantBackend, arch: wantArch, features: wantFeatures, board: wantBoard } = o;
  const run = JSON.parse(readFileSync(path, 'utf8'));
  const bad = (what) => problems.push(`${label}: ${what}`);

  if (wantArch !== undefined) {
    const d = run.detect;
    if (d === null || d.error) bad(`detect failed: ${JSON.stringify(d?.error ?? null)}`);
    else {
      if (d.arch !== wantArch) bad(`detect picked ${d.profile} (arch ${d.arch}), expected an ${wantArch} profile`);
      for (const f of (wantFeatures ?? '').split(',').filter((x) => x !== '')) {
        const has = d.cpuFeatures.includes(f.slice(1));
        if (has !== f.startsWith('+')) bad(`detect ${has ? 'reads' : 'does not read'} CPU feature ${f.slice(1)} from /proc/cpuinfo, expected ${f}`);
      }
    }
    const b = run.boardDetect;
    detects.push([label, d?.profile ?? 'error', d?.derived ? 'yes' : 'no', b ? (b.error ? b.error.code : `${b.profile}${b.derived ? ' (derived)' : ''}`) : '-', d?.cpuModel ?? '-', (d?.cpuFeatures ?? []).join(','), (d?.precision ?? []).join('>'),
      Object.entries(run.plans).map(([k, p]) => `${k}: ${p.error ? p.error.code : `${p.profile}/${p.backend} ${Object.entries(p.chosen).map(([mm, c]) => `${mm}=${c}`).join(' ')}`}`).join('; ')]);
  }
  if (wantBoard !== undefined) {
    const b = run.boardDetect;
    if (b === null || b.error) bad(`detect --root on the board-like tree failed: ${JSON.stringify(b?.error ?? null)}`);
    else if (b.profile !== wantBoard) bad(`detect --root on a tree with device-tree model "${b.cpuinfoModel}" and MemTotal ${b.memTotalMB} MB picked ${b.profile}, expected ${wantBoard}`);
  }
  for (const [key, plan] of Object.entries(run.plans)) {
    if (plan.error) { bad(`plan ${key} failed: ${plan.error.code}`); continue; }
    if (key === 'detected') continue;
    const twin = Object.values(ref.plans).find((p) => !p.error && p.profile === plan.profile && p.backend === plan.backend);
    if (twin === undefined) continue;
    for (const [model, chosen] of Object.entries(plan.chosen)) {
      if (twin.chosen[model] !== chosen) bad(`plan ${plan.profile}/${plan.backend} chose ${chosen} for ${model}, x86 chose ${twin.chosen[model]}`);
    }
  }

  for (const model of run.models) {
    const refModel = ref.models.find((x) => x.model === model.model);
    const refIds = new Set(refModel?.variants.map((v) => v.variant) ?? []);
    const runIds = new Set(model.variants.map((v) => v.variant));
    for (const id of refIds) if (!runIds.has(id) && model.variants.length > 0) bad(`${model.model}/${id} ran on x86 but not here`);
    for (const v of model.variants) {
      const r = refVariant(model.model, v.variant);
      const row = { run: label, model: model.model, variant: v.variant, precision: v.precision, backend: v.backend ?? '-', top1: '-', maxDiff: NaN, tol: TOLERANCE[v.precision] ?? 1e-3, ok: false, ms: v.ms };
      rows.push(row);
      if (v.error) { bad(`${model.model}/${v.variant}: ${v.error.code}: ${v.error.message}`); continue; }
      if (r === undefined || r.error) { bad(`${model.model}/${v.variant}: no x86 reference answer${r?.error ? ` (${r.error.code})` : ''}`); continue; }
      let ok = true;
      if (v.backend !== wantBackend) { ok = false; bad(`${model.model}/${v.variant} ran on ${v.backend}, expected ${wantBackend}`); }
      let diff = 0;
      const tops = [];
      v.logits.forEach((logits, s) => {
        const refLogits = r.logits[s];
        if (refLogits === undefined || refLogits.length !== logits.length) { ok = false; bad(`${model.model}/${v.variant} sample ${s}: output size differs from x86`); return; }
        logits.forEach((x, i) => { diff = Math.max(diff, Math.abs(x - refLogits[i])); });
        tops.push(v.top1[s] === r.top1[s] ? `${v.top1[s]}` : `${v.top1[s]}!=${r.top1[s]}`);
        if (v.top1[s] !== r.top1[s]) { ok = false; bad(`${model.model}/${v.variant} sample ${s} (eval #${model.samples[s]?.index}): top-1 ${v.top1[s]}, x86 ${r.top1[s]}`); }
      });
      if (diff > row.tol) { ok = false; bad(`${model.model}/${v.variant}: logits differ from x86 by ${diff.toExponential(2)} > ${row.tol}`); }
      Object.assign(row, { top1: tops.join(' '), maxDiff: diff, ok });
    }
  }
}

function printTable(table) {
  const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
  for (const t of table) process.stdout.write(t.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd() + '\n');
}
if (detects.length > 0) {
  printTable([['run', 'detect', 'derived', 'detect on board tree', 'cpu', 'features', 'precision order', 'plans (profile/backend chosen)'], ...detects]);
  process.stdout.write('\n');
}
const header = ['run', 'model', 'variant', 'precision', 'backend', 'top-1 per sample', 'max |dlogit|', 'tol', 'ms', 'ok'];
const table = [header, ...rows.map((r) => [r.run, r.model, r.variant, r.precision, r.backend, r.top1, Number.isNaN(r.maxDiff) ? '-' : r.maxDiff.toExponential(2), String(r.tol), String(r.ms), r.ok ? 'yes' : 'NO'])];
printTable(table);
process.stdout.write(`\nreference x86: ${ref.models.map((m) => `${m.model} samples ${m.samples.map((s) => `#${s.index}=${s.label}`).join(' ')}`).join('; ')}\n`);
if (problems.length > 0) {
  process.stdout.write(`\n${problems.length} disagreement(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('\nall emulated runs agree with x86\n');
