/**
 * One model's request queue: bounded, with at most `concurrency` runs in flight and optional
 * dynamic batching (batch-policy.ts).
 *
 * Contract:
 * - `submit` rejects at once with EDGE_ERR_OVERLOADED when `queueLimit` requests are already
 *   waiting (memory stays bounded), EDGE_ERR_SHUTTING_DOWN after `drain` began, EDGE_ERR_TOO_LARGE
 *   when one request has more rows than `maxBatch`, EDGE_ERR_BAD_TENSOR when batching is on and an
 *   input's dim 0 is not `batchRows`. Otherwise it resolves once with the request's outputs, or
 *   rejects once with the engine's error (EDGE_ERR_INFERENCE_FAILED, EDGE_ERR_WORKER_CRASHED,
 *   EDGE_ERR_MODEL_UNAVAILABLE...); a failed batched run fails every request in it.
 * - The input tensors are handed to the engine (transferred): callers must not reuse them.
 * - Batched results equal unbatched ones: rows are concatenated along dim 0 and split back.
 * - Times come from the injected monotonic clock; timers are injected so policy can be tested
 *   with fake time.
 */
import { performance } from 'node:perf_hooks';
import { EdgeError, asEdgeError } from '../errors.js';
import type { InferenceEngine } from '../backend/types.js';
import type { NamedTensors } from '../tensor.js';
import type { InferResult } from '../result.js';
import type { Timers } from '../timers.js';
import { decideBatch, type BatchingConfig, type QueuedItem } from './batch-policy.js';
import { concatRows, signature, splitRows } from './batch-tensors.js';

export type { Timers } from '../timers.js';

export interface ModelQueueOptions {
  /** The engine and model key runs go to. */
  engine: Pick<InferenceEngine, 'run'>;
  key: string;
  /** Most requests waiting (not counting those in flight). >= 0. */
  queueLimit: number;
  /** Most runs in flight at once. Default 1 (one worker runs one inference at a time). */
  concurrency?: number;
  /** Dynamic batching; only for models whose first input dim is dynamic. Default null (off). */
  batching?: BatchingConfig | null;
  /** Monotonic clock, ms. Default performance.now. */
  clock?: () => number;
  /** Default the global setTimeout/clearTimeout. */
  timers?: Timers;
  /** The variant this queue's session runs, written into every result. Default ''. */
  variant?: string;
}

/**
 * What `submit` resolves with: the one result type (result.ts), with every queue field set. The
 * service adds `top` to this same object and the transport encodes it (issue 16).
 */
export type QueuedResult = InferResult & Required<Pick<InferResult, 'serviceMs' | 'batchRows' | 'batchRequests'>>;

export interface QueueStats {
  depth: number;
  inFlight: number;
  accepted: number;
  /** Refused at submit (overloaded, shutting down, too large, bad rows) or dropped by drain. */
  rejected: number;
  completed: number;
  failed: number;
}

export interface DrainResult {
  /** In-flight requests that finished (either way) before the timeout. */
  finished: number;
  /** Requests rejected with EDGE_ERR_SHUTTING_DOWN (queued ones, and in-flight ones past the timeout). */
  dropped: number;
}

interface Pending extends QueuedItem {
  inputs: NamedTensors;
  resolve: (r: QueuedResult) => void;
  reject: (e: EdgeError) => void;
  settled: boolean;
}

const globalTimers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };

export class ModelQueue {
  readonly key: string;
  readonly #engine: Pick<InferenceEngine, 'run'>;
  readonly #limit: number;
  readonly #concurrency: number;
  readonly #batching: BatchingConfig | null;
  readonly #clock: () => number;
  readonly #timers: Timers;
  readonly #variant: string;
  readonly #queue: Pending[] = [];
  readonly #inFlight = new Set<Pending>();
  #runs = 0;
  #timer: unknown = null;
  #timerAt = Infinity;
  #draining = false;
  #idle: (() => void) | null = null;
  #idleWaiters: (() => void)[] = [];
  #stats = { accepted: 0, rejected: 0, completed: 0, failed: 0 };

