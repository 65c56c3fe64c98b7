/**
 * The worker-thread engine behind NativeEngine (WASM shares one runtime instead: wasm-engine.ts).
 *
 * Layout: one worker thread per loaded model. The worker holds the model's only session; `unload`
 * terminates the thread rather than releasing the session in a long-lived thread, because session
 * release leaks native memory (onnxruntime issue 25325) and ending the thread is what returns it.
 * Each worker runs one inference at a time (ORT's intra-op threads do the parallel work); the
 * scheduler decides how many requests to keep in flight.
 *
 * Figures behind the layout (x86, 2 busy cores, ORT 1.30; bench/engine-overhead.ts): the thread hop
 * costs about 0.1-0.15 ms per run (two postMessage wake-ups; a bare echo round trip is
 * 0.03-0.11 ms), so the ratio to raw session.run is ~3x for a 0.05 ms model and ~1.1-1.2x at
 * 1-1.6 ms. Since issue 16 small, short runs take a shared-memory ring instead (worker-host.ts,
 * ring.ts): 0.54-0.93x the postMessage path's time for the 0.015-0.08 ms models of bench section 1;
 * models whose runs take >= 1 ms keep postMessage (the ring measured slower there). A worker costs ~10 MB RSS and ~0.1-0.3 s to start (the first one in a process ~30 MB:
 * it maps the ORT library). 30 load/unload cycles of mlp-wide left RSS flat (98.9 MB).
 *
 * `loadMs` is measured here, from the load request to the session being ready (worker start,
 * reading and hashing the model, session creation; not the warm-up), because that is what a
 * (re)start costs.
 *
 * Pre-started worker: a worker start (isolate + onnxruntime's library) costs more than creating a
 * small model's session, and it does not depend on the model. `prestart()` starts one spare worker
 * ahead of the next load, so the caller overlaps that start with its own work (the service: its
 * calibration, preprocessors, plan and model file checks). A load that takes the spare reports
 * `prestarted: true`; its loadMs holds no thread start (unless the spare was still booting), and
 * its rssDeltaMB adds the spare's own start-up growth (measured from prestart to the worker's
 * `pong`) so a model's memory figure does not depend on how its worker was started. A spare holds
 * no model but costs a worker's memory: `releaseSpare()` ends it. `prestart()` adopts the
 * process's early worker (early-worker.ts: started by `edge-infer run` before its imports) when
 * there is one; a model loaded on it reports only its own load's RSS growth. Loads are serialized so `rssDeltaMB` (process RSS after load + warm-up minus before) belongs to
 * one model. It includes the worker thread's own isolate, which is part of what a model costs here.
 *
 * Errors: load -> EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED | EDGE_ERR_FILE_MISSING |
 * EDGE_ERR_WORKER_CRASHED | EDGE_ERR_SHUTTING_DOWN (after close); run -> EDGE_ERR_INFERENCE_FAILED |
 * EDGE_ERR_WORKER_CRASHED (the worker died with the request in flight) | EDGE_ERR_MODEL_UNAVAILABLE
 * (not loaded, unloaded, or its worker crashed earlier: load it again).
 */
import { performance } from 'node:perf_hooks';
import type { BackendKind } from '../config/types.js';
import { EdgeError } from '../errors.js';
import type { NamedTensors } from '../tensor.js';
import type { InferenceEngine, LoadedModel, LoadRequest, RunResult } from './types.js';
import { discardEarlyWorker, takeEarlyWorker } from './early-worker.js';
import { checkRingMaxRunMs, checkSlotBytes } from './ring.js';
import { WorkerHost, type HopStats } from './worker-host.js';
import type { WorkerBoot, WorkerLoadSpec } from './worker/protocol.js';

