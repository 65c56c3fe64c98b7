/**
 * `node dist/bench/hop-ab.js [digits|mlp-wide|big-mlp|mlp:<h>] [pairs]`: raw InferenceSession.run on this
 * thread vs the engine with the shared-memory ring (issue 16) vs the same engine with the ring off,
 * one call each in an order that rotates every round (a paired comparison: a burst of load from
 * other processes hits all three alike). Unlike section 1's blocks, every call here follows another
 * session's run, so a large model's weights are cold in the caches on all three paths.
 * Prints median / p10 / p90 ms and each path's median over raw's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDirectSession } from '../runtime/backend/direct-session.js';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { buildMlp, writeBigMlp } from './big-model.js';
import { writeOnnx } from '../runtime/optimize/onnx-io.js';
import { writeFileSync } from 'node:fs';
import { SESSION } from './overhead.js';
import { ROOT } from './service.js';
import { fmt, median, printTable, quantile } from './stats.js';

const which = process.argv[2] ?? 'big-mlp';
/** `mlp:<h>`: a 1024-h-h-10 MLP (run time grows with h: picks where the ring stops paying). */
function writeMlp(dir: string, h: number): string {
  const file = join(dir, `mlp-${h}.onnx`);
  writeFileSync(file, writeOnnx(buildMlp([1024, h, h, 10])));
  return file;
}
const pairs = Number(process.argv[3] ?? 1000);
const tmp = mkdtempSync(join(tmpdir(), 'edge-hop-ab-'));
try {
  const model =
    which === 'digits'
      ? { file: join(ROOT, 'models/digits/teacher-fp32.onnx'), name: 'input', width: 64 }
      : which === 'mlp-wide'
        ? { file: join(ROOT, 'test/fixtures/models/mlp-wide.onnx'), name: 'input', width: 256 }
        : which.startsWith('mlp:')
          ? { file: writeMlp(tmp, Number(which.slice(4))), name: 'x', width: 1024 }
          : { file: writeBigMlp(tmp).file, name: 'x', width: 1024 };
  const input = (): NamedTensors => ({ [model.name]: { dtype: 'float32', dims: [1, model.width], data: new Float32Array(model.width).fill(0.1) } });
  const direct = await openDirectSession(model.file, SESSION);
  // The ring on every run (ringMaxRunMs Infinity), whatever the model's run time: what this measures.
  const ring = new NativeEngine({ ringMaxRunMs: Number.POSITIVE_INFINITY });
  const off = new NativeEngine({ ringSlotBytes: 0 });
  await ring.load({ key: 'm', file: model.file, session: SESSION });
  await off.load({ key: 'm', file: model.file, session: SESSION });
  const paths: [string, () => Promise<unknown>][] = [
    ['raw', () => direct.run(input())],
    ['ring', () => ring.run('m', input())],
    ['ring off', () => off.run('m', input())],
  ];
  const xs = new Map<string, number[]>(paths.map(([n]) => [n, []]));
  for (let r = 0; r < pairs + 50; r++) {
    for (let k = 0; k < paths.length; k++) {
      const [name, run] = paths[(r + k) % paths.length] as [string, () => Promise<unknown>];
      const t0 = performance.now();
      await run();
      if (r >= 50) xs.get(name)?.push(performance.now() - t0);
    }
  }
  const raw = median(xs.get('raw') ?? []);
  printTable(
    `hop A/B, ${which}, batch 1, ${pairs} calls per path, order rotating per round (ms)`,
    ['path', 'p50', 'p10', 'p90', 'p50 / raw'],
    [...xs].map(([n, v]) => [n, fmt(median(v), 4), fmt(quantile(v, 0.1), 4), fmt(quantile(v, 0.9), 4), `${fmt(median(v) / raw, 3)}x`]),
  );
  console.log(`ring runs ${ring.hopStats('m')?.ringRuns}, posted ${ring.hopStats('m')?.postedRuns}`);
  await Promise.all([ring.close(), off.close(), direct.release()]);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
