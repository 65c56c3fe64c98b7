/**
 * Static int8 (QDQ) vs fp32 speed, 1 intra-op thread, batch 1 and 32 (issue 10 targets: >= 1.2x at
 * batch 1, >= 1.5x at batch 32 on a CNN). Runs alternate between the two models in rounds so load
 * from other processes hits both alike; the figures are the median over rounds of each round's median
 * and the fastest round of each (on a machine shared with other jobs the fastest round is the better
 * estimate of the model's own cost: contention only ever adds time).
 *
 *   node dist/bench/static-int8.js                         # synthetic residual CNN (32 ch, 32x32), quantized here
 *   node dist/bench/static-int8.js <fp32.onnx> <int8.onnx> [3,48,192]  # two files; the sample shape
 *                                                          # (without batch) when the input has dynamic dims
 *
 * Prints one line per batch size, and the operators onnxruntime runs for the int8 model after its
 * graph optimizations (to see whether the QDQ groups fused into QLinearConv / QGemm / QLinearAdd).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { runRowsBatched } from '../runtime/backend/run-once.js';
import { sessionOptions, TOOL_SESSION } from '../runtime/backend/session-options.js';
import { readOnnx, writeOnnx } from '../runtime/optimize/onnx-io.js';
import { quantizeStatic } from '../runtime/optimize/quantize-static.js';
import { mulberry32 } from '../test/helpers/prng.js';
import { buildCnn } from '../test/helpers/synthetic-graphs.js';

const OPTS = sessionOptions({ ...TOOL_SESSION, backend: 'native' });

async function models(): Promise<{ fp32: Uint8Array; int8: Uint8Array; label: string }> {
  const [a, b] = process.argv.slice(2);
  if (a !== undefined && b !== undefined) return { fp32: readFileSync(a), int8: readFileSync(b), label: `${a} vs ${b}` };
  const model = buildCnn({ channels: 32, size: 32 });
  const r = mulberry32(1);
  const rows = Array.from({ length: 64 }, () => Array.from({ length: 1024 }, () => r()));
  const { model: q } = await quantizeStatic(model, { runner: (bytes, outs, visit) => runRowsBatched(bytes, { inputs: rows, shape: [1, 32, 32] }, 16, outs, visit) });
  return { fp32: writeOnnx(model), int8: writeOnnx(q), label: 'synthetic residual CNN 32 ch 32x32 (test/helpers/synthetic-graphs.ts buildCnn)' };
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] as number;
}

async function fusedOps(bytes: Uint8Array): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  try {
    const file = join(dir, 'opt.onnx');
    const s = await ort.InferenceSession.create(bytes, { ...OPTS, optimizedModelFilePath: file });
    await s.release();
    const counts: Record<string, number> = {};
    for (const n of readOnnx(readFileSync(file)).graph.node) counts[n.opType ?? ''] = (counts[n.opType ?? ''] ?? 0) + 1;
    return Object.entries(counts)
      .map(([k, v]) => `${k} x${v}`)
      .join(', ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { fp32, int8, label } = await models();
const probe = await ort.InferenceSession.create(fp32, OPTS);
const meta = probe.inputMetadata[0];
const given = process.argv[4]?.split(',').map(Number);
const declared = meta !== undefined && meta.isTensor ? meta.shape.slice(1) : [];
if (given === undefined && declared.some((d) => typeof d !== 'number')) throw new Error(`the input has dynamic dims [${declared.join(', ')}]: pass the sample shape, e.g. 3,48,192`);
const sample = given ?? (declared as number[]);
const inputName = probe.inputNames[0] as string;
await probe.release();
console.log(`static int8 vs fp32: ${label}; fp32 ${fp32.byteLength} B, int8 ${int8.byteLength} B (${(fp32.byteLength / int8.byteLength).toFixed(2)}x smaller)`);
console.log(`int8 after onnxruntime's optimizations: ${await fusedOps(int8)}`);
const sessions = { fp32: await ort.InferenceSession.create(fp32, OPTS), int8: await ort.InferenceSession.create(int8, OPTS) };
for (const batch of [1, 32]) {
  const size = sample.reduce((x, y) => x * y, batch);
  const r = mulberry32(batch);
  const x = new ort.Tensor(
    'float32',
    Float32Array.from({ length: size }, () => r()),
    [batch, ...sample],
  );
  const rounds: Record<'fp32' | 'int8', number[]> = { fp32: [], int8: [] };
  const iterations = batch === 1 ? 100 : 10;
  for (let round = 0; round < 9; round++) {
    for (const k of ['fp32', 'int8'] as const) {
      const s = sessions[k];
      await s.run({ [inputName]: x });
      const times: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const t0 = process.hrtime.bigint();
        await s.run({ [inputName]: x });
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      rounds[k].push(median(times));
    }
  }
  const f = median(rounds.fp32);
  const q = median(rounds.int8);
  const fMin = Math.min(...rounds.fp32);
  const qMin = Math.min(...rounds.int8);
  console.log(`batch ${batch}: fp32 ${f.toFixed(3)} ms, int8 ${q.toFixed(3)} ms, int8 speed-up ${(f / q).toFixed(2)}x (median of 9 rounds x ${iterations} runs, 1 thread); ` + `fastest round: fp32 ${fMin.toFixed(3)} ms, int8 ${qMin.toFixed(3)} ms, ${(fMin / qMin).toFixed(2)}x`);
}
await sessions.fp32.release();
await sessions.int8.release();
