/**
 * The device profile: what this board is and what we want from inference on it.
 * The JSON Schema in profile-schema.ts is the source of truth for validation and defaults;
 * this interface is what code sees after validation (defaults applied).
 */

export const ARCHES = ['arm64', 'armv7', 'x64'] as const;
export type Arch = (typeof ARCHES)[number];

export const CPU_FEATURES = ['neon', 'dotprod', 'fp16', 'i8mm', 'sse4', 'avx2', 'avx512', 'avx512vnni'] as const;
export type CpuFeature = (typeof CPU_FEATURES)[number];

export const PRECISIONS = ['fp32', 'fp16', 'int8', 'int4', 'mixed'] as const;
export type Precision = (typeof PRECISIONS)[number];

export const BACKEND_PREFS = ['auto', 'native', 'wasm'] as const;
export type BackendPref = (typeof BACKEND_PREFS)[number];
export type BackendKind = Exclude<BackendPref, 'auto'>;

export const GRAPH_OPT_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptLevel = (typeof GRAPH_OPT_LEVELS)[number];

export interface ProfileMatch {
  /** Regular expression tested against /proc/device-tree/model (e.g. "^Raspberry Pi 4"). */
  deviceTreeModel?: string;
  /** Accept hosts whose MemTotal (MB) is in [minMB, maxMB]. */
  memoryMB?: { minMB: number; maxMB: number };
}

export interface ProfileCpu {
  arch: Arch;
  cores: number;
  /** Human CPU name, e.g. "Cortex-A72". */
  model?: string;
  /** Features the planner cares about: dotprod makes 4-bit MatMulNBits fast. Default []. */
  features: CpuFeature[];
}

export interface ProfileMemory {
  /** Physical memory of the board, MB. */
  totalMB: number;
  /** Most the runtime may use for model sessions, MB. Must be <= totalMB - reserveMB. */
  budgetMB: number;
  /** Left for the OS and the rest of the process, MB. Default 64. */
  reserveMB: number;
}

export interface ProfileInference {
  /** Intra-op threads per session. Default 1. */
  threads: number;
  /** Precisions in order of preference; a precision not listed is never chosen. */
  precision: Precision[];
  /** Lowest accuracy (0..1, on the model's eval set) a variant may have. Default 0. */
  accuracyFloor: number;
  /** p95 latency per request the board should meet, ms. */
  latencyTargetMs: number;
  /** Default "auto": native where onnxruntime-node has a binary, WASM otherwise. */
  backend: BackendPref;
  /** Default "all". */
  graphOptimization: GraphOptLevel;
  /**
   * Rough throughput in giga-MACs per second per precision at `threads`, used to estimate latency
   * when no calibration exists. Estimates, not measurements: `plan` labels them as such.
   */
  estimatedGmacsPerS: Partial<Record<Precision, number>>;
}

export interface ProfileThermal {
  /** Above this CPU temperature (C) the runtime moves to cheaper variants. */
  softLimitC: number;
  /** The board throttles here (Pi firmware: 80-85 C). */
  hardLimitC: number;
}

export interface DeviceProfile {
  $schema?: string;
  id: string;
  board: string;
  description?: string;
  match: ProfileMatch;
  cpu: ProfileCpu;
  memory: ProfileMemory;
  inference: ProfileInference;
  thermal: ProfileThermal;
  telemetry: { intervalS: number };
}
