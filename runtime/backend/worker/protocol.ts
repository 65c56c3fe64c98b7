/**
 * Messages between an engine (main thread) and one session worker. Small typed unions; tensors
 * travel as plain `Tensor` objects whose buffers are in the transfer list (moved, not copied).
 *
 * Contract: every request carries an `id`; the worker answers each id exactly once with `ok` or
 * `fail`. Sessions are named by `session` (default ""): a native worker serves one model (one
 * `load`); the shared WASM runtime (wasm-engine.ts) holds several, each loaded, run and unloaded
 * by its own name.
 */
import type { BackendKind, GraphOptLevel } from '../../config/types.js';
import type { ErrorCode } from '../../errors.js';
import type { NamedTensors } from '../../tensor.js';
import type { IoSpec } from '../types.js';

/** What the worker needs to know at start (Worker `workerData`). */
export interface WorkerBoot {
  kind: BackendKind;
  /** WASM only: file:// URL of onnxruntime-web's dist/ folder (ends with "/"). */
  wasmPathsUrl?: string;
  /** When true the worker honours `crash` (tests only). */
  allowTestHooks: boolean;
  /**
   * WASM only: initialise onnxruntime-web's wasm instance at start (a 66-byte Identity model is
   * loaded and released), so `pong` means the runtime is up and its one-time memory is spent
   * before the first model's load is measured (issue 18).
   */
  initRuntime?: boolean;
  /** WASM only: onnxruntime-web's `env.wasm.numThreads` (its own pthread workers). Default 1. */
  wasmThreads?: number;
  /**
   * Payload bytes of each shared-memory slot (ring.ts, issue 16); 0 turns the ring off (every run
   * by postMessage). The host creates the ring from it and passes it as `ring`.
   */
  ringSlotBytes?: number;
  /** Main thread only: runs of a session whose recent runs took this long (ms) or more skip the ring. Default RING_MAX_RUN_MS (worker-host.ts). */
  ringMaxRunMs?: number;
  /** The ring itself (set by WorkerHost, not by engines). */
  ring?: SharedArrayBuffer;
}

export interface WorkerLoadSpec {
  file: string;
  bytes?: Uint8Array;
  intraOpThreads: number;
  graphOptimization: GraphOptLevel;
  memArena: boolean;
  memPattern: boolean;
  optimizedModelPath?: string;
  warmup?: NamedTensors;
}

export type ToWorker =
  | { type: 'load'; id: number; spec: WorkerLoadSpec; session?: string }
  | { type: 'run'; id: number; inputs: NamedTensors; session?: string }
  /** Releases one named session (shared WASM runtime); answered with `pong`. */
  | { type: 'unload'; id: number; session: string }
  | { type: 'crash'; id: number }
  /** Ends the worker from inside (process.exit) once the run it may be in has returned; not answered. */
  | { type: 'stop'; id: number }
  /** Answered with `pong` once the worker has its runtime library loaded (a pre-started worker is ready). */
  | { type: 'ping'; id: number };

export interface LoadReply {
  inputNames: string[];
  outputNames: string[];
  inputs: IoSpec[];
  outputs: IoSpec[];
  loadMs: number;
  warmupMs: number | null;
  fromCache: boolean;
  /** Why the optimized-model cache could not be written (the model loaded without it), if so. */
  cacheError?: string;
}

export interface RunReply {
  outputs: NamedTensors;
  inferenceMs: number;
}

export interface WorkerFailure {
  code: ErrorCode;
  message: string;
}

export type FromWorker =
  | { type: 'loaded'; id: number; reply: LoadReply }
  /** `ring`: the request came through the shared-memory ring and this answer did not fit its slot. */
  | { type: 'ran'; id: number; reply: RunReply; ring?: true }
  | { type: 'fail'; id: number; error: WorkerFailure }
  | { type: 'pong'; id: number };
