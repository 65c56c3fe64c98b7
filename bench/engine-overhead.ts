/**
 * Benchmark (not a test): edge-infer's in-process path vs raw onnxruntime in the same process.
 *
 *   node dist/bench/engine-overhead.js [--json <file>] [--quick]
 *
 * For each model: the same input through (a) a DirectSession on this thread (raw
 * InferenceSession.run), (b) NativeEngine.run (worker thread, transferred tensors), (c)
 * ModelQueue.submit in front of the engine (no batching); and WasmEngine.run for reference. Blocks of iterations alternate between
 * the paths so machine noise hits all of them alike. Prints medians and ratios to raw; then load
 * time and RSS growth for a first load (writes the optimized-model cache) and a second (cached).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { openDirectSession } from '../runtime/backend/direct-session.js';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { WasmEngine } from '../runtime/backend/wasm-engine.js';
import { ModelQueue } from '../runtime/scheduler/model-queue.js';
import type { NamedTensors, Tensor } from '../runtime/tensor.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const session: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };

interface Case {
  name: string;
  file: string;
  input: () => NamedTensors;
}

const filled = (dims: number[], seed = 1): Float32Array => {
  const n = dims.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    a[i] = s / 2147483648 - 0.5;
  }
  return a;
};
const tensor = (dims: number[]): Tensor => ({ dtype: 'float32', dims, data: filled(dims) });
const digitRow = (JSON.parse(readFileSync(join(root, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0] ?? [];

const cases: Case[] = [
  { name: 'add-one b1', file: join(root, 'test/fixtures/models/add-one.onnx'), input: () => ({ x: tensor([1, 4]) }) },
  { name: 'digits teacher b1', file: join(root, 'models/digits/teacher-fp32.onnx'), input: () => ({ input: { dtype: 'float32', dims: [1, 64], data: new Float32Array(digitRow) } }) },
  { name: 'mlp-wide b1', file: join(root, 'test/fixtures/models/mlp-wide.onnx'), input: () => ({ input: tensor([1, 256]) }) },
  { name: 'mlp-wide b32', file: join(root, 'test/fixtures/models/mlp-wide.onnx'), input: () => ({ input: tensor([32, 256]) }) },
  { name: 'slow-matmul n=128', file: join(root, 'test/fixtures/models/slow-matmul.onnx'), input: () => ({ x: tensor([128, 128]) }) },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function timeBlock(n: number, once: () => Promise<unknown>, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once();
    into.push(performance.now() - t0);
  }
}

interface Row {
  model: string;
  rawMs: number;
  engineMs: number;
  queueMs: number;
  engineRatio: number;
  queueRatio: number;
  samples: number;
  wasmMs: number;
}

async function overhead(c: Case, engine: NativeEngine, wasm: WasmEngine): Promise<Row> {
  const direct = await openDirectSession(c.file, session);
  await engine.load({ key: c.name, file: c.file, session });
  const queue = new ModelQueue({ engine, key: c.name, queueLimit: 4 });
  const fixed = c.input();
  // Engine paths transfer their inputs, so each call gets a fresh copy made outside the timing.
  const copies = (): NamedTensors => Object.fromEntries(Object.entries(fixed).map(([k, t]) => [k, { ...t, data: t.data.slice() } as Tensor]));
  const raw: number[] = [];
  const eng: number[] = [];
  const q: number[] = [];
  const probeT0 = performance.now();
  await timeBlock(20, () => direct.run(fixed), []);
  const perCallMs = (performance.now() - probeT0) / 20;
  const block = Math.max(5, Math.min(100, Math.round(20 / Math.max(perCallMs, 0.01))));
  const rounds = quick ? 5 : 15;
  await timeBlock(block, () => engine.run(c.name, copies()), []);
  await timeBlock(block, () => queue.submit(copies(), 1), []);
  for (let r = 0; r < rounds; r++) {
    await timeBlock(block, () => direct.run(fixed), raw);
    const pre = Array.from({ length: block }, copies);
    let i = 0;
    await timeBlock(block, () => engine.run(c.name, pre[i++] as NamedTensors), eng);
    const preQ = Array.from({ length: block }, copies);
    let j = 0;
    await timeBlock(block, () => queue.submit(preQ[j++] as NamedTensors, 1), q);
  }
  await direct.release();
  await engine.unload(c.name);
  await wasm.load({ key: c.name, file: c.file, session });
  const w: number[] = [];
  await timeBlock(block, () => wasm.run(c.name, copies()), []);
  const preW = Array.from({ length: block * rounds }, copies);
  let k = 0;
  await timeBlock(block * rounds, () => wasm.run(c.name, preW[k++] as NamedTensors), w);
  await wasm.unload(c.name);
  const rawMs = median(raw);
  return { model: c.name, rawMs, engineMs: median(eng), queueMs: median(q), engineRatio: median(eng) / rawMs, queueRatio: median(q) / rawMs, samples: raw.length, wasmMs: median(w) };
}

interface LoadRow {
  model: string;
  firstLoadMs: number;
  cachedLoadMs: number;
  firstSessionMs: number;
  cachedSessionMs: number;
  firstRssMB: number;
  cachedRssMB: number;
  fromCache: boolean;
}

async function loads(name: string, file: string): Promise<LoadRow> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  try {
    const spec: SessionSpec = { ...session, optimizedModelPath: join(dir, 'model.opt.onnx') };
    const engine = new NativeEngine();
    const a = await engine.load({ key: 'm', file, session: spec });
    await engine.unload('m');
    const b = await engine.load({ key: 'm', file, session: spec });
    await engine.close();
    return { model: name, firstLoadMs: a.loadMs, cachedLoadMs: b.loadMs, firstSessionMs: a.sessionMs ?? NaN, cachedSessionMs: b.sessionMs ?? NaN, firstRssMB: a.rssDeltaMB, cachedRssMB: b.rssDeltaMB, fromCache: b.fromCache };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Floor of any worker-thread design: a postMessage round trip to an idle echo worker. */
