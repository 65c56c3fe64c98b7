/**
 * A small pool of worker threads that decode and preprocess images off the main thread.
 *
 * Contract:
 * - `image()` resolves with the model input tensor, or rejects with EDGE_ERR_BAD_IMAGE /
 *   EDGE_ERR_TOO_LARGE (from the worker), EDGE_ERR_OVERLOADED when `maxPending` jobs are already
 *   waiting (memory stays bounded: at most maxPending payloads are held), EDGE_ERR_WORKER_CRASHED
 *   when the worker died with the job (the next job starts a new worker), EDGE_ERR_SHUTTING_DOWN
 *   after close(). It never throws synchronously.
 * - The payload's bytes are copied once into the job (the caller keeps its buffer).
 * - Workers start on first use (a service with no image model starts none) and are unref'd
 *   while idle, so the pool never keeps a process alive. `close()` terminates them.
 */
import { Worker } from 'node:worker_threads';
import { EdgeError } from '../errors.js';
import type { ImageSpec } from '../preprocess/types.js';
import type { Tensor } from '../tensor.js';
import type { MediaJob, MediaReply } from './media-protocol.js';

export interface MediaPoolOptions {
  /** Worker threads. Default 1 (the boards have 1-4 cores and inference has its own threads). */
  threads?: number;
  /** Most jobs queued or running at once. Default 16. */
  maxPending?: number;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, { resolve: (t: Tensor) => void; reject: (e: EdgeError) => void }>;
}

const WORKER_URL = new URL('./media-worker.js', import.meta.url);
const ONE_PIXEL_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4AWMAgv8AAQQBAP8H9UQAAAAASUVORK5CYII=', 'base64');

export class MediaPool {
  readonly #threads: number;
  readonly #maxPending: number;
  readonly #slots: (Slot | null)[];
  #seq = 0;
  #closed = false;

  constructor(o: MediaPoolOptions = {}) {
    this.#threads = Math.max(1, o.threads ?? 1);
    this.#maxPending = Math.max(1, o.maxPending ?? 16);
    this.#slots = new Array<Slot | null>(this.#threads).fill(null);
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#slots.reduce((n, s) => n + (s?.jobs.size ?? 0), 0);
  }

  image(bytes: Uint8Array, spec: ImageSpec, maxPixels: number): Promise<Tensor> {
    if (this.#closed) return Promise.reject(new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the media pool is closed'));
    if (this.pending >= this.#maxPending) {
      return Promise.reject(new EdgeError('EDGE_ERR_OVERLOADED', `${this.pending} images are already being decoded`, { details: { maxPending: this.#maxPending } }));
    }
    const slot = this.#leastBusy();
    const seq = ++this.#seq;
    const copy = new Uint8Array(bytes);
    const job: MediaJob = { seq, bytes: copy, spec, maxPixels };
    return new Promise<Tensor>((resolve, reject) => {
      slot.jobs.set(seq, { resolve, reject });
      slot.worker.ref();
      slot.worker.postMessage(job, [copy.buffer]);
    });
  }

  /**
   * Starts the worker threads and loads the decoder (a 1x1 PNG through the whole path), so the first
   * real image does not pay for the thread start and sharp's addon load. Never rejects.
   */
  async warm(): Promise<void> {
    const spec: ImageSpec = { kind: 'image', input: 'x', width: 1, height: 1, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'uint8' };
    await Promise.all(Array.from({ length: this.#threads }, () => this.image(ONE_PIXEL_PNG, spec, 1).catch(() => undefined)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      this.#slots.map(async (s, i) => {
        if (s === null) return;
        this.#slots[i] = null;
        for (const j of s.jobs.values()) j.reject(new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the media pool closed'));
        s.jobs.clear();
        await s.worker.terminate();
      }),
    );
  }

  #leastBusy(): Slot {
    let best = -1;
    for (let i = 0; i < this.#threads; i++) {
      const s = this.#slots[i];
      if (s === null || s === undefined) return this.#start(i);
      if (best < 0 || s.jobs.size < (this.#slots[best]?.jobs.size ?? 0)) best = i;
    }
    return this.#slots[best] as Slot;
  }

  #start(i: number): Slot {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, jobs: new Map() };
    this.#slots[i] = slot;
    worker.unref();
    worker.on('message', (r: MediaReply) => {
      const j = slot.jobs.get(r.seq);
      if (j === undefined) return;
      slot.jobs.delete(r.seq);
      if (slot.jobs.size === 0) worker.unref();
      if (r.ok) j.resolve(r.tensor);
      else j.reject(new EdgeError(r.code, r.message, r.details === undefined ? {} : { details: r.details }));
    });
    const fail = (why: string): void => {
      if (this.#slots[i] === slot) this.#slots[i] = null;
      for (const j of slot.jobs.values()) j.reject(new EdgeError('EDGE_ERR_WORKER_CRASHED', `media worker ${why}`));
      slot.jobs.clear();
    };
    worker.on('error', (e) => fail(`failed: ${e.message}`));
    worker.on('exit', (code) => fail(`exited with code ${code}`));
    return slot;
  }
}