export interface EngineOptions {
  /** Called once when a model's worker dies unasked; the model stays unavailable until loaded again. */
  onWorkerCrash?: (key: string, err: EdgeError) => void;
  /** Enables `crashForTest`. Default false; tests only. */
  allowTestHooks?: boolean;
  /** Process RSS in bytes. Default () => process.memoryUsage().rss. */
  rssBytes?: () => number;
  /**
   * Payload bytes per shared-memory slot of each worker's ring (issue 16, worker-host.ts); runs whose
   * inputs and outputs fit go through shared memory, others by postMessage. 0 turns the ring off.
   * Default DEFAULT_RING_SLOT_BYTES (16 KB); anything but 0 or 64..64 MB: EDGE_ERR_CONFIG_INVALID from the constructor.
   */
  ringSlotBytes?: number;
  /** Runs of a model whose recent runs took this long (ms) or more skip the ring (worker-host.ts). Default RING_MAX_RUN_MS (1); Infinity: always the ring when it fits. */
  ringMaxRunMs?: number;
}

interface Entry {
  host: WorkerHost;
  info: LoadedModel;
}

const MB = 1024 * 1024;

export class WorkerEngine implements InferenceEngine {
  readonly kind: BackendKind;
  readonly #boot: WorkerBoot;
  readonly #models = new Map<string, Entry>();
  readonly #onCrash: (key: string, err: EdgeError) => void;
  readonly #rss: () => number;
  #loads: Promise<unknown> = Promise.resolve();
  #spare: { host: WorkerHost; ready: Promise<number> } | undefined;
  #closed = false;

  constructor(kind: BackendKind, options: EngineOptions = {}, wasmPathsUrl?: string) {
    this.kind = kind;
    this.#boot = { kind, allowTestHooks: options.allowTestHooks ?? false, ...(wasmPathsUrl === undefined ? {} : { wasmPathsUrl }), ...(options.ringSlotBytes === undefined ? {} : { ringSlotBytes: options.ringSlotBytes }), ...(options.ringMaxRunMs === undefined ? {} : { ringMaxRunMs: options.ringMaxRunMs }) };
    if (options.ringSlotBytes !== undefined) checkSlotBytes(options.ringSlotBytes);
    if (options.ringMaxRunMs !== undefined) checkRingMaxRunMs(options.ringMaxRunMs);
    this.#onCrash = options.onWorkerCrash ?? (() => undefined);
    this.#rss = options.rssBytes ?? (() => process.memoryUsage().rss);
  }

  /** Loads `req.key` into a new worker. A key already loaded and healthy is refused (unload first). */
  load(req: LoadRequest): Promise<LoadedModel> {
    const next = this.#loads.then(() => this.#load(req));
    this.#loads = next.catch(() => undefined);
    return next;
  }

