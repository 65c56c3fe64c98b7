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
import { median, predictionOf, type EvalLayout, type LatencyFigure, type MeasureResult, type ModelMeasurer } from '../optimize/evaluate.js';
import { SequenceState, type EvalSequence } from '../optimize/eval-sequence.js';
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

  /**
   * Rows are flat; `layout.shape` (one sample's shape) makes each run's input [batch, ...shape]
   * instead of [batch, width]. With `layout.sequence` every row runs alone (batch 1) with the
   * sequence's constants and carried state (optimize/eval-sequence.ts), and latency is timed at
   * batch 1 only (other batch sizes are skipped: a stream's frames run one at a time).
   */
  async measure(file: string, bytes: Uint8Array, rows: number[][], latency: { batches: number[]; runs: number }, layout: EvalLayout = {}): Promise<MeasureResult> {
    const key = `eval-${++this.#seq}`;
    const loaded = await this.#engine.load({ key, file, bytes, session: { intraOpThreads: this.threads, graphOptimization: 'all', memArena: true, memPattern: true } });
    try {
      const input = loaded.inputNames[0] ?? 'input';
      const output = loaded.outputNames[0] ?? '';
      // Feed the dtype the model declares (token ids are int64; pixels float32).
      const int64 = loaded.inputs?.find((i) => i.name === input)?.dtype === 'int64';
      const width = rows[0]?.length ?? 0;
      const sample = layout.shape ?? [width];
      const feed = (start: number, batch: number): NamedTensors => {
        if (int64) {
          const ids = new BigInt64Array(batch * width);
          for (let i = 0; i < batch; i++)
            (rows[(start + i) % rows.length] ?? []).forEach((v, j) => {
              ids[i * width + j] = BigInt(Math.trunc(v));
            });
          return { [input]: { dtype: 'int64', dims: [batch, ...sample], data: ids } };
        }
        const data = new Float32Array(batch * width);
        for (let i = 0; i < batch; i++) data.set(rows[(start + i) % rows.length] ?? [], i * width);
        return { [input]: { dtype: 'float32', dims: [batch, ...sample], data } };
      };
      const seq = layout.sequence;
      const predictions = seq === undefined ? await this.#predictAll(key, file, output, feed, rows.length) : await this.#predictSequence(key, output, feed, rows.length, seq);
      const figures: LatencyFigure[] = [];
      for (const batch of seq === undefined ? latency.batches : latency.batches.filter((b) => b === 1)) {
        const state = seq === undefined ? undefined : new SequenceState(seq);
        const inputsAt = (i: number): NamedTensors => (state === undefined ? feed(i * batch, batch) : state.feeds(i % rows.length, feed(i % rows.length, 1)));
        for (let i = 0; i < this.#warmup; i++) state?.advance((await this.#engine.run(key, inputsAt(i))).outputs);
        const inside: number[] = [];
        const trip: number[] = [];
        for (let i = 0; i < latency.runs; i++) {
          const inputs = inputsAt(this.#warmup + i);
          const t0 = this.#now();
          const r = await this.#engine.run(key, inputs);
          trip.push(this.#now() - t0);
          inside.push(r.inferenceMs);
          state?.advance(r.outputs);
        }
        const medianMs = median(inside);
        figures.push({ batch, runs: latency.runs, medianMs, medianRoundTripMs: median(trip), perSampleMs: medianMs / batch });
      }
      return { predictions, latency: figures };
    } finally {
      await this.#engine.unload(key);
    }
  }

  /** All rows in one run; the first output must be [N, classes] (N, or [N, 1] scores: predictionOf). */
  async #predictAll(key: string, file: string, output: string, feed: (start: number, batch: number) => NamedTensors, n: number): Promise<number[]> {
    const all = await this.#engine.run(key, feed(0, n));
    const out = all.outputs[output];
    if (out === undefined || out.dims[0] !== n) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `${file}: the first output is not [N, classes]`);
    const classes = out.data.length / n;
    return Array.from({ length: n }, (_, i) => predictionOf(out.data, i, classes));
  }

  /** One run per row, in order, state carried (reset at each start). */
  async #predictSequence(key: string, output: string, feed: (start: number, batch: number) => NamedTensors, n: number, seq: EvalSequence): Promise<number[]> {
    const state = new SequenceState(seq);
    const predictions: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.#engine.run(key, state.feeds(i, feed(i, 1)));
      const out = r.outputs[output];
      if (out === undefined || out.data.length === 0) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `row ${i}: no output "${output}"`);
      predictions.push(predictionOf(out.data, 0, out.data.length));
      state.advance(r.outputs);
    }
    return predictions;
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}
