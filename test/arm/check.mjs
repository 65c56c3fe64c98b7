#!/usr/bin/env node
// ARM proof, one side: runs the real CLI (`detect`, `plan`, `infer`) on THIS node (native x86, or the
// emulated arm64/armv7 node under .ci/pi-emu) and prints one JSON document with the answers.
// test/arm/compare.mjs compares the documents of several runs; test/arm/run.sh drives both.
//
//   node test/arm/check.mjs --profile rpi4-2gb [--backend native] [--plans rpi4-2gb:native,rpi-zero-2w:wasm]
//                           [--samples 5] [--jobs 2] [--no-infer] [--board-mem MB] [--models dir] [--out file.json]
//
// Every model in models/ (or --models dir) and every variant in its model.json (read now, never a fixed list) is run
// through `infer --variant <id>` on one request file holding a batch of --samples eval images spread
// over models/<id>/eval/eval.json. Plain .mjs on purpose: it runs under the emulated node without a
// build step, and tap does not pick it up (tap runs dist/test/**/*.test.js).
// --board-mem MB: also runs `detect --root <tree>` on a host tree made of this /proc/cpuinfo, a
// proc/device-tree/model taken from its `Model` line, and MemTotal = MB: what detect would pick on the
// real board (emulation has no /proc/device-tree and the host's MemTotal).
// Contract: exits 0 when every CLI call produced JSON (an `infer` that answered with an error is recorded,
// not fatal: compare.mjs judges it); exits 1 when a call printed no parseable JSON.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    profile: { type: 'string' },
    backend: { type: 'string' },
    plans: { type: 'string', default: '' },
    samples: { type: 'string', default: '5' },
    jobs: { type: 'string', default: '1' }, // accepted for compatibility; variants run in one process
    'no-infer': { type: 'boolean', default: false },
    'board-mem': { type: 'string' },
    models: { type: 'string' },
    out: { type: 'string' },
  },
});
const sampleCount = Number(values.samples);
// Under pi-emu, process.execPath is an ARM binary only the qemu shim (first `node` on PATH) can start.
const nodeBin = process.env.PI_EMU_ARCH ? 'node' : process.execPath;
const cli = join(root, 'bin', 'edge-infer.js');
const modelsDir = values.models === undefined ? join(root, 'models') : resolve(values.models);
const modelsArgs = values.models === undefined ? [] : ['--models', modelsDir];

/** Runs the CLI; resolves {code, json, stderr, ms}. json is null when stdout is not one JSON document. */
function runCli(args) {
  return new Promise((res, rej) => {
    const t0 = Date.now();
    const child = spawn(nodeBin, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', rej);
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8');
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        /* judged below */
      }
      res({ code, json, stdout: text, stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - t0 });
    });
  });
}

let failed = false;
function need(label, r) {
  if (r.json === null) {
    failed = true;
    process.stderr.write(`check: ${label} printed no JSON (exit ${r.code})\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(0, 4000)}\n`);
  }
  return r.json;
}

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

const started = Date.now();
const doc = { node: { arch: process.arch, version: process.version, emulated: process.env.PI_EMU_ARCH ?? null, cpu: process.env.PI_EMU_CPU ?? null }, profile: values.profile ?? null, samples: sampleCount, detect: null, boardDetect: null, plans: {}, models: [], ms: 0 };

// detect on this (possibly emulated) host: what it reads from /proc and which profile it picks.
{
  const r = await runCli(['detect', '--json']);
  const d = need('detect', r);
  if (d !== null) {
    doc.detect = d.error
      ? { error: d.error }
      : {
          profile: d.profile.id,
          derived: d.derived,
          arch: d.profile.cpu.arch,
          nodeArch: d.facts.nodeArch,
          cpuModel: d.facts.cpuModel ?? null,
          cpuFeatures: d.facts.cpuFeatures,
          deviceTreeModel: d.facts.deviceTreeModel ?? null,
          memTotalMB: d.facts.memTotalMB ?? null,
          precision: d.profile.inference.precision,
          mismatches: Object.fromEntries(d.verdicts.filter((v) => !v.matched).map((v) => [v.id, v.mismatches])),
        };
  }
}