  /** Throws EDGE_ERR_CONFIG_INVALID for a bad limit, concurrency or batching config. */
  constructor(options: ModelQueueOptions) {
    this.key = options.key;
    this.#engine = options.engine;
    this.#limit = options.queueLimit;
    this.#concurrency = options.concurrency ?? 1;
    this.#batching = options.batching ?? null;
    this.#clock = options.clock ?? (() => performance.now());
    this.#timers = options.timers ?? globalTimers;
    this.#variant = options.variant ?? '';
    const b = this.#batching;
    const bad = !Number.isInteger(this.#limit) || this.#limit < 0 || !Number.isInteger(this.#concurrency) || this.#concurrency < 1 || (b !== null && (!Number.isInteger(b.maxBatch) || b.maxBatch < 1 || !(b.maxQueueDelayMs >= 0) || b.preferredBatchSizes.some((s) => !Number.isInteger(s) || s < 1 || s > b.maxBatch)));
    if (bad) throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `queue settings for model "${this.key}" are invalid`, { details: { queueLimit: this.#limit, concurrency: this.#concurrency, batching: b } });
  }

  submit(inputs: NamedTensors, batchRows: number): Promise<QueuedResult> {
    const refuse = (code: 'EDGE_ERR_OVERLOADED' | 'EDGE_ERR_SHUTTING_DOWN' | 'EDGE_ERR_TOO_LARGE' | 'EDGE_ERR_BAD_TENSOR', message: string): Promise<QueuedResult> => {
      this.#stats.rejected++;
      return Promise.reject(new EdgeError(code, message, { details: { model: this.key } }));
    };
    if (this.#draining) return refuse('EDGE_ERR_SHUTTING_DOWN', `model "${this.key}" is draining`);
    if (this.#queue.length >= this.#limit) return refuse('EDGE_ERR_OVERLOADED', `model "${this.key}" has ${this.#queue.length} requests queued (limit ${this.#limit})`);
    if (this.#batching !== null) {
      if (batchRows > this.#batching.maxBatch) return refuse('EDGE_ERR_TOO_LARGE', `${batchRows} rows is over maxBatch ${this.#batching.maxBatch}`);
      if (Object.values(inputs).some((t) => t.dims[0] !== batchRows)) return refuse('EDGE_ERR_BAD_TENSOR', `every input's first dim must be ${batchRows}`);
    }
    this.#stats.accepted++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ inputs, rows: batchRows, enqueuedAtMs: this.#clock(), signature: this.#batching === null ? '' : signature(inputs), resolve, reject, settled: false });
      this.#pump();
    });
  }

  stats(): QueueStats {
    return { depth: this.#queue.length, inFlight: this.#inFlight.size, ...this.#stats };
  }

  /** Resolves once nothing is queued or running (p-queue's onIdle); at once when idle now. */
  onIdle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops accepting (EDGE_ERR_SHUTTING_DOWN), rejects everything still queued, and waits up to
   * `timeoutMs` for in-flight runs; those still running then are rejected too (their late results
   * are dropped). Never rejects.
   */
  async drain(timeoutMs: number): Promise<DrainResult> {
    this.#draining = true;
    this.#clearTimer();
    const shutting = new EdgeError('EDGE_ERR_SHUTTING_DOWN', `model "${this.key}" is shutting down`, { details: { model: this.key } });
    let dropped = 0;
    for (const p of this.#queue.splice(0)) {
      this.#stats.rejected++;
      dropped++;
      this.#settle(p, shutting);
    }
    if (this.#inFlight.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
    const inFlight = [...this.#inFlight];
    if (this.#inFlight.size > 0) {
      let handle: unknown = null;
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        handle = this.#timers.setTimeout(resolve, timeoutMs);
      });
      this.#idle = null;
      this.#timers.clearTimeout(handle);
    }
    let finished = 0;
    for (const p of inFlight) {
      if (p.settled) {
        finished++;
        continue;
      }
      this.#inFlight.delete(p);
      this.#stats.rejected++;
      dropped++;
      this.#settle(p, shutting);
    }
    for (const w of this.#idleWaiters.splice(0)) w();
    return { finished, dropped };
  }

  #pump(): void {
    while (!this.#draining && this.#runs < this.#concurrency) {
      const now = this.#clock();
      const d = decideBatch(this.#queue, now, this.#batching);
      if (d.kind === 'idle') return;
      if (d.kind === 'wait') {
        this.#armTimer(d.untilMs, now);
        return;
      }
      this.#clearTimer();
      this.#dispatch(this.#queue.splice(0, d.count), d.rows, now);
    }
  }

  #dispatch(batch: Pending[], rows: number, dispatchedAt: number): void {
    this.#runs++;
    for (const p of batch) this.#inFlight.add(p);
    let merged: NamedTensors;
    try {
      merged = concatRows(batch.map((p) => p.inputs));
    } catch (e) {
      this.#finish(batch, asEdgeError(e));
      return;
    }
    this.#engine.run(this.key, merged).then(
      (result) => {
        const doneAt = this.#clock();
        let parts: NamedTensors[];
        try {
          parts = splitRows(
            result.outputs,
            batch.map((p) => p.rows),
          );
        } catch (e) {
          this.#finish(batch, asEdgeError(e));
          return;
        }
        batch.forEach((p, i) => {
          this.#settle(p, null, { variant: this.#variant, outputs: parts[i] as NamedTensors, queueMs: dispatchedAt - p.enqueuedAtMs, inferenceMs: result.inferenceMs, serviceMs: doneAt - dispatchedAt, batchRows: rows, batchRequests: batch.length });
        });
        this.#finish(batch, null);
      },
      (e: unknown) => this.#finish(batch, asEdgeError(e)),
    );
  }

  #finish(batch: Pending[], error: EdgeError | null): void {
    this.#runs--;
    for (const p of batch) {
      this.#inFlight.delete(p);
      if (error !== null) this.#settle(p, error);
    }
    if (this.#inFlight.size === 0 && this.#idle !== null) this.#idle();
    this.#pump();
    if (this.#queue.length === 0 && this.#inFlight.size === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #settle(p: Pending, error: EdgeError | null, result?: QueuedResult): void {
    if (p.settled) return;
    p.settled = true;
    if (error !== null) {
      if (error.code !== 'EDGE_ERR_SHUTTING_DOWN') this.#stats.failed++;
      p.reject(error);
    } else if (result !== undefined) {
      this.#stats.completed++;
      p.resolve(result);
    }
  }

  #armTimer(untilMs: number, now: number): void {
    if (this.#timer !== null && this.#timerAt <= untilMs) return;
    this.#clearTimer();
    this.#timerAt = untilMs;
    this.#timer = this.#timers.setTimeout(
      () => {
        this.#timer = null;
        this.#timerAt = Infinity;
        this.#pump();
      },
      Math.max(0, untilMs - now),
    );
  }

  #clearTimer(): void {
    if (this.#timer === null) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }
}
