/**
 * Issue 18: what the WASM backend costs in memory, measured (not a test; prints figures).
 *
 *   nice node dist/bench/wasm-memory.js [--models <dir>] [--runs N] [--quick] [--json <file>]
 *
 * Every figure comes from a fresh child process (so one measurement's heap growth, compiled code
 * or GC state never leaks into the next) running the real WasmEngine (runtime/backend):
 * 1. tiers: the shared runtime's start (worker + onnxruntime-web initialised) and a model after
 *    `--runs` runs, with V8's default wasm tiering vs `--liftoff-only` (wasm-v8-flags.ts);
 * 2. variants: for every variant of every model under models/, on a started runtime, alone and
 *    after the smallest variant of every other model: RSS growth of its load + warm-up, RSS growth
 *    after `--runs` more runs, p50 run latency (alone). These are the per-model figures and the
 *    shared allowance of the planner's WASM memory model (planner/wasm-memory.ts);
 * 3. layout: the plan's models all in one shared runtime vs one runtime each;
 * 4. threads: onnxruntime-web numThreads 1, 2, 4 on the largest model: RSS and p50.
 * `--write` regenerates runtime/planner/wasm-memory-figures.ts (the planner's reference figures)
 * from sections 1-2: each variant's own cost (after the others) x 1.15 + 1 MB, the runtime's start
 * the largest seen x 1.05, the shared allowance the largest alone - own gap (margins so that the
 * service's own measurement on this machine stays under what `plan` charged: plan == run), and the
 * fallback line above every variant's figure (fitFallback).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import type { WasmTiers } from '../runtime/backend/wasm-v8-flags.js';
import { fitFallback } from '../runtime/planner/wasm-memory.js';
import type { WasmMemoryFigures } from '../runtime/planner/types.js';
import { loadManifests } from '../runtime/repository/manifest.js';
import { warmupInputs } from '../runtime/service/warmup.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { median, printTable, quantile } from './stats.js';

const MB = 1024 * 1024;
const rss = (): number => process.memoryUsage().rss / MB;
const r1 = (x: number): string => x.toFixed(1);
const SELF = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SELF), '../..');

interface Job {
  file: string;
  inputs: NamedTensors;
}
interface ChildResult {
  baseMB: number;
  runtimeMB: number;
  /** Per file: growth of load + warm-up, growth after the runs, p50 ms. */
  models: { loadMB: number; afterRunsMB: number; p50Ms: number; p95Ms: number }[];
  totalMB: number;
}

const clone = (t: NamedTensors): NamedTensors => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ...v, data: v.data.slice() }])) as NamedTensors;

/** Child: loads `jobs` (each in its own runtime when `separate`), runs each `runs` times. */
async function child(tiers: WasmTiers, threads: number, separate: boolean, runs: number, jobs: Job[]): Promise<ChildResult> {
  const baseMB = rss();
  const engines: WasmEngine[] = [];
  const session = { intraOpThreads: threads, graphOptimization: 'all' as const, memArena: false, memPattern: true };
  let runtimeMB = 0;
  const models: ChildResult['models'] = [];
  for (const [i, job] of jobs.entries()) {
    if (engines.length === 0 || separate) {
      const e = new WasmEngine({ tiers, threads });
      e.prestart();
      engines.push(e);
    }
    const engine = engines.at(-1) as WasmEngine;
    const key = `m${i}`;
    // Wait for the runtime: a load on a fresh engine waits for it, so load a first time via a
    // timed path and read runtimeMB (its start is measured apart from the model).
    const before = rss();
    const info = await engine.load({ key, file: job.file, session, warmup: clone(job.inputs) });
    if (i === 0 || separate) runtimeMB += engine.runtimeMB() ?? 0;
    const times: number[] = [];
    for (let k = 0; k < runs; k++) {
      const t0 = performance.now();
      await engine.run(key, clone(job.inputs));
      times.push(performance.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 100));
    const fresh = i === 0 || separate ? (engine.runtimeMB() ?? 0) : 0;
    models.push({ loadMB: info.rssDeltaMB, afterRunsMB: rss() - before - fresh, p50Ms: median(times), p95Ms: quantile(times, 0.95) });
  }
  const totalMB = rss() - baseMB;
  await Promise.all(engines.map((e) => e.close()));
  return { baseMB, runtimeMB, models, totalMB };
}

