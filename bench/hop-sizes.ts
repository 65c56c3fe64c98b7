/**
 * Section 1c: the engine's round trip by payload size, shared-memory ring vs postMessage with
 * transfer (issue 16), to pick the ring's slot size. The model is test/fixtures/models/add-one.onnx
 * (`y = x + 1`, float32 [batch, 4]): the input and the output are both `batch * 16` bytes, and
 * onnxruntime's own work is an Add, the same on both paths. Two NativeEngines (ring slots large
 * enough for every size vs ring off), alternating call by call so machine noise hits both alike.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NativeEngine } from '../runtime/backend/native-engine.js';
import type { NamedTensors } from '../runtime/tensor.js';
import { SESSION } from './overhead.js';
import { ROOT } from './service.js';
import { median } from './stats.js';

export interface HopSizeRow {
  /** Input bytes (the output has the same size). */
  bytes: number;
  ringP50Ms: number;
  postP50Ms: number;
  /** ring p50 / postMessage p50: below 1 the ring is faster. */
  ratio: number;
  samples: number;
}

export const HOP_SIZES = [64, 1024, 4096, 8192, 16 * 1024, 32 * 1024, 64 * 1024, 256 * 1024];

/** `runs` runs per size and path, the two paths alternating call by call. */
export async function hopSizes(runs: number, sizes: readonly number[] = HOP_SIZES): Promise<HopSizeRow[]> {
  const file = join(ROOT, 'test/fixtures/models/add-one.onnx');
  const largest = Math.max(...sizes);
  const ring = new NativeEngine({ ringSlotBytes: largest + 1024 });
  const post = new NativeEngine({ ringSlotBytes: 0 });
  try {
    await ring.load({ key: 'add', file, session: SESSION });
    await post.load({ key: 'add', file, session: SESSION });
    // Warm both paths (threads, caches, JIT) before the first size, so it is not the one that pays.
    for (let i = 0; i < 100; i++) {
      for (const engine of [ring, post]) await engine.run('add', { x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
    }
    const rows: HopSizeRow[] = [];
    for (const bytes of sizes) {
      const batch = bytes / 16;
      const input = (): NamedTensors => ({ x: { dtype: 'float32', dims: [batch, 4], data: new Float32Array(batch * 4) } });
      const xs: Record<'ring' | 'post', number[]> = { ring: [], post: [] };
      // The paths alternate call by call (which goes first alternates too), so a burst of load from
      // other processes hits both alike; the first 20 pairs per size are warm-up.
      for (let r = 0; r < runs + 20; r++) {
        const order =
          r % 2 === 0
            ? ([
                ['ring', ring],
                ['post', post],
              ] as const)
            : ([
                ['post', post],
                ['ring', ring],
              ] as const);
        for (const [name, engine] of order) {
          const inputs = input();
          const t0 = performance.now();
          await engine.run('add', inputs);
          if (r >= 20) xs[name].push(performance.now() - t0);
        }
      }
      const ringP50Ms = median(xs.ring);
      const postP50Ms = median(xs.post);
      rows.push({ bytes, ringP50Ms, postP50Ms, ratio: ringP50Ms / postP50Ms, samples: xs.ring.length });
    }
    const rs = ring.hopStats('add');
    if (rs === undefined || rs.postedRuns > 0 || rs.postedAnswers > 0) throw new Error(`hop-sizes: the ring engine fell back to postMessage (${JSON.stringify(rs)})`);
    return rows;
  } finally {
    await Promise.all([ring.close(), post.close()]);
  }
}