async function pingFloorMs(n: number): Promise<number> {
  const w = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m))", { eval: true });
  const once = (): Promise<unknown> =>
    new Promise((resolve) => {
      w.once('message', resolve);
      w.postMessage(1);
    });
  await timeBlock(200, once, []);
  const xs: number[] = [];
  await timeBlock(n, once, xs);
  await w.terminate();
  return median(xs);
}

const f = (x: number, d = 3): string => x.toFixed(d);
const engine = new NativeEngine();
await engine.load({ key: 'boot', file: join(root, 'test/fixtures/models/add-one.onnx'), session }); // first load pays the shared library
await engine.unload('boot');
const wasm = new WasmEngine();
const rows: Row[] = [];
for (const c of cases) rows.push(await overhead(c, engine, wasm));
await engine.close();
await wasm.close();
const floor = await pingFloorMs(2000);
console.log(`postMessage round trip to an idle worker (floor of the worker hop): median ${f(floor)} ms\n`);
console.log('In-process overhead, batch as named, 1 intra-op thread, medians (ms):');
console.log('model                 raw      engine   queue    engine/raw  queue/raw  samples  wasm-engine');
for (const r of rows) console.log(`${r.model.padEnd(20)}  ${f(r.rawMs).padStart(7)}  ${f(r.engineMs).padStart(7)}  ${f(r.queueMs).padStart(7)}  ${f(r.engineRatio, 2).padStart(9)}x  ${f(r.queueRatio, 2).padStart(8)}x  ${String(r.samples).padStart(7)}  ${f(r.wasmMs).padStart(11)}`);
const loadRows = [await loads('digits teacher', join(root, 'models/digits/teacher-fp32.onnx')), await loads('mlp-wide', join(root, 'test/fixtures/models/mlp-wide.onnx'))];
console.log('\nLoad (worker start + read + session create, main-thread clock), first vs second load with the optimized-model cache:');
console.log('model            first ms  cached ms  (session part: first / cached)  fromCache  first RSS MB  cached RSS MB');
for (const l of loadRows)
  console.log(`${l.model.padEnd(15)}  ${f(l.firstLoadMs, 1).padStart(8)}  ${f(l.cachedLoadMs, 1).padStart(9)}  ${(f(l.firstSessionMs, 1) + ' / ' + f(l.cachedSessionMs, 1)).padStart(30)}  ${String(l.fromCache).padStart(9)}  ${f(l.firstRssMB, 1).padStart(12)}  ${f(l.cachedRssMB, 1).padStart(13)}`);
if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify({ pingFloorMs: floor, overhead: rows, loads: loadRows }, null, 2) + '\n');
