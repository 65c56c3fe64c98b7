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
 * Logit tolerance by variant precision: |run - x86| <= abs + rel * max|x86 logit| of that sample.
 * Observed on digits (5 samples): fp32 x86 native vs arm64 native 0 (bit-identical), vs armv7 WASM
 * 2.4e-6; armv7 WASM vs x86 WASM 0. int8 (7-bit weights) 1.9e-6 on arm64. int4/mixed (MatMulNBits,
 * accuracy_level 4): 6.9e-6 on Cortex-A76 (dotprod: int8 compute like x86) but 4.6e-2 on Cortex-A72
 * (no dotprod: MLAS computes in fp32 there, x86 quantizes activations to int8), max|logit| ~15.
 * int8 with full-range weights (quantize --full-range) differs by 1.07 on both ARM cores: x86 AVX2
 * saturates u8*s8 pairs (vpmaddubsw); ARM is exact. That one is a real disagreement and is reported.
 */
export const TOLERANCE = { fp32: { abs: 1e-3, rel: 1e-5 }, fp16: { abs: 1e-2, rel: 1e-3 }, int8: { abs: 1e-2, rel: 5e-3 }, mixed: { abs: 1e-2, rel: 1e-2 }, int4: { abs: 1e-2, rel: 1e-2 } };

const [refPath, ...runSpecs] = process.argv.slice(2);
if (refPath === undefined || runSpecs.length === 0) {
  process.stderr.write("usage: compare.mjs <reference.json> '<label>=<run.json>;backend=native|wasm[;arch=..][;features=+f,-g][;board=<profile>]' ...\n");
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
    detects.push([
      label,
      d?.profile ?? 'error',
      d?.derived ? 'yes' : 'no',
      b ? (b.error ? b.error.code : `${b.profile}${b.derived ? ' (derived)' : ''}`) : '-',
      d?.cpuModel ?? '-',
      (d?.cpuFeatures ?? []).join(','),
      (d?.precision ?? []).join('>'),
      Object.entries(run.plans)
        .map(
          ([k, p]) =>
            `${k}: ${
              p.error
                ? p.error.code
                : `${p.profile}/${p.backend} ${Object.entries(p.chosen)
                    .map(([mm, c]) => `${mm}=${c}`)
                    .join(' ')}`
            }`,
        )
        .join('; '),
    ]);
  }
  if (wantBoard !== undefined) {
    const b = run.boardDetect;
    if (b === null || b.error) bad(`detect --root on the board-like tree failed: ${JSON.stringify(b?.error ?? null)}`);
    else if (b.profile !== wantBoard) bad(`detect --root on a tree with device-tree model "${b.cpuinfoModel}" and MemTotal ${b.memTotalMB} MB picked ${b.profile}, expected ${wantBoard}`);
  }
  for (const [key, plan] of Object.entries(run.plans)) {
    if (plan.error) {
      bad(`plan ${key} failed: ${plan.error.code}`);
      continue;
    }
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
      const row = { run: label, model: model.model, variant: v.variant, precision: v.precision, backend: v.backend ?? '-', top1: '-', maxDiff: NaN, tol: NaN, ok: false, ms: v.ms };
      const tol = TOLERANCE[v.precision] ?? TOLERANCE.fp32;
      rows.push(row);
      if (v.error) {
        bad(`${model.model}/${v.variant}: ${v.error.code}: ${v.error.message}`);
        continue;
      }
      if (r === undefined || r.error) {
        bad(`${model.model}/${v.variant}: no x86 reference answer${r?.error ? ` (${r.error.code})` : ''}`);
        continue;
      }
      let ok = true;
      if (v.backend !== wantBackend) {
        ok = false;
        bad(`${model.model}/${v.variant} ran on ${v.backend}, expected ${wantBackend}`);
      }
      let diff = 0;
      let worst = -1;
      const tops = [];
      v.logits.forEach((logits, s) => {
        const refLogits = r.logits[s];
        if (refLogits === undefined || refLogits.length !== logits.length) {
          ok = false;
          bad(`${model.model}/${v.variant} sample ${s}: output size differs from x86`);
          return;
        }
        const allowed = tol.abs + tol.rel * Math.max(...refLogits.map(Math.abs));
        const d = Math.max(...logits.map((x, i) => Math.abs(x - refLogits[i])));
        if (d / allowed > worst) {
          worst = d / allowed;
          row.tol = allowed;
        }
        if (d > allowed) {
          ok = false;
          bad(`${model.model}/${v.variant} sample ${s}: logits differ from x86 by ${d.toExponential(2)} > ${allowed.toExponential(2)} (${v.precision}: ${tol.abs} + ${tol.rel} x max|logit|)`);
        }
        diff = Math.max(diff, d);
        tops.push(v.top1[s] === r.top1[s] ? `${v.top1[s]}` : `${v.top1[s]}!=${r.top1[s]}`);
        if (v.top1[s] !== r.top1[s]) {
          ok = false;
          bad(`${model.model}/${v.variant} sample ${s} (eval #${model.samples[s]?.index}): top-1 ${v.top1[s]}, x86 ${r.top1[s]}`);
        }
      });
      Object.assign(row, { top1: tops.join(' '), maxDiff: diff, ok });
    }
  }
}

function printTable(table) {
  const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
  for (const t of table)
    process.stdout.write(
      t
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd() + '\n',
    );
}
if (detects.length > 0) {
  printTable([['run', 'detect', 'derived', 'detect on board tree', 'cpu', 'features', 'precision order', 'plans (profile/backend chosen)'], ...detects]);
  process.stdout.write('\n');
}
const header = ['run', 'model', 'variant', 'precision', 'backend', 'top-1 per sample', 'max |dlogit|', 'allowed', 'ms', 'ok'];
const table = [header, ...rows.map((r) => [r.run, r.model, r.variant, r.precision, r.backend, r.top1, Number.isNaN(r.maxDiff) ? '-' : r.maxDiff.toExponential(2), Number.isNaN(r.tol) ? '-' : r.tol.toExponential(2), String(r.ms), r.ok ? 'yes' : 'NO'])];
printTable(table);
process.stdout.write(`\nreference x86: ${ref.models.map((m) => `${m.model} samples ${m.samples.map((s) => `#${s.index}=${s.label}`).join(' ')}`).join('; ')}\n`);
if (problems.length > 0) {
  process.stdout.write(`\n${problems.length} disagreement(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('\nall emulated runs agree with x86\n');
