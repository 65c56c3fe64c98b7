/**
 * Main-thread handle on one session worker: request ids, pending promises, crash detection.
 *
 * Contract: every request resolves or rejects exactly once. When the worker exits or throws
 * without being asked to stop, every pending request rejects with EDGE_ERR_WORKER_CRASHED and
 * `onCrash` is called once; later requests reject with EDGE_ERR_MODEL_UNAVAILABLE. `terminate()`
 * rejects what is pending with EDGE_ERR_MODEL_UNAVAILABLE and is not reported as a crash.
 *
 * The hop (issue 16): a run whose inputs fit a shared-memory slot goes through the ring
 * (ring-client.ts: the worker blocked in Atomics.wait, the answer awaited with Atomics.waitAsync);
 * larger inputs, dtypes the ring does not carry, or all slots busy go by postMessage with transfer,
 * as does an answer too large for its slot, and so do runs of a session whose recent runs took
 * RING_MAX_RUN_MS or more (where the ring measured slower). Both paths settle the same pending map, so crash,
 * terminate and error codes are the same whichever path a run took; `hopStats` counts them.
 */
import { Worker } from 'node:worker_threads';
import { EdgeError, isErrorCode } from '../errors.js';
import type { NamedTensors } from '../tensor.js';
import { bounded } from '../timers.js';
import { createRing } from './ring.js';
import { RingClient, type RingAnswer } from './ring-client.js';
import { checkTensor, prepareTransfer } from './transfer.js';
import type { FromWorker, LoadReply, RunReply, ToWorker, WorkerBoot, WorkerLoadSpec } from './worker/protocol.js';

const WORKER_URL = new URL('./worker/session-worker.js', import.meta.url);

/**
 * Default bytes per ring slot: a run whose request and answer (tensor bytes plus a few dozen bytes
 * of names and dims) fit goes through shared memory. Picked by measurement (bench 1c: add-one.onnx,
 * input and answer of one size, ring vs postMessage alternating call by call; x86 VM, 2 cores
 * shared with other builds; seven runs): ring/postMessage 0.59-1.05x from 64 B to 16 KB (one 1.46x
 * outlier at 8 KB), 0.55-1.30x at 32-64 KB, 1.13-3.1x from 128 KB (its four copies, in and out of
 * shared memory on both sides, cost more than the wake-up it saves). 16 KB keeps to where the ring
 * won in nearly every run: 4 slots x 16 KB = 64 KB of shared memory per worker.
 */
export const DEFAULT_RING_SLOT_BYTES = 16 * 1024;

/**
 * Runs of a session whose recent inference took this long or more go by postMessage even when they
 * fit a slot. Measured (bench/hop-ab.ts, 1024-h-h-10 MLPs, ring vs ring off, paired): the ring took
 * 0.89-0.95x postMessage's time for 0.1-0.33 ms runs, 0.97-1.05x at 0.6-0.95 ms, 1.05-1.06x at
 * 1.2-1.3 ms and 0.99-1.18x (up to +0.37 ms) at 1.8 ms: after a long wait both threads' futex /
 * waitAsync wake-ups cost more here than the port's. "Recent" is the fastest of the session's last
 * RECENT_RUNS runs (known once half of them ran), so a preempted run does not flip the path.
 */
export const RING_MAX_RUN_MS = 1;
const RECENT_RUNS = 8;

/** How long `terminate()` lets a worker finish the run it is in before ending it the hard way, ms. */
const STOP_WAIT_MS = 10_000;

/** Runs per path since the worker started (engine stats, tests). */
export interface HopStats {
  /** Runs whose request went through a shared-memory slot. */
  ringRuns: number;
  /** Runs sent by postMessage (too large, a dtype the ring does not carry, slots busy, or ring off). */
  postedRuns: number;
  /** Ring runs whose answer did not fit its slot and came back by postMessage. */
  postedAnswers: number;
  /** Runs that fit a slot but went by postMessage because their session's recent runs took >= RING_MAX_RUN_MS. */
  slowRuns: number;
}

