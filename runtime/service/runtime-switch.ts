/**
 * Routes requests to whichever ModelRuntime is current, so a reload (SIGHUP) swaps runtimes under
 * the transport (split out of service.ts, issue 16).
 *
 * Contract: `current` may be replaced at any time; requests already inside the old runtime finish
 * there. Facts watchers (the transport's per-model cache, InferenceHandler.watchFacts) are told
 * when the current runtime reports a change and when `current` is replaced.
 */
import type { ErrorCode } from '../errors.js';
import type { RequestExtras } from '../media/types.js';
import type { InferResult } from '../result.js';
import type { NamedTensors } from '../tensor.js';
import type { InferenceHandler, ModelFacts } from '../transport/types.js';
import type { ModelRuntime } from './model-runtime.js';

export class RuntimeSwitch implements InferenceHandler {
  #current: ModelRuntime;
  #unwatch: () => void;
  readonly #watchers = new Set<() => void>();
  /** Sees every result (Home Assistant's state sensor); null costs nothing per request. */
  observer: ((model: string, result: InferResult) => void) | null = null;

  constructor(rt: ModelRuntime) {
    this.#current = rt;
    this.#unwatch = rt.watchFacts(() => this.#changed());
  }

  get current(): ModelRuntime {
    return this.#current;
  }

  set current(rt: ModelRuntime) {
    this.#unwatch();
    this.#current = rt;
    this.#unwatch = rt.watchFacts(() => this.#changed());
    this.#changed();
  }

  modelFacts(model: string): ModelFacts | undefined {
    return this.#current.modelFacts(model);
  }

  watchFacts(onChange: () => void): () => void {
    this.#watchers.add(onChange);
    return () => {
      this.#watchers.delete(onChange);
    };
  }

  infer(model: string, id: string, inputs: NamedTensors, extras?: RequestExtras): Promise<InferResult> {
    const p = this.#current.infer(model, id, inputs, extras);
    const observer = this.observer;
    return observer === null
      ? p
      : p.then((r) => {
          observer(model, r);
          return r;
        });
  }

  noteRefused(model: string, code: ErrorCode): void {
    this.#current.noteRefused(model, code);
  }

  /** The current runtime's queueLimit for `model` (the transport's inbound window, issue 12 item 15). */
  queueLimit(model: string): number {
    return this.#current.queueLimit(model);
  }

  #changed(): void {
    for (const w of this.#watchers) w();
  }
}
