/**
 * The per-model state ModelRuntime keeps, its settings and status shapes, and small pure helpers.
 * Split out of model-runtime.ts; only the runtime mutates a Slot.
 */
import type { ErrorCode } from '../errors.js';
import type { DeviceProfile } from '../config/types.js';
import type { BackendCaps, Calibration, CalibrationEntry, Exclusion, PlanInput } from '../planner/types.js';
import type { LoadedManifest, TensorSpec, VariantManifest } from '../repository/types.js';
import type { ModelQueue } from '../scheduler/model-queue.js';
import type { LatencyHistogram, WindowedHistogram } from '../telemetry/histogram.js';
import type { ModelState, ModelSwitch } from '../telemetry/payload.js';
import type { ModelLifecycle } from './model-lifecycle.js';
import type { NamedTensors } from '../tensor.js';
import { DEFAULT_MODEL_CONFIG, type ModelServiceConfig } from '../config/service-config.js';

/** A model's scheduling settings: the service config's per-model entry (one definition, in config/). */
export type ModelSettings = ModelServiceConfig;

export const DEFAULT_MODEL_SETTINGS: Readonly<ModelSettings> = DEFAULT_MODEL_CONFIG;

export interface ModelStatus {
  model: string;
  state: ModelState;
  variant: string | null;
  precision: string | null;
  loadMs: number | null;
  rssDeltaMB: number | null;
  fromCache: boolean;
  error?: { code: ErrorCode; message: string };
  /** Times the inference worker crashed and was reloaded since start. */
  restarts: number;
  /** Why the optimized-model cache could not be written at the last load (the model runs without it). */
  cacheError?: string;
  /** The plan's choice; `variant` differs from it after an adaptive switch. */
  preferred: string | null;
  /** Most recent last, at most SWITCH_HISTORY. */
  switches: ModelSwitch[];
}

export interface Slot {
  loaded: LoadedManifest;
  settings: ModelSettings;
  /** The only owner of the model's state (model-lifecycle.ts). */
  life: ModelLifecycle;
  variant: VariantManifest | null;
  key: string | null;
  queue: ModelQueue | null;
  loadMs: number | null;
  rssDeltaMB: number | null;
  fromCache: boolean;
  error?: { code: ErrorCode; message: string };
  cacheError?: string;
  /** Requests answered with a result / with an error / refused at the queue (overloaded, stopping). */
  requests: number;
  errors: number;
  rejected: number;
  /** infer() call -> outcome, ms. */
  latency: LatencyHistogram;
  /** The same for the current variant only, over a sliding window (the adaptive loop's p95). */
  window: WindowedHistogram;
  /** Planner memory figure of the loaded variant, MB. */
  plannedMB: number;
  switches: ModelSwitch[];
  /** The swap in progress, if any (swaps of one model are serialised). */
  swapping: Promise<unknown> | null;
  /** Requests waiting for the model to (re)load; bounded by settings.queueLimit. */
  waiting: number;
  /** True once a reload's new runtime took over this slot's session (this runtime must not unload it). */
  handedOver: boolean;
}

/** Calibration entries with memory replaced by what this run measured at load (latency stays the calibration's). */
export function mergeEntries(base: CalibrationEntry[], measured: CalibrationEntry[]): CalibrationEntry[] {
  const rss = new Map(measured.map((e) => [`${e.model}/${e.variant}`, e.rssMB]));
  return base.map((e) => {
    const m = rss.get(`${e.model}/${e.variant}`);
    return m === undefined ? e : { ...e, rssMB: m };
  });
}

export function batchable(inputs: readonly TensorSpec[]): boolean {
  return inputs.every((i) => typeof i.shape[0] === 'string');
}

export function firstInputRows(inputs: NamedTensors): number {
  const first = Object.values(inputs)[0];
  return first?.dims[0] ?? 1;
}

/** The planner's input for a runtime's slots: priorities from settings, calibration with measured memory. */
export function planInput(o: { profile: DeviceProfile; budgetMB: number; caps: BackendCaps; calibration?: Calibration | undefined }, slots: ReadonlyMap<string, Slot>, exclusions: Exclusion[], measured: CalibrationEntry[]): PlanInput {
  const priorities: Record<string, number> = {};
  for (const [id, s] of slots) priorities[id] = s.settings.priority;
  const calibration: Calibration | undefined = o.calibration ? { ...o.calibration, entries: mergeEntries(o.calibration.entries, measured) } : undefined;
  return { profile: o.profile, manifests: [...slots.values()].map((s) => s.loaded.manifest), budgetMB: o.budgetMB, backend: o.caps, priorities, exclusions, ...(calibration ? { calibration } : {}) };
}
