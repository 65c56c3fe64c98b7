/**
 * onnxruntime-web (WASM) sessions in Node, for platforms without an onnxruntime-node binary
 * (32-bit ARM: the Pi Zero 2 W). Issue 18: one shared WASM runtime (a worker thread holding one
 * onnxruntime-web instance) holds every model's session, instead of one worker per model.
 *
 * Why shared (bench/wasm-memory.ts, x86, Node 20, ORT-web 1.30, liftoff-only): the runtime's
 * one-time cost (a worker isolate, the 14.2 MB wasm module compiled, its 16 MB initial heap) is
 * ~40 MB and each further model costs only its own sessions's share of the one wasm heap; with a
 * worker per model every model paid the runtime again (three models: 88 + 188 + 21 MB).
 *
 * What sharing costs in isolation, and how it is contained:
 * - a crash of the runtime (wasm trap that kills the worker, OOM abort) takes every WASM model
 *   down at once: each gets `onWorkerCrash(key, err)` and EDGE_ERR_WORKER_CRASHED for its pending
 *   runs; the next `load` starts a fresh runtime (the model lifecycle re-loads what it serves);
 * - one run at a time: a long or stuck run of one model delays every other model's runs (ORT-web
 *   runs on the worker's single thread). The service's watchdog (service.ts `healthy`) sees a model
 *   with runs in flight and none finished for a whole period and stops pinging systemd, which
 *   restarts the service: a stuck shared runtime is contained by the process, not per model;
 * - the wasm heap never shrinks: an unloaded session's memory is reused by the next session, not
 *   returned; ending the runtime is what returns it, so the runtime ends when its last model is
 *   unloaded (and starts lazily at the first load or `prestart`).
 * Native keeps one worker per model (worker-engine.ts): there the per-worker cost is ~11 MB, and
 * terminating the worker is what returns leaked native memory.
 *
 * The .wasm/.mjs files are loaded from node_modules/onnxruntime-web/dist via a file:// URL, never
 * from the network. onnxruntime-web 1.30 ships one plain CPU build, ort-wasm-simd-threaded.wasm
 * (SIMD and threads in one; the jsep/jspi/asyncify builds are for WebGPU/WebNN and larger); it is
 * run with numThreads 1 (worker/ort-module.ts). The optimized-model cache is not used under WASM
 * (ORT-web would write it to its in-memory file system), so `fromCache` is always false.
 *
 * Figures: `runtimeMB()` is the process RSS growth from starting the runtime's worker to its
 * onnxruntime-web being initialised (the worker loads a 66-byte model at start, see
 * session-worker.ts); a model's `rssDeltaMB` is the growth around its own load + warm-up on an
 * initialised runtime. Loads are serialized so each figure belongs to one model.
 *
 * Errors: as InferenceEngine (types.ts); load also EDGE_ERR_SHUTTING_DOWN after close and
 * EDGE_ERR_WORKER_CRASHED when the runtime dies while starting.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { EdgeError } from '../errors.js';
import type { NamedTensors } from '../tensor.js';
import { discardEarlyWorker } from './early-worker.js';
import type { InferenceEngine, LoadedModel, LoadRequest, RunResult } from './types.js';
import { applyWasmTiers, type WasmTiers } from './wasm-v8-flags.js';
import type { EngineOptions } from './worker-engine.js';
import { checkRingMaxRunMs, checkSlotBytes } from './ring.js';
import { WorkerHost, type HopStats } from './worker-host.js';
import type { WorkerBoot, WorkerLoadSpec } from './worker/protocol.js';

/** file:// URL of onnxruntime-web's dist/ folder, ending with "/". Throws EDGE_ERR_BACKEND_UNAVAILABLE if absent. */
export function wasmDistUrl(): string {
  try {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
    return pathToFileURL(dist + '/').href;
  } catch (e) {
    throw new EdgeError('EDGE_ERR_BACKEND_UNAVAILABLE', 'onnxruntime-web is not installed', { cause: e });
  }
}

export interface WasmEngineOptions extends EngineOptions {
  /** V8's wasm tiers for this process (wasm-v8-flags.ts). Default 'liftoff-only'. */
  tiers?: WasmTiers;
  /** onnxruntime-web threads (`env.wasm.numThreads`). Default 1 (benches try more). */
  threads?: number;
}

interface Runtime {
  host: WorkerHost;
  /** Resolves with the runtime's start-up RSS growth, MB; rejects when it died starting. */
  ready: Promise<number>;
  mb: number | null;
}

const MB = 1024 * 1024;

