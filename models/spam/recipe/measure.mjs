// Recipe helper: measures every variant listed in VARIANTS below and writes the
// figures (bytes, sha256, params, MACs, ops, layerBits, accuracy, agreement with the reference) into
// models/spam/model.json, plus batch-1 and batch-32 latency (median of runs inside session.run, onnxruntime-node,
// 1 thread) into recipe/metrics.json -> variantLatency. Uses the compiled runtime (run `npm run build` first).
// Written because `edge-infer eval --update-manifest` feeds float32 rows, and this model takes int64 ids.
// Usage (repo root): node models/spam/recipe/measure.mjs [--runs 200]
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { evaluateAccuracy } from '../../../dist/runtime/backend/run-once.js';
import { modelFigures, qualityFigures } from '../../../dist/runtime/optimize/evaluate.js';
import { readOnnx } from '../../../dist/runtime/optimize/onnx-io.js';

const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 200;
const manifestFile = path.join(dir, 'model.json');
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
/** Manifest entries: what measuring cannot know (precision, how it was made). macsFrom: see architectureMacs. */
const VARIANTS = [
  { id: 'teacher-fp32', file: 'teacher-fp32.onnx', precision: 'fp32' },
  { id: 'teacher-int8', file: 'teacher-int8.onnx', macsFrom: 'teacher-fp32.onnx', precision: 'int8' },
  { id: 'teacher-mixed', file: 'teacher-mixed.onnx', macsFrom: 'teacher-fp32.onnx', precision: 'mixed' },
  { id: 'teacher-pruned50', file: 'teacher-pruned50.onnx', precision: 'fp32', pruning: { method: 'structured-units-l2', sparsity: 0.5 } },
  { id: 'student-fp32', file: 'student-fp32.onnx', precision: 'fp32', distillation: { teacher: 'teacher-fp32', temperature: 2.0 } },
  { id: 'student-int8', file: 'student-int8.onnx', macsFrom: 'student-fp32.onnx', precision: 'int8', distillation: { teacher: 'teacher-fp32', temperature: 2.0 } },
];
const plan = VARIANTS;
const evalSet = JSON.parse(readFileSync(path.join(dir, manifest.eval.file), 'utf8'));

async function latency(file, batch, runs) {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const L = evalSet.inputs[0].length;
  const rows = evalSet.inputs.length;
  const feed = (i) => ({ [s.inputNames[0]]: new ort.Tensor('int64', BigInt64Array.from(Array.from({ length: batch }, (_, b) => evalSet.inputs[(i * batch + b) % rows]).flat(), BigInt), [batch, L]) });
  for (let i = 0; i < 10; i++) await s.run(feed(i));
  const times = [];
  for (let i = 0; i < runs; i++) {
    const f = feed(i);
    const t0 = performance.now();
    await s.run(f);
    times.push(performance.now() - t0);
  }
  await s.release();
  times.sort((a, b) => a - b);
  return { batch, runs, medianMs: times[Math.floor(runs / 2)], minMs: times[0], p90Ms: times[Math.floor(runs * 0.9)] };
}

/**
 * MatMul/Gemm MACs per sample at batch 1 of an fp32 graph of this architecture, from its weight shapes:
 * per-token MatMuls (2-D constant weight) K*N*L, the head Gemm K*N, each attention MatMul (no
 * constant operand: scores and weighted sum) L*L*d. Used because inspect cannot follow shapes through
 * this graph's Gather/Reshape/Split (it reports MACs as unknown); quantized variants get their source's figure.
 */
function architectureMacs(bytes) {
  const g = readOnnx(bytes).graph;
  const dims = new Map(g.initializer.map((t) => [t.name, t.dims.map(Number)]));
  const L = evalSet.inputs[0].length;
  const d = dims.get(g.node.find((n) => n.name === '/proj/MatMul').input[1])[1];
  let macs = 0;
  for (const n of g.node) {
    const w = dims.get(n.input[1] ?? '');
    if (n.opType === 'MatMul') macs += w !== undefined && w.length === 2 ? w[0] * w[1] * L : L * L * d;
    if (n.opType === 'Gemm' && w !== undefined) macs += w[0] * w[1];
  }
  return macs;
}

const preds = {};
const variants = [];
const lat = {};
for (const v of plan) {
  const bytes = new Uint8Array(readFileSync(path.join(dir, v.file)));
  const fig = modelFigures(bytes, readOnnx(bytes));
  const { predictions } = await evaluateAccuracy(bytes, evalSet);
  preds[v.id] = predictions;
  const q = qualityFigures(predictions, evalSet.labels, preds[manifest.reference]);
  lat[v.id] = [await latency(path.join(dir, v.file), 1, RUNS), await latency(path.join(dir, v.file), 32, Math.max(10, Math.round(RUNS / 10)))];
  const out = { id: v.id, file: v.file, sha256: fig.sha256, bytes: fig.bytes, precision: v.precision };
  if (fig.layerBits !== undefined && v.precision === 'mixed') out.layerBits = fig.layerBits;
  if (v.pruning) out.pruning = v.pruning;
  if (v.distillation) out.distillation = v.distillation;
  const macs = fig.macsUnknown.length === 0 ? fig.macs : architectureMacs(readFileSync(path.join(dir, v.macsFrom ?? v.file)));
  Object.assign(out, { params: fig.params, macs, ops: fig.ops, quality: { accuracy: q.accuracy, agreement: q.agreement ?? 1, evalCount: q.evalCount } });
  variants.push(out);
  console.log(
    `${v.id.padEnd(18)} ${String(fig.bytes).padStart(9)} B  params ${String(fig.params).padStart(8)}  macs ${String(macs).padStart(10)}${fig.macsUnknown.length ? ' (architecture)' : ''}  acc ${q.accuracy.toFixed(4)}  agree ${(q.agreement ?? 1).toFixed(4)}  b1 ${lat[v.id][0].medianMs.toFixed(3)} ms (min ${lat[v.id][0].minMs.toFixed(3)})  b32 ${lat[v.id][1].medianMs.toFixed(3)} ms`,
  );
}
manifest.variants = variants;
writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
const metricsFile = path.join(dir, 'recipe', 'metrics.json');
const metrics = JSON.parse(readFileSync(metricsFile, 'utf8'));
metrics.variantLatency = { note: 'recipe/measure.mjs: onnxruntime-node, 1 intra-op thread, graph optimization all, batch 1 and 32, eval rows in order; median, min and p90 of session.run', host: process.arch, latency: lat };
writeFileSync(metricsFile, JSON.stringify(metrics, null, 2) + '\n');
