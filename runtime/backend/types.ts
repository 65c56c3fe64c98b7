/**
 * The backend contract. backend/ is the only folder that imports onnxruntime-node or
 * onnxruntime-web; everything else sees these plain types.
 */
import type { BackendKind, GraphOptLevel } from '../config/types.js';
import type { NamedTensors } from '../tensor.js';

export interface SessionSpec {
  /** Intra-op threads. */
  intraOpThreads: number;
  graphOptimization: GraphOptLevel;
  /** The CPU arena never shrinks; turn it off when memory is tight. */
  memArena: boolean;
  memPattern: boolean;
  /** Where to write/read the optimized model so a second start skips graph optimization. */
  optimizedModelPath?: string;
}

export interface LoadRequest {
  /** Caller-chosen handle, e.g. "digits@int8". */
  key: string;
  /** Absolute path of a verified model file. */
  file: string;
  /**
   * The verified bytes of `file`, when the caller already holds them (the repository hashed them):
   * the engine loads these instead of re-reading `file`, so what runs is what was verified
   * (no TOCTOU window). Copied to the worker; the caller keeps ownership.
   */
  bytes?: Uint8Array;
  session: SessionSpec;
  /** Run once after load so RSS and first-run latency are measured now, not on the first request. */
  warmup?: NamedTensors;
}

export interface LoadedModel {
  key: string;
  inputNames: string[];
  outputNames: string[];
  loadMs: number;
  warmupMs: number | null;
  /** RSS growth of the process that holds the session, measured around load + warm-up, MB. */
  rssDeltaMB: number;
  /** Part of loadMs spent reading the model and creating the session (no thread start), ms. */
  sessionMs?: number;
  /** True when the load used a cached optimized model. */
  fromCache: boolean;
  /** Set when the optimized-model cache could not be written (disk full, read-only): the model loaded without it (issue 12 item 9). */
  cacheError?: string;
  /** True when the session went into a worker started ahead of the load (`prestart`), so loadMs holds no thread start. */
  prestarted?: boolean;
  /** The session's inputs as ORT reports them; a string dim is symbolic (dynamic), e.g. "batch". */
  inputs?: IoSpec[];
  outputs?: IoSpec[];
}

/** One model input or output as the loaded session reports it. */
export interface IoSpec {
  name: string;
  /** ORT's type name ("float32", "int64", ...); may be one edge-infer does not carry. */
  dtype: string;
  /** Fixed dims are numbers, symbolic ones strings; empty when ORT does not know the shape. */
  shape: (number | string)[];
}

export interface RunResult {
  outputs: NamedTensors;
  /** Time inside session.run, ms (monotonic clock). */
  inferenceMs: number;
}

/**
 * An inference engine: owns sessions and the threads they run on.
 * Errors: load -> EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED | EDGE_ERR_BACKEND_UNAVAILABLE;
 * run -> EDGE_ERR_INFERENCE_FAILED | EDGE_ERR_WORKER_CRASHED | EDGE_ERR_MODEL_UNAVAILABLE.
 * `run` never blocks the caller's event loop. Input tensors are transferred or copied (caller must not reuse them).
 */
export interface InferenceEngine {
  readonly kind: BackendKind;
  load(req: LoadRequest): Promise<LoadedModel>;
  run(key: string, inputs: NamedTensors): Promise<RunResult>;
  unload(key: string): Promise<void>;
  /** Unloads everything and stops threads. */
  close(): Promise<void>;
  /**
   * Optional: starts the thread (and runtime library) the next `load` will use, so that start
   * overlaps the caller's other work. `releaseSpare` stops it when no load came.
   */
  prestart?(): void;
  releaseSpare?(): Promise<void>;
  /**
   * Optional (the shared WASM runtime, issue 18): memory the backend's runtime holds once, beyond
   * every model's own `rssDeltaMB`, MB (measured at its start); null while no runtime is up.
   */
  runtimeMB?(): number | null;
}