function spawnChild(args: string[]): ChildResult {
  const out = execFileSync(process.execPath, [SELF, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ChildResult;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  if (argv[0] === '--child') {
    const [tiers, threads, separate, runs, jobsJson] = argv.slice(1);
    const specs = JSON.parse(jobsJson ?? '[]') as { file: string; model: string }[];
    const { loaded } = await loadManifests(path.join(ROOT, flag('--models') ?? 'models'));
    const jobs = specs.map((s) => {
      const m = loaded.find((l) => l.manifest.id === s.model);
      if (!m) throw new Error(`no model ${s.model}`);
      return { file: s.file, inputs: warmupInputs(m.manifest.inputs) };
    });
    const r = await child(tiers as WasmTiers, Number(threads), separate === 'separate', Number(runs), jobs);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const runs = Number(flag('--runs') ?? (quick ? 50 : 300));
  const modelsDir = path.resolve(flag('--models') ?? path.join(ROOT, 'models'));
  const { loaded } = await loadManifests(modelsDir);
  const all = loaded.flatMap((l) => l.manifest.variants.map((v) => ({ model: l.manifest.id, variant: v.id, bytes: v.bytes, sha256: v.sha256, file: path.join(l.dir, v.file) })));
  const runtimes: number[] = [];
  const figures: WasmMemoryFigures['variants'] = [];
  const job = (x: { model: string; file: string }): string => JSON.stringify([{ model: x.model, file: x.file }]);
  const report: Record<string, unknown> = { runs, node: process.version, at: new Date().toISOString() };

  // 1. tiers
  const largest = [...all].sort((a, b) => b.bytes - a.bytes)[0];
  if (!largest) throw new Error('no models');
  const tierRows: string[][] = [];
  const tiers: Record<string, ChildResult> = {};
  for (const t of ['default', 'liftoff-only'] as const) {
    const r = spawnChild([t, '1', 'shared', String(runs), job(largest)]);
    tiers[t] = r;
    if (t === 'liftoff-only') runtimes.push(r.runtimeMB);
    const m = r.models[0];
    tierRows.push([t, r1(r.runtimeMB), r1(m?.loadMB ?? 0), r1(m?.afterRunsMB ?? 0), (m?.p50Ms ?? 0).toFixed(3), r1(r.totalMB)]);
  }
  printTable(`1. V8 wasm tiers (runtime start, then ${largest.model}/${largest.variant} and ${runs} runs)`, ['tiers', 'runtime MB', 'load MB', 'after runs MB', 'p50 ms', 'total MB'], tierRows);
  report.tiers = tiers;

  // 2. every variant, liftoff-only, one thread: alone on a started runtime, and after the smallest
  // variant of every other model (its own cost once the shared kernels are paid).
  const rows: string[][] = [];
  const variants: { model: string; variant: string; bytes: number; aloneMB: number; ownMB: number; p50Ms: number }[] = [];
  const smallest = new Map<string, { model: string; file: string }>();
  for (const v of [...all].sort((a, b) => b.bytes - a.bytes)) smallest.set(v.model, { model: v.model, file: v.file });
  for (const v of all) {
    const r = spawnChild(['liftoff-only', '1', 'shared', String(runs), job(v)]);
    const primers = [...smallest.values()].filter((p) => p.model !== v.model);
    const after = spawnChild(['liftoff-only', '1', 'shared', String(runs), JSON.stringify([...primers, { model: v.model, file: v.file }])]);
    const m = r.models[0];
    const own = after.models.at(-1);
    if (!m || !own) continue;
    const aloneMB = Math.max(0, m.loadMB, m.afterRunsMB);
    const ownMB = Math.max(0, own.loadMB, own.afterRunsMB);
    runtimes.push(r.runtimeMB, after.runtimeMB);
    figures.push({ model: v.model, variant: v.variant, sha256: v.sha256, mb: Math.ceil((ownMB * 1.15 + 1) * 10) / 10 });
    variants.push({ model: v.model, variant: v.variant, bytes: v.bytes, aloneMB, ownMB, p50Ms: m.p50Ms });
    rows.push([v.model, v.variant, (v.bytes / MB).toFixed(2), r1(r.runtimeMB), r1(m.loadMB), r1(m.afterRunsMB), r1(own.loadMB), r1(own.afterRunsMB), r1(aloneMB - ownMB), m.p50Ms.toFixed(3)]);
  }
  printTable('2. every variant on a started shared runtime (liftoff-only, 1 thread): alone, and after the smallest variant of each other model', ['model', 'variant', 'file MB', 'runtime MB', 'alone: load MB', 'after runs MB', 'after others: load MB', 'after runs MB', 'shared MB', 'p50 ms'], rows);
  report.variants = variants;

  // 3. layout: one of each model (its largest variant) shared vs separate
  const perModel = loaded
    .map((l) => {
      const v = [...l.manifest.variants].sort((a, b) => b.bytes - a.bytes)[0];
      return v ? { model: l.manifest.id, file: path.join(l.dir, v.file) } : null;
    })
    .filter((x): x is { model: string; file: string } => x !== null);
  const layoutRows: string[][] = [];
  const layout: Record<string, ChildResult> = {};
  for (const l of ['shared', 'separate'] as const) {
    const r = spawnChild(['liftoff-only', '1', l, String(runs), JSON.stringify(perModel)]);
    layout[l] = r;
    layoutRows.push([l, String(perModel.length), r1(r.runtimeMB), r1(r.totalMB)]);
  }
  printTable('3. layout: the largest variant of each model, in one shared runtime vs one runtime each', ['layout', 'models', 'runtime(s) MB', 'total RSS growth MB'], layoutRows);
  report.layout = layout;

  // 4. threads
  const threadRows: string[][] = [];
  const threads: Record<string, ChildResult> = {};
  for (const n of quick ? [1, 2] : [1, 2, 4]) {
    const r = spawnChild(['liftoff-only', String(n), 'shared', String(runs), job(largest)]);
    threads[n] = r;
    threadRows.push([String(n), r1(r.runtimeMB), r1(r.totalMB), (r.models[0]?.p50Ms ?? 0).toFixed(3), (r.models[0]?.p95Ms ?? 0).toFixed(3)]);
  }
  printTable(`4. onnxruntime-web numThreads on ${largest.model}/${largest.variant}`, ['threads', 'runtime MB', 'total MB', 'p50 ms', 'p95 ms'], threadRows);
  report.threads = threads;

  const doc: WasmMemoryFigures = {
    measuredOn: `x86-64 (${process.arch}), Node ${process.version}, onnxruntime-web 1.30, liftoff-only, 1 thread, ${new Date().toISOString().slice(0, 10)}: node dist/bench/wasm-memory.js --runs ${runs} --write`,
    runtimeMB: Math.ceil(Math.max(...runtimes) * 1.05 * 10) / 10,
    sharedMB: Math.ceil(Math.max(0, ...variants.map((v) => v.aloneMB - v.ownMB)) * 10) / 10,
    variants: figures,
    fallback: fitFallback(variants.map((v) => ({ fileMB: v.bytes / MB, mb: v.ownMB * 1.15 + 1 }))),
  };
  console.log(`\nplanner figures: runtime start ${doc.runtimeMB} MB (largest start ${r1(Math.max(...runtimes))} x 1.05), shared ${doc.sharedMB} MB, fallback ${doc.fallback.baseMB} MB + ${doc.fallback.perFileMB} x file MB`);
  if (argv.includes('--write')) {
    const file = path.join(ROOT, 'runtime/planner/wasm-memory-figures.ts');
    writeFileSync(
      file,
      `/**\n * GENERATED by bench/wasm-memory.ts --write: the WASM memory model's reference figures (issue 18),\n * measured on the machine named in measuredOn. See wasm-memory.ts for how they are used; a board's\n * \`edge-infer bench --calibrate\` overrides them.\n */\nimport type { WasmMemoryFigures } from './types.js';\n\nexport const WASM_REFERENCE: WasmMemoryFigures = ${JSON.stringify(doc, null, 2)};\n`,
    );
    console.log(`wrote ${file}`);
  }
  const json = flag('--json');
  if (json !== undefined) writeFileSync(json, JSON.stringify(report, null, 2));
}

await main();
