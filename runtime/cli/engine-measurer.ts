/**
 * A ModelMeasurer (optimize/evaluate.ts) on the service's own engine (backend/select-engine.ts):
 * the model runs in a worker thread with the session options the service uses, so accuracy and
 * latency are those of the real path. One model is loaded at a time and unloaded after measuring.
 *
 * Latency: `warmupRuns` unmeasured runs, then `runs` timed runs per batch size, rows taken from the
 * eval set in order (wrapping). Reported: medians of the time inside session.run (the worker
 * measures it) and of the round trip through the engine.
 *
 * Ownership: `close()` stops the engine; the caller must call it. Errors are the engine's
 * (EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED | EDGE_ERR_INFERENCE_FAILED | EDGE_ERR_BACKEND_UNAVAILABLE).
 */
import { performance } from 'node:perf_hooks';
import { createEngine } from '../backend/select-engine.js';
import type { InferenceEngine } from '../backend/types.js';
import type { BackendPref } from '../config/types.js';
import { EdgeError } from '../errors.js';
import { argmaxRow, median, type LatencyFigure, type MeasureResult, type ModelMeasurer } from '../optimize/evaluate.js';
import type { NamedTensors } from '../tensor.js';

export interface EngineMeasurerOptions {
  backend: BackendPref;
  /** Intra-op threads per session. */
  threads: number;
  /** Unmeasured runs before timing each batch size. Default 5. */
  warmupRuns?: number;
  /** Monotonic clock in ms. Default performance.now. */
  now?: () => number;
}

export class EngineMeasurer implements ModelMeasurer {
  readonly backend: string;
  readonly threads: number;
  readonly #engine: InferenceEngine;
  readonly #warmup: number;
  readonly #now: () => number;
  #seq = 0;

  constructor(opts: EngineMeasurerOptions) {
    this.#engine = createEngine(opts.backend);
    this.backend = this.#engine.kind;
    this.threads = opts.threads;
    this.#warmup = opts.warmupRuns ?? 5;
    this.#now = opts.now ?? (() => performance.now());
  }

  async measure(file: string, bytes: Uint8Array, rows: number[][], latency: { batches: number[]; runs: number }): Promise<MeasureResult> {
    const key = `eval-${++this.#seq}`;
    const loaded = await this.#engine.load({
      key, file, bytes,
      session: { intraOpThreads: this.threads, graphOptimization: 'all', memArena: true, memPattern: true },
    });
    try {
      const input = loaded.inputNames[0] ?? 'input';
      const output = loaded.outputNames[0] ?? '';
      // Feed the dtype the model declares (token ids are int64; pixels float32).
      const int64 = loaded.inputs?.find((i) => i.name === input)?.dtype === 'int64';
      const feed = (start: number, batch: number): NamedTensors => {
        const width = rows[0]?.length ?? 0;
        if (int64) {
          const ids = new BigInt64Array(batch * width);
          for (let i = 0; i < batch; i++) (rows[(start + i) % rows.length] ?? []).forEach((v, j) => { ids[i * width + j] = BigInt(Math.trunc(v)); });
          return { [input]: { dtype: 'int64', dims: [batch, width], data: ids } };
        }
        const data = new Float32Array(batch * width);
        for (let i = 0; i < batch; i++) data.set(rows[(start + i) % rows.length] ?? [], i * width);
        return { [input]: { dtype: 'float32', dims: [batch, width], data } };
      };
      const all = await this.#engine.run(key, feed(0, rows.length));
      const out = all.outputs[output];
      if (out === undefined || out.dims[0] !== rows.length) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `${file}: the first output is not [N, classes]`);
      const classes = out.data.length / rows.length;
      const predictions = rows.map((_, i) => argmaxRow(out.data, i, classes));
      const figures: LatencyFigure[] = [];
      for (const batch of latency.batches) {
        for (let i = 0; i < this.#warmup; i++) await this.#engine.run(key, feed(i * batch, batch));
        const inside: number[] = [];
        const trip: number[] = [];
        for (let i = 0; i < latency.runs; i++) {
          const inputs = feed(i * batch, batch);
          const t0 = this.#now();
          const r = await this.#engine.run(key, inputs);
          trip.push(this.#now() - t0);
          inside.push(r.inferenceMs);
        }
        const medianMs = median(inside);
        figures.push({ batch, runs: latency.runs, medianMs, medianRoundTripMs: median(trip), perSampleMs: medianMs / batch });
      }
      return { predictions, latency: figures };
    } finally {
      await this.#engine.unload(key);
    }
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}