  /** Transfers the input buffers to the worker: `inputs` must not be used afterwards. */
  run(key: string, inputs: NamedTensors): Promise<RunResult> {
    const entry = this.#models.get(key);
    if (entry === undefined || !entry.host.up) {
      return Promise.reject(new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${key}" is not loaded`, { details: { key } }));
    }
    return entry.host.run(inputs);
  }

  /** True when `key` is loaded and its worker is alive. */
  available(key: string): boolean {
    return this.#models.get(key)?.host.up ?? false;
  }

  /** Runs of `key`'s worker per hop path (ring or postMessage); undefined when not loaded. */
  hopStats(key: string): HopStats | undefined {
    return this.#models.get(key)?.host.hopStats();
  }

  /** Load figures of a loaded model. */
  info(key: string): LoadedModel | undefined {
    return this.#models.get(key)?.info;
  }

  /** Terminates the model's worker (returning its native memory); pending runs reject EDGE_ERR_MODEL_UNAVAILABLE. */
  async unload(key: string): Promise<void> {
    const entry = this.#models.get(key);
    if (entry === undefined) return;
    this.#models.delete(key);
    await entry.host.terminate();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#models.keys()].map((k) => this.unload(k)));
    await this.releaseSpare();
  }

  /** Starts a spare worker for the next load, unless one is up or the engine is closed. */
  prestart(): void {
    if (this.#closed || this.#spare?.host.up === true) return;
    const early = takeEarlyWorker(this.#boot);
    if (early !== undefined) {
      // Started with the process, while modules loaded: its start-up growth cannot be told apart
      // from theirs, so the model that takes it reports only its own load's growth.
      early.onCrash = () => {
        if (this.#spare?.host === early) this.#spare = undefined;
      };
      this.#spare = {
        host: early,
        ready: early.ready().then(
          () => 0,
          () => Number.NaN,
        ),
      };
      return;
    }
    const rss0 = this.#rss();
    const host = new WorkerHost(this.#boot, 'spare', () => {
      if (this.#spare?.host === host) this.#spare = undefined;
    });
    // Start-up growth of the process while the spare booted; NaN when it died first.
    const ready = host.ready().then(
      () => (this.#rss() - rss0) / MB,
      () => Number.NaN,
    );
    this.#spare = { host, ready };
  }

  /** Stops the spare worker, if any. */
  async releaseSpare(): Promise<void> {
    const spare = this.#spare;
    this.#spare = undefined;
    await Promise.all([spare?.host.terminate(), discardEarlyWorker()]);
  }

  /** True while a spare worker is up (tests, telemetry). */
  get hasSpare(): boolean {
    return this.#spare?.host.up === true;
  }

  /** Test hook: makes the model's worker exit abruptly. Throws EDGE_ERR_INTERNAL unless allowTestHooks. */
  crashForTest(key: string): void {
    if (!this.#boot.allowTestHooks) throw new EdgeError('EDGE_ERR_INTERNAL', 'crashForTest needs allowTestHooks');
    const entry = this.#models.get(key);
    if (entry === undefined) throw new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${key}" is not loaded`);
    entry.host.crash().catch(() => undefined);
  }

  async #load(req: LoadRequest): Promise<LoadedModel> {
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the engine is closed');
    const old = this.#models.get(req.key);
    if (old !== undefined) {
      if (old.host.up) throw new EdgeError('EDGE_ERR_LOAD_FAILED', `model "${req.key}" is already loaded; unload it first`, { details: { key: req.key } });
      this.#models.delete(req.key);
      await old.host.terminate();
    }
    const spec: WorkerLoadSpec = {
      file: req.file,
      intraOpThreads: req.session.intraOpThreads,
      graphOptimization: req.session.graphOptimization,
      memArena: req.session.memArena,
      memPattern: req.session.memPattern,
      ...(req.session.optimizedModelPath === undefined ? {} : { optimizedModelPath: req.session.optimizedModelPath }),
      ...(req.bytes === undefined ? {} : { bytes: req.bytes.slice() }),
      ...(req.warmup === undefined ? {} : { warmup: { ...req.warmup } }),
    };
    const t0 = performance.now();
    const onCrash = (err: EdgeError): void => this.#onCrash(req.key, err);
    const spare = this.#spare?.host.up === true ? this.#spare : undefined;
    this.#spare = undefined;
    let host: WorkerHost;
    let spareMB = 0;
    if (spare === undefined) host = new WorkerHost(this.#boot, req.key, onCrash);
    else {
      host = spare.host;
      host.onCrash = onCrash;
      spareMB = Math.max(0, (await spare.ready) || 0);
    }
    const rss0 = this.#rss();
    let reply;
    try {
      reply = await host.load(spec);
    } catch (e) {
      await host.terminate();
      throw e;
    }
    if (this.#closed) {
      await host.terminate();
      throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the engine was closed during the load');
    }
    const info: LoadedModel = {
      key: req.key,
      inputNames: reply.inputNames,
      outputNames: reply.outputNames,
      loadMs: performance.now() - t0,
      sessionMs: reply.loadMs,
      warmupMs: reply.warmupMs,
      rssDeltaMB: (this.#rss() - rss0) / MB + spareMB,
      fromCache: reply.fromCache,
      ...(reply.cacheError === undefined ? {} : { cacheError: reply.cacheError }),
      prestarted: spare !== undefined,
      inputs: reply.inputs,
      outputs: reply.outputs,
    };
    this.#models.set(req.key, { host, info });
    return info;
  }
}