const tmp = await mkdtemp(join(tmpdir(), 'arm-check-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
if (values['board-mem'] !== undefined) {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  const model = /^Model\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? null;
  const mem = Number(values['board-mem']);
  const tree = join(tmp, 'host');
  await mkdir(join(tree, 'proc', 'device-tree'), { recursive: true });
  await writeFile(join(tree, 'proc', 'cpuinfo'), cpuinfo);
  await writeFile(join(tree, 'proc', 'meminfo'), `MemTotal: ${mem * 1024} kB\nMemAvailable: ${Math.floor(mem * 0.8) * 1024} kB\n`);
  if (model !== null) await writeFile(join(tree, 'proc', 'device-tree', 'model'), `${model}\0`);
  const d = need('detect --root', await runCli(['detect', '--json', '--root', tree]));
  if (d !== null) doc.boardDetect = d.error ? { error: d.error } : { cpuinfoModel: model, memTotalMB: mem, profile: d.profile.id, derived: d.derived, arch: d.profile.cpu.arch };
}

// plan: for the detected profile and each --plans entry ("profile" or "profile:backend").
const planSpecs = [{ key: 'detected', args: [] }];
for (const spec of values.plans.split(',').filter((s) => s !== '')) {
  const [p, b] = spec.split(':');
  planSpecs.push({ key: spec, args: ['--profile', p, ...(b ? ['--backend', b] : [])] });
}
for (const { key, args } of planSpecs) {
  const r = await runCli(['plan', '--json', ...modelsArgs, ...args]);
  const d = need(`plan ${key}`, r);
  if (d === null) continue;
  doc.plans[key] = d.error ? { error: d.error } : { profile: d.profile, backend: d.backend, budgetMB: d.budget.budgetMB, chosen: Object.fromEntries(d.plan.models.map((m) => [m.model, m.chosen?.variant ?? null])), precision: Object.fromEntries(d.plan.models.map((m) => [m.model, m.chosen?.precision ?? null])) };
}

// infer: the planned variant of each model through the real CLI (`infer`), then every variant of
// every model through the same engine in THIS process (one node start per architecture: under
// emulation a node start costs 10-30 s, a variant a second or two).
{
  const dist = (p) => pathToFileURL(join(root, 'dist', 'runtime', p)).href;
  const { createEngine } = await import(dist('backend/select-engine.js'));
  const { loadManifests } = await import(dist('repository/manifest.js'));
  const { verifyVariant } = await import(dist('repository/integrity.js'));
  const engine = createEngine(values.backend ?? 'auto');
  const { loaded } = await loadManifests(modelsDir);
  try {
    for (const lm of loaded) {
      const manifest = lm.manifest;
      const evalBytes = await readFile(join(lm.dir, manifest.eval.file));
      const evalDoc = JSON.parse((manifest.eval.file.endsWith('.gz') ? gunzipSync(evalBytes) : evalBytes).toString('utf8'));
      // A recurrent model (several inputs, state carried frame to frame: the zoo's vad) is not run
      // here: one batch of independent eval rows is what this check compares across architectures.
      if (manifest.inputs.length > 1 || evalDoc.sequence !== undefined) {
        doc.models.push({ model: manifest.id, samples: [], variants: [], skipped: 'several inputs / recurrent state: not a batch of independent rows' });
        continue;
      }
      const total = evalDoc.inputs.length;
      const n = Math.min(sampleCount, total);
      const picks = Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
      const m = { model: manifest.id, samples: picks.map((i) => ({ index: i, label: evalDoc.labels[i] })), variants: [] };
      doc.models.push(m);
      if (values['no-infer']) continue;
      const spec = manifest.inputs[0];
      const flat = picks.flatMap((i) => evalDoc.inputs[i]);
      const dims = [n, ...spec.shape.slice(1).map((d) => (typeof d === 'number' ? d : 1))];
      const tensor = () => ({ dtype: spec.dtype, dims, data: spec.dtype === 'int64' ? BigInt64Array.from(flat.map((x) => BigInt(x))) : spec.dtype === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat) });
      // The CLI path once per model (the planner's choice), so `infer` itself is proven on this arch.
      const request = join(tmp, `${manifest.id}.json`);
      await writeFile(request, JSON.stringify({ id: `arm-check-${manifest.id}`, input: flat }));
      const cliArgs = ['infer', manifest.id, '--input', request, '--json', ...modelsArgs];
      if (values.profile) cliArgs.push('--profile', values.profile);
      if (values.backend) cliArgs.push('--backend', values.backend);
      const viaCli = need(`infer ${manifest.id}`, await runCli(cliArgs));
      m.cli = viaCli === null ? null : viaCli.error ? { error: viaCli.error.code } : { variant: viaCli.variant, backend: viaCli.backend, top1: viaCli.top?.[0]?.index ?? null };
      for (const v of manifest.variants) {
        const t0 = Date.now();
        const row = { variant: v.id, precision: v.precision };
        const key = `arm-check:${manifest.id}@${v.id}`;
        try {
          const { path, bytes } = await verifyVariant(lm, v);
          await engine.load({ key, file: path, bytes, session: { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true } });
          const r = await engine.run(key, { [spec.name]: tensor() });
          await engine.unload(key);
          const out = r.outputs[manifest.outputs[0].name];
          const per = out.dims.slice(1).reduce((a, b) => a * b, 1);
          const data = Array.from(out.data, Number);
          row.backend = engine.kind;
          row.profile = values.profile ?? null;
          row.ranVariant = v.id;
          row.logits = picks.map((_, s) => data.slice(s * per, (s + 1) * per));
          row.top1 = row.logits.map(argmax);
        } catch (e) {
          row.error = { code: e?.code ?? 'ERROR', message: String(e?.message ?? e).slice(0, 500) };
          failed = true;
        }
        row.ms = Date.now() - t0;
        m.variants.push(row);
      }
      m.variants.sort((a, b) => a.variant.localeCompare(b.variant));
    }
  } finally {
    await engine.close();
  }
}
doc.ms = Date.now() - started;
const text = JSON.stringify(doc, null, 1) + '\n';
if (values.out) await writeFile(values.out, text);
else process.stdout.write(text);
process.exit(failed ? 1 : 0);
