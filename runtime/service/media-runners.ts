/**
 * The issue-11 part of a ModelRuntime, kept out of model-runtime.ts: one StreamRunner per model
 * whose manifest declares image/audio preprocessing, streams or events, and the media pool they
 * share (started only when some model declares image preprocessing, warmed while sessions load).
 *
 * Contract: `handle` resolves with the outcome or rejects with the runner's codes (see
 * stream-runner.ts); a media payload for a model without a runner is EDGE_ERR_BAD_REQUEST. The
 * owner calls `close()` after its queues drained.
 */
import { EdgeError } from '../errors.js';
import { MediaPool } from '../media/media-pool.js';
import type { RequestExtras } from '../media/types.js';
import type { ModelManifest } from '../repository/types.js';
import type { NamedTensors } from '../tensor.js';
import type { InferOutcome } from '../transport/types.js';
import { needsStreamRunner, StreamRunner } from './stream-runner.js';

export class MediaRunners {
  readonly #runners = new Map<string, StreamRunner>();
  readonly #now: () => number;
  readonly #wallNow: () => number;
  #pool: MediaPool | null = null;

  constructor(now: () => number, wallNow: () => number) {
    this.#now = now;
    this.#wallNow = wallNow;
  }

  /** Registers `manifest`'s model when it needs a runner; `run` is one inference through its queue. */
  add(manifest: ModelManifest, run: (inputs: NamedTensors) => Promise<InferOutcome>): void {
    if (!needsStreamRunner(manifest)) return;
    this.#runners.set(manifest.id, new StreamRunner({ manifest, pool: () => this.#sharedPool(), run, now: this.#now, wallNow: this.#wallNow }));
  }

  /** Starts and warms the media pool when some registered model takes images. Never rejects. */
  async warm(manifests: readonly ModelManifest[]): Promise<void> {
    if (manifests.some((m) => this.#runners.has(m.id) && m.preprocess?.kind === 'image')) await this.#sharedPool().warm();
  }

  /** True when `model` has a runner (its requests go through `handle` even without extras). */
  has(model: string): boolean {
    return this.#runners.has(model);
  }

  /** Live streams of a model. */
  streams(model: string): number {
    return this.#runners.get(model)?.streams ?? 0;
  }

  /** Runs a request through the model's runner, or `plain` when the model has none. */
  handle(model: string, inputs: NamedTensors, extras: RequestExtras | undefined, plain: () => Promise<InferOutcome>): Promise<InferOutcome> {
    const runner = this.#runners.get(model);
    if (runner !== undefined) return runner.handle(extras ?? {}, inputs);
    if (extras?.media !== undefined) {
      return Promise.reject(new EdgeError('EDGE_ERR_BAD_REQUEST', `model "${model}" declares no ${extras.media.kind === 'image' ? 'image' : 'audio'} preprocessing: send tensors`, { details: { model } }));
    }
    return plain();
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }

  #sharedPool(): MediaPool {
    this.#pool ??= new MediaPool();
    return this.#pool;
  }
}