/** The last RECENT_RUNS inference times of one session, ms. */
class RecentRuns {
  readonly #ms = new Float64Array(RECENT_RUNS).fill(Number.POSITIVE_INFINITY);
  #count = 0;
  add(ms: number): void {
    this.#ms[this.#count % RECENT_RUNS] = ms;
    this.#count++;
  }
  /** True when the fastest of the recent runs took `limitMs` or more; false until half of RECENT_RUNS are known (a first run is often slow). */
  slow(limitMs: number): boolean {
    if (this.#count < RECENT_RUNS / 2) return false;
    let m = Number.POSITIVE_INFINITY;
    for (const x of this.#ms) if (x < m) m = x;
    return m >= limitMs;
  }
}

type Settle = { resolve: (v: LoadReply | RunReply | null) => void; reject: (e: EdgeError) => void; recent?: RecentRuns };

export class WorkerHost {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Settle>();
  #onCrash: (err: EdgeError) => void;
  #nextId = 1;
  #state: 'up' | 'crashed' | 'stopped' = 'up';
  /** The worker has answered at least once, so its runtime library is loaded. */
  #heardFrom = false;
  /** The worker thread has ended ('exit' seen). */
  #exited = false;
  readonly #ring: RingClient | undefined;
  readonly #stats: HopStats = { ringRuns: 0, postedRuns: 0, postedAnswers: 0, slowRuns: 0 };
  readonly #ringMaxRunMs: number;
  /** Recent inference times per session name ("" for a native worker's one session). */
  readonly #recent = new Map<string, RecentRuns>();

  constructor(boot: WorkerBoot, label: string, onCrash: (err: EdgeError) => void) {
    this.#onCrash = onCrash;
    const slotBytes = boot.ringSlotBytes ?? DEFAULT_RING_SLOT_BYTES;
    this.#ringMaxRunMs = boot.ringMaxRunMs ?? RING_MAX_RUN_MS;
    const sab = slotBytes > 0 ? createRing(slotBytes) : undefined;
    this.#ring = sab === undefined ? undefined : new RingClient(sab, (id, a) => this.#ringAnswer(id, a));
    this.#worker = new Worker(WORKER_URL, { workerData: { ...boot, ...(sab === undefined ? {} : { ring: sab }) }, name: `edge-infer:${label}` });
    this.#worker.on('message', (msg: FromWorker) => {
      this.#heardFrom = true;
      this.#settle(msg);
    });
    this.#worker.on('error', (e) => this.#crashed(`worker error: ${e.message}`));
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      this.#crashed(`worker exited with code ${code}`);
    });
  }

  /** Re-targets crash reports (a pre-started worker gets its model's handler when a load takes it). */
  set onCrash(f: (err: EdgeError) => void) {
    this.#onCrash = f;
  }

  /** Lets the process exit while this worker is idle (Worker.unref). */
  unref(): void {
    this.#worker.unref();
  }

  ref(): void {
    this.#worker.ref();
  }

  get up(): boolean {
    return this.#state === 'up';
  }

  get pending(): number {
    return this.#pending.size;
  }

  /** Loads a session; `session` names it in a worker that holds several (the shared WASM runtime). */
  load(spec: WorkerLoadSpec, session?: string): Promise<LoadReply> {
    const transfer = spec.warmup === undefined ? [] : prepareTransfer(spec.warmup);
    return this.#request((id) => ({ type: 'load', id, spec, ...(session === undefined ? {} : { session }) }), transfer) as Promise<LoadReply>;
  }

  /** Runs per path so far. */
  hopStats(): HopStats {
    return { ...this.#stats };
  }

  /**
   * Copies small inputs into the ring, transfers the buffers of others: either way the caller must
   * not use `inputs` afterwards. Throws EDGE_ERR_BAD_TENSOR when a tensor's data does not match its dims.
   */
  run(inputs: NamedTensors, session?: string): Promise<RunReply> {
    const name = session ?? '';
    let recent = this.#recent.get(name);
    if (recent === undefined) this.#recent.set(name, (recent = new RecentRuns()));
    const ring = this.#ring;
    let slot = ring !== undefined && this.#state === 'up' ? ring.freeSlotFor(name, inputs) : -1;
    if (slot >= 0 && recent.slow(this.#ringMaxRunMs)) {
      slot = -1;
      this.#stats.slowRuns++;
    }
    if (ring !== undefined && slot >= 0) {
      for (const n in inputs) checkTensor(n, inputs[n] as NamedTensors[string]);
      const id = this.#nextId++;
      this.#stats.ringRuns++;
      const settle = recent;
      return new Promise<RunReply>((resolve, reject) => {
        this.#pending.set(id, { resolve: resolve as Settle['resolve'], reject, recent: settle });
        ring.send(slot, id, name, inputs);
      });
    }
    this.#stats.postedRuns++;
    const transfer = prepareTransfer(inputs);
    return this.#request((id) => ({ type: 'run', id, inputs, ...(session === undefined ? {} : { session }) }), transfer, recent) as Promise<RunReply>;
  }

  /** Releases one named session and keeps the worker (the shared WASM runtime). */
  unloadSession(session: string): Promise<unknown> {
    return this.#request((id) => ({ type: 'unload', id, session }), []);
  }

  /** Resolves once the worker has started and loaded its runtime library. */
  ready(): Promise<unknown> {
    return this.#request((id) => ({ type: 'ping', id }), []);
  }

  /** Test hook: asks the worker to exit abruptly (honoured only when booted with allowTestHooks). */
  crash(): Promise<unknown> {
    return this.#request((id) => ({ type: 'crash', id }), []);
  }

  /**
   * Ends the worker. One that has not answered yet is ref'd and first given up to 15 s to finish
   * loading onnxruntime: with an unref'd (early) worker the process otherwise exited in the middle
   * of that, with a pending top-level await (exit 13) or an abort from inside onnxruntime's native
   * start ("terminate called after throwing an instance of 'Napi::Error'").
   */
  async terminate(): Promise<void> {
    if (this.#state === 'up' && !this.#heardFrom) {
      this.#worker.ref(); // an unref'd (early) worker would not keep the process alive for the answer
      await bounded(this.ready(), 15_000, true);
    }
    if (this.#state === 'up') this.#state = 'stopped';
    this.#ring?.close();
    this.#rejectAll(new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', 'the model was unloaded'));
    if (!this.#exited) {
      // The worker ends itself between runs (`stop`); Worker.terminate() while it is inside
      // onnxruntime's native run aborted the whole process (a Napi::Error thrown from the binding
      // as the run returned). A run that does not end within STOP_WAIT_MS (a stuck model) gets the
      // hard terminate anyway, as before.
      const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
      this.#ring?.beforePost();
      this.#worker.postMessage({ type: 'stop', id: 0 } satisfies ToWorker);
      this.#ring?.afterPost();
      await bounded(exited, STOP_WAIT_MS, true);
    }
    await this.#worker.terminate();
  }

  #request(make: (id: number) => ToWorker, transfer: ArrayBuffer[], recent?: RecentRuns): Promise<LoadReply | RunReply | null> {
    if (this.#state !== 'up') {
      return Promise.reject(new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `the worker is ${this.#state}`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, recent === undefined ? { resolve, reject } : { resolve, reject, recent });
      this.#ring?.beforePost();
      this.#worker.postMessage(make(id), transfer);
      this.#ring?.afterPost();
    });
  }

  #ringAnswer(id: number, a: RingAnswer): void {
    this.#heardFrom = true;
    if (a.kind === 'posted') return; // settled (and counted) by the `ran` message with this id
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    if (a.kind === 'done') {
      p.recent?.add(a.inferenceMs);
      p.resolve({ outputs: a.outputs, inferenceMs: a.inferenceMs });
    } else p.reject(new EdgeError(isErrorCode(a.code) ? a.code : 'EDGE_ERR_INTERNAL', a.message));
  }

  #settle(msg: FromWorker): void {
    const p = this.#pending.get(msg.id);
    if (p === undefined) return;
    this.#pending.delete(msg.id);
    if (msg.type === 'ran') {
      if (msg.ring === true) this.#stats.postedAnswers++;
      p.recent?.add(msg.reply.inferenceMs);
    }
    if (msg.type === 'fail') p.reject(new EdgeError(msg.error.code, msg.error.message));
    else if (msg.type === 'pong') p.resolve(null);
    else p.resolve(msg.reply);
  }

  #crashed(why: string): void {
    if (this.#state !== 'up') return;
    this.#state = 'crashed';
    this.#ring?.close();
    const err = new EdgeError('EDGE_ERR_WORKER_CRASHED', why, { details: { pending: this.#pending.size } });
    this.#rejectAll(err);
    this.#onCrash(err);
  }

  #rejectAll(err: EdgeError): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) p.reject(err);
  }
}