export class WasmEngine implements InferenceEngine {
  readonly kind = 'wasm' as const;
  readonly #boot: WorkerBoot;
  readonly #models = new Map<string, LoadedModel>();
  readonly #onCrash: (key: string, err: EdgeError) => void;
  readonly #rss: () => number;
  #runtime: Runtime | undefined;
  #loads: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: WasmEngineOptions = {}) {
    this.#boot = {
      kind: 'wasm',
      allowTestHooks: options.allowTestHooks ?? false,
      wasmPathsUrl: wasmDistUrl(),
      initRuntime: true,
      wasmThreads: options.threads ?? 1,
      ...(options.ringSlotBytes === undefined ? {} : { ringSlotBytes: options.ringSlotBytes }),
      ...(options.ringMaxRunMs === undefined ? {} : { ringMaxRunMs: options.ringMaxRunMs }),
    };
    this.#onCrash = options.onWorkerCrash ?? (() => undefined);
    if (options.ringSlotBytes !== undefined) checkSlotBytes(options.ringSlotBytes);
    if (options.ringMaxRunMs !== undefined) checkRingMaxRunMs(options.ringMaxRunMs);
    this.#rss = options.rssBytes ?? (() => process.memoryUsage().rss);
    applyWasmTiers(options.tiers ?? 'liftoff-only');
  }

  /** Loads `req.key` into the shared runtime (started if needed). A key already loaded is refused (unload first). */
  load(req: LoadRequest): Promise<LoadedModel> {
    const next = this.#loads.then(() => this.#load(req));
    this.#loads = next.catch(() => undefined);
    return next;
  }

  /** Transfers the input buffers to the runtime: `inputs` must not be used afterwards. */
  run(key: string, inputs: NamedTensors): Promise<RunResult> {
    const rt = this.#runtime;
    if (!this.#models.has(key) || rt === undefined || !rt.host.up) {
      return Promise.reject(new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${key}" is not loaded`, { details: { key } }));
    }
    return rt.host.run(inputs, key);
  }

  /** True when `key` is loaded and the runtime is alive. */
  available(key: string): boolean {
    return this.#models.has(key) && this.#runtime?.host.up === true;
  }

  /** Runs of the shared runtime (all its models) per hop path; undefined when `key` is not loaded. */
  hopStats(key: string): HopStats | undefined {
    return this.#models.has(key) ? this.#runtime?.host.hopStats() : undefined;
  }

  info(key: string): LoadedModel | undefined {
    return this.#models.get(key);
  }

  /** Keys of the loaded models (all share one runtime). */
  loaded(): string[] {
    return [...this.#models.keys()];
  }

  /**
   * RSS the shared runtime took to start (worker + onnxruntime-web initialised), MB; null while
   * none is up. Counted once, however many models it holds.
   */
  runtimeMB(): number | null {
    const rt = this.#runtime;
    return rt !== undefined && rt.host.up ? rt.mb : null;
  }

  /** Releases the model's session; the last unload ends the runtime (the only way to return its heap). */
  async unload(key: string): Promise<void> {
    if (!this.#models.delete(key)) return;
    const rt = this.#runtime;
    if (rt === undefined) return;
    if (this.#models.size === 0) await this.#endRuntime();
    else await rt.host.unloadSession(key).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#models.clear();
    await Promise.all([this.#endRuntime(), discardEarlyWorker()]);
  }

  /** Starts the shared runtime ahead of the first load, so its start overlaps the caller's work. */
  prestart(): void {
    if (!this.#closed) this.#start();
  }

  /** Ends the runtime when it holds no model (a prestarted one no load came for). */
  async releaseSpare(): Promise<void> {
    await discardEarlyWorker();
    if (this.#models.size === 0) await this.#endRuntime();
  }

  /** Test hook: makes the shared runtime's worker exit abruptly (every model on it goes down). */
  crashForTest(key: string): void {
    if (!this.#boot.allowTestHooks) throw new EdgeError('EDGE_ERR_INTERNAL', 'crashForTest needs allowTestHooks');
    const rt = this.#runtime;
    if (!this.#models.has(key) || rt === undefined) throw new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${key}" is not loaded`);
    rt.host.crash().catch(() => undefined);
  }

  #start(): Runtime {
    const cur = this.#runtime;
    if (cur !== undefined && cur.host.up) return cur;
    const rss0 = this.#rss();
    const host = new WorkerHost(this.#boot, 'wasm-runtime', (err) => this.#crashed(host, err));
    const rt: Runtime = { host, ready: Promise.resolve(0), mb: null };
    rt.ready = host.ready().then(() => {
      rt.mb = Math.max(0, (this.#rss() - rss0) / MB);
      return rt.mb;
    });
    rt.ready.catch(() => undefined);
    this.#runtime = rt;
    return rt;
  }

  /** Every model on the dead runtime goes down with it; each is reported once. */
  #crashed(host: WorkerHost, err: EdgeError): void {
    if (this.#runtime?.host !== host) return;
    this.#runtime = undefined;
    const keys = [...this.#models.keys()];
    this.#models.clear();
    for (const k of keys) this.#onCrash(k, err);
  }

  async #endRuntime(): Promise<void> {
    const rt = this.#runtime;
    this.#runtime = undefined;
    await rt?.host.terminate();
  }

  async #load(req: LoadRequest): Promise<LoadedModel> {
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the engine is closed');
    if (this.#models.has(req.key)) {
      if (this.available(req.key)) throw new EdgeError('EDGE_ERR_LOAD_FAILED', `model "${req.key}" is already loaded; unload it first`, { details: { key: req.key } });
      this.#models.delete(req.key);
    }
    const spec: WorkerLoadSpec = {
      file: req.file,
      intraOpThreads: req.session.intraOpThreads,
      graphOptimization: req.session.graphOptimization,
      memArena: req.session.memArena,
      memPattern: req.session.memPattern,
      ...(req.bytes === undefined ? {} : { bytes: req.bytes.slice() }),
      ...(req.warmup === undefined ? {} : { warmup: { ...req.warmup } }),
    };
    const t0 = performance.now();
    const rt = this.#start();
    const prestarted = rt.mb !== null;
    await rt.ready;
    const rss0 = this.#rss();
    const reply = await rt.host.load(spec, req.key);
    if (this.#closed) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the engine was closed during the load');
    const info: LoadedModel = { key: req.key, inputNames: reply.inputNames, outputNames: reply.outputNames, loadMs: performance.now() - t0, sessionMs: reply.loadMs, warmupMs: reply.warmupMs, rssDeltaMB: (this.#rss() - rss0) / MB, fromCache: false, prestarted, inputs: reply.inputs, outputs: reply.outputs };
    this.#models.set(req.key, info);
    return info;
  }
}
