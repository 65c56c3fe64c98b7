/**
 * Planner data: plain input, plain output. The planner does no I/O and reads no clock.
 */
import type { BackendKind, DeviceProfile, Precision } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import type { ModelManifest } from '../repository/types.js';

/** What a backend can run. The planner refuses variants outside this. */
export interface BackendCaps {
  kind: BackendKind;
  precisions: Precision[];
  /** Domain-qualified op types this backend cannot run ("com.microsoft.MatMulNBits"). */
  unsupportedOps: string[];
  /**
   * Multiplier on the profile's estimatedGmacsPerS per precision for this backend (e.g. WASM runs
   * int8 slower than fp32: DESIGN.md measured int8 2.8x slower, int4 17x slower than fp32 under WASM).
   */
  speedFactor: Partial<Record<Precision, number>>;
  /**
   * Memory one loaded session costs beyond its weights on this backend, MB (worker thread, runtime
   * state). Default: the planner's ESTIMATE.sessionOverheadMB (runtime/planner/estimate.ts).
   */
  sessionOverheadMB?: number;
  /**
   * WASM (issue 18): the memory model of the shared runtime, measured on the reference machine
   * (planner/wasm-memory.ts): the runtime's one-time cost and each variant's own cost. Absent for
   * native, where each model pays its own worker (sessionOverheadMB).
   */
  wasmMemory?: WasmMemoryFigures;
}

/** The WASM memory model's figures (planner/wasm-memory-figures.ts holds the measured ones). */
export interface WasmMemoryFigures {
  /** Where and how they were measured: machine, Node, onnxruntime-web, V8 tiers, date, command. */
  measuredOn: string;
  /** The shared runtime's start (worker + onnxruntime-web initialised), MB. */
  runtimeMB: number;
  /**
   * Memory the first model to need it pays and later ones share (lazily compiled kernel code and
   * wasm heap growth common to the zoo's models), MB: the largest gap between a variant loaded
   * alone and the same variant loaded after the other models. Charged once with the runtime.
   */
  sharedMB: number;
  /**
   * Per variant (matched by sha256, so a changed file is not given an old figure): its own cost
   * on a runtime already holding the other models (the shared part is in `sharedMB`), MB.
   */
  variants: { model: string; variant: string; sha256: string; mb: number }[];
  /** For a variant not in `variants`: baseMB + perFileMB x file size in MB (a line above every measured variant). */
  fallback: { baseMB: number; perFileMB: number };
}

/** What the backend's shared runtime costs once (measured at start-up by `bench --calibrate`). */
export interface RuntimeCalibration {
  backend: BackendKind;
  threads: number;
  /** RSS growth from starting the runtime to it being ready, MB. */
  rssMB: number;
  /**
   * WASM: the shared allowance measured on this board (largest gap between a variant loaded alone
   * and after the other models), MB. With it, the calibration's per-variant `rssMB` are those
   * after-the-others figures; without it they are alone figures (upper bounds).
   */
  sharedMB?: number;
}

/** Measured figures for one variant on this device and backend (from `edge-infer bench --calibrate`). */
export interface CalibrationEntry {
  model: string;
  variant: string;
  backend: BackendKind;
  threads: number;
  loadMs: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** RSS growth after load and warm-up, MB. */
  rssMB: number;
}

export interface Calibration {
  /** Profile id the figures were measured under. */
  profile: string;
  measuredAt: string;
  entries: CalibrationEntry[];
  /** The backend runtime's one-time cost (WASM), when measured. */
  runtimes?: RuntimeCalibration[];
}

/** A variant refused at load time (integrity, budget...) that a re-plan must skip. */
export interface Exclusion {
  model: string;
  variant: string;
  code: ErrorCode;
  detail: string;
}

export interface PlanInput {
  profile: DeviceProfile;
  manifests: ModelManifest[];
  budgetMB: number;
  backend: BackendCaps;
  calibration?: Calibration;
  /** Higher keeps its preferred variant longer when the shared budget is short. Default 0. */
  priorities?: Record<string, number>;
  exclusions?: Exclusion[];
}

export const REJECT_REASONS = ['excluded', 'unsupported-precision', 'unsupported-op', 'below-accuracy-floor', 'slower-than-target', 'over-budget', 'lower-preference'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  variant: string;
  reason: RejectReason;
  /** One sentence with the figures: "needs 31.2 MB, 12.4 MB over the 18.8 MB left". */
  detail: string;
}

/**
 * measured: on this device (calibration); reference: measured on the reference machine (x86 WASM,
 * planner/wasm-memory-figures.ts), not on this board; estimated: from constants.
 */
export type FigureSource = 'measured' | 'reference' | 'estimated';

export interface ChosenVariant {
  variant: string;
  precision: Precision;
  memoryMB: number;
  memorySource: FigureSource;
  latencyMs: number;
  latencySource: FigureSource;
  accuracy: number;
  /** Why this one: "first in precision preference that fits". */
  detail: string;
}

export interface ModelPlan {
  model: string;
  priority: number;
  chosen: ChosenVariant | null;
  /** Set when nothing could be chosen (EDGE_ERR_NO_VARIANT_FITS). */
  error?: { code: ErrorCode; message: string };
  rejected: Rejection[];
}

export interface Plan {
  profile: string;
  backend: BackendKind;
  budgetMB: number;
  /** Models' memory plus the runtime's one-time cost, MB. */
  usedMB: number;
  /**
   * The backend's shared runtime, charged once when any model is planned (WASM; issue 18). Absent
   * when the backend has none (native) or no model is planned.
   */
  runtime?: {
    /** startMB + sharedMB. */
    mb: number;
    source: FigureSource;
    /** The runtime's start. */
    startMB: number;
    /** The allowance for memory the models share (WasmMemoryFigures.sharedMB); the service lets a model's measured growth over its figure use it. */
    sharedMB: number;
  };
  models: ModelPlan[];
}
