/**
 * A small InferenceHandler for transport tests (the real onnxruntime path belongs to the service
 * tests). Models:
 * - "sum":  input x float32 ["batch", 4] -> y float32 [batch, 1], each row's sum
 * - "pair": inputs a, b int32 [1, 2] -> s int32 [1, 2], a + b
 * - "stuck": input x float32 [1, 4]; the first `stuckCalls` calls never settle, later ones answer like "sum"
 */
import { EdgeError } from '../../runtime/errors.js';
import type { NamedTensors } from '../../runtime/tensor.js';
import type { TensorSpec } from '../../runtime/repository/types.js';
import type { InferenceHandler, InferOutcome, ModelFacts } from '../../runtime/transport/types.js';

export interface FakeHandlerOptions {
  /** Delay before each answer, ms. Default 0. */
  delayMs?: number;
  /** Variant name reported in results. Default "fake". */
  variant?: string;
  /** How many "stuck" calls never settle. Default 1. */
  stuckCalls?: number;
}

const SPECS: Record<string, TensorSpec[]> = {
  sum: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
  pair: [
    { name: 'a', dtype: 'int32', shape: [1, 2] },
    { name: 'b', dtype: 'int32', shape: [1, 2] },
  ],
  stuck: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
};

export class FakeHandler implements InferenceHandler {
  readonly calls: { model: string; id: string }[] = [];
  readonly #o: FakeHandlerOptions;
  #stuck = 0;

  constructor(options: FakeHandlerOptions = {}) {
    this.#o = options;
  }

  /** Calls of modelFacts, per model (the transport should ask once per model between changes). */
  readonly factCalls = new Map<string, number>();
  readonly #watchers = new Set<() => void>();

  modelFacts(model: string): ModelFacts | undefined {
    this.factCalls.set(model, (this.factCalls.get(model) ?? 0) + 1);
    const specs = SPECS[model];
    return specs === undefined ? undefined : { specs, preprocess: undefined, labels: undefined };
  }

  watchFacts(onChange: () => void): () => void {
    this.#watchers.add(onChange);
    return () => {
      this.#watchers.delete(onChange);
    };
  }

  /** Tells the watchers the facts changed (as a variant change does in the real runtime). */
  factsChanged(): void {
    for (const w of this.#watchers) w();
  }

  infer(model: string, requestId: string, inputs: NamedTensors): Promise<InferOutcome> {
    this.calls.push({ model, id: requestId });
    if (model === 'stuck' && this.#stuck++ < (this.#o.stuckCalls ?? 1)) return new Promise(() => undefined);
    const run = (): InferOutcome => {
      const variant = this.#o.variant ?? 'fake';
      if (model === 'pair') {
        const a = inputs['a']?.data as Int32Array;
        const b = inputs['b']?.data as Int32Array;
        return { variant, outputs: { s: { dtype: 'int32', dims: [1, 2], data: Int32Array.from(a, (v, i) => v + (b[i] ?? 0)) } }, queueMs: 0, inferenceMs: 0 };
      }
      const x = inputs['x'];
      if (x === undefined) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', 'no x');
      const rows = x.dims[0] ?? 1;
      const y = new Float32Array(rows);
      const data = x.data as Float32Array;
      for (let r = 0; r < rows; r++) for (let c = 0; c < 4; c++) y[r] = (y[r] ?? 0) + (data[r * 4 + c] ?? 0);
      return { variant, outputs: { y: { dtype: 'float32', dims: [rows, 1], data: y } }, top: [{ index: 0, label: 'sum', score: y[0] ?? 0 }], queueMs: 0.5, inferenceMs: 0.25 };
    };
    const delay = this.#o.delayMs ?? 0;
    return new Promise((resolve, reject) => {
      const go = (): void => {
        try {
          resolve(run());
        } catch (e) {
          reject(e);
        }
      };
      if (delay > 0) setTimeout(go, delay);
      else setImmediate(go);
    });
  }
}
