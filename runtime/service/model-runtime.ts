/**
 * The model runtime: turns a plan into loaded sessions inside the memory budget and serves
 * inferences through per-model queues. Used by `edge-infer run` (behind MQTT) and by
 * `edge-infer infer` (one local request), so both take the same path.
 *
 * Contract:
 * - `start()` plans, verifies (sha256, size, path) and loads the chosen variant of every enabled
 *   model. A variant refused at load (integrity, ORT refusal, measured memory over the budget) is
 *   excluded and the model is re-planned, so the next variant is tried; a model with nothing left
 *   stays `unavailable` and every other model keeps running. `start()` throws only for caller
 *   mistakes (no models at all), never because one model failed.
 * - `infer()` never throws synchronously; it rejects with EdgeError codes
 *   EDGE_ERR_UNKNOWN_MODEL, EDGE_ERR_MODEL_UNAVAILABLE, EDGE_ERR_OVERLOADED, EDGE_ERR_SHUTTING_DOWN,
 *   EDGE_ERR_INFERENCE_FAILED, EDGE_ERR_WORKER_CRASHED.
 * - The runtime owns its ModelQueues; the engine is owned by the caller (closed by the caller).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DeviceProfile } from '../config/types.js';
import { EdgeError, asEdgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { InferenceEngine } from '../backend/types.js';
import { planModels } from '../planner/plan.js';
import type { BackendCaps, Calibration, CalibrationEntry, Exclusion, ModelPlan, Plan } from '../planner/types.js';
import { verifyVariant } from '../repository/integrity.js';
import type { LoadedManifest, TensorSpec, VariantManifest } from '../repository/types.js';
import { ModelQueue } from '../scheduler/model-queue.js';
import type { NamedTensors } from '../tensor.js';
import type { InferOutcome, InferenceHandler } from '../transport/types.js';
import { LatencyHistogram } from '../telemetry/histogram.js';
import { latencyFigures } from '../telemetry/collector.js';
import type { ModelState, ModelTelemetry } from '../telemetry/payload.js';
import { topClasses } from './top-classes.js';
import { warmupInputs } from './warmup.js';

export interface ModelSettings {
  enabled: boolean;
  priority: number;
  maxBatch: number;
  maxQueueDelayMs: number;
  preferredBatchSizes: number[];
  queueLimit: number;
}

export const DEFAULT_MODEL_SETTINGS: ModelSettings = {
  enabled: true, priority: 0, maxBatch: 1, maxQueueDelayMs: 0, preferredBatchSizes: [], queueLimit: 64,
};

export interface ModelRuntimeOptions {
  profile: DeviceProfile;
  manifests: LoadedManifest[];
  engine: InferenceEngine;
  caps: BackendCaps;
  budgetMB: number;
  settings?: Record<string, Partial<ModelSettings>>;
  calibration?: Calibration;
  /** Folder for optimized-model caches (a restart skips graph optimization). Optional. */
  cacheDir?: string;
  /** Only these models (default: all enabled). */
  only?: string[];
  log: Logger;
  /** Monotonic milliseconds. Default performance.now. */
  now?: () => number;
}

export type { ModelState } from '../telemetry/payload.js';

export interface ModelStatus {
  model: string;
  state: ModelState;
  variant: string | null;
  precision: string | null;
  loadMs: number | null;
  rssDeltaMB: number | null;
  fromCache: boolean;
  error?: { code: ErrorCode; message: string };
}

interface Slot {
  loaded: LoadedManifest;
  settings: ModelSettings;
  state: ModelState;
  variant: VariantManifest | null;
  key: string | null;
  queue: ModelQueue | null;
  loadMs: number | null;
  rssDeltaMB: number | null;
  fromCache: boolean;
  error?: { code: ErrorCode; message: string };
  /** Requests answered with a result / with an error / refused at the queue (overloaded, stopping). */
  requests: number;
  errors: number;
  rejected: number;
  /** infer() call -> outcome, ms. */
  latency: LatencyHistogram;
}

export class ModelRuntime implements InferenceHandler {
  readonly #opts: ModelRuntimeOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #exclusions: Exclusion[] = [];
  readonly #measured: CalibrationEntry[] = [];
  #plan: Plan | null = null;
  #closing = false;

  constructor(opts: ModelRuntimeOptions) {
    this.#opts = opts;
    for (const loaded of opts.manifests) {
      const settings = { ...DEFAULT_MODEL_SETTINGS, ...(opts.settings?.[loaded.manifest.id] ?? {}) };
      if (!settings.enabled) continue;
      if (opts.only && !opts.only.includes(loaded.manifest.id)) continue;
      this.#slots.set(loaded.manifest.id, {
        loaded, settings, state: 'loading', variant: null, key: null, queue: null, loadMs: null, rssDeltaMB: null, fromCache: false,
        requests: 0, errors: 0, rejected: 0, latency: new LatencyHistogram(),
      });
    }
  }

  get plan(): Plan {
    return this.#plan ?? this.#replan();
  }

  /** Plans and loads; see the class contract. Resolves when every model is ready or unavailable. */
  async start(): Promise<Plan> {
    if (this.#slots.size === 0) {
      throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', 'no enabled models to serve', { details: { models: this.#opts.manifests.map((m) => m.manifest.id) } });
    }
    // Each pass loads what the plan chose; a refusal adds an exclusion and triggers another pass.
    for (let pass = 0; pass < 16; pass++) {
      const plan = this.#replan();
      let refused = false;
      for (const mp of plan.models) {
        const slot = this.#slots.get(mp.model);
        if (!slot) continue;
        if (mp.chosen === null) {
          await this.#release(slot);
          slot.state = 'unavailable';
          slot.error = mp.error ?? { code: 'EDGE_ERR_NO_VARIANT_FITS', message: 'no variant fits' };
          continue;
        }
        if (slot.variant?.id === mp.chosen.variant && slot.state === 'ready') continue;
        const ok = await this.#load(slot, mp);
        if (!ok) refused = true;
      }
      if (!refused) break;
    }
    return this.#replan();
  }

  inputSpecs(model: string): readonly TensorSpec[] | undefined {
    return this.#slots.get(model)?.loaded.manifest.inputs;
  }

  /** Manifest of a served model (labels, outputs), or undefined. */
  manifest(model: string): LoadedManifest | undefined {
    return this.#slots.get(model)?.loaded;
  }

  async infer(model: string, _requestId: string, inputs: NamedTensors): Promise<InferOutcome> {
    const slot = this.#slots.get(model);
    if (!slot) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `unknown model "${model}"`, { details: { model, known: [...this.#slots.keys()] } });
    const t0 = this.#now();
    try {
      const outcome = await this.#infer(slot, inputs);
      slot.requests += 1;
      slot.latency.record(this.#now() - t0);
      return outcome;
    } catch (e) {
      const err = asEdgeError(e);
      if (err.code === 'EDGE_ERR_OVERLOADED' || err.code === 'EDGE_ERR_SHUTTING_DOWN') slot.rejected += 1;
      else slot.errors += 1;
      throw err;
    }
  }

  async #infer(slot: Slot, inputs: NamedTensors): Promise<InferOutcome> {
    const model = slot.loaded.manifest.id;
    if (this.#closing) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the service is stopping');
    if (slot.state !== 'ready' || !slot.queue || !slot.variant) {
      throw new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${model}" is ${slot.state}${slot.error ? `: ${slot.error.message}` : ''}`, { details: { model, state: slot.state } });
    }
    const variant = slot.variant.id;
    const r = await slot.queue.submit(inputs, firstInputRows(inputs));
    const outcome: InferOutcome = { variant, outputs: r.outputs, queueMs: r.queueMs, inferenceMs: r.inferenceMs };
    const m = slot.loaded.manifest;
    if (m.task === 'classification') {
      const first = m.outputs[0];
      const logits = first ? r.outputs[first.name] : undefined;
      if (logits) outcome.top = topClasses(logits, m.labels, 3).flat();
    }
    return outcome;
  }

  /** Per-model figures for the telemetry payload. */
  telemetry(): ModelTelemetry[] {
    return [...this.#slots.entries()].map(([model, s]) => ({
      model,
      variant: s.variant?.id ?? null,
      state: s.state,
      requests: s.requests,
      errors: s.errors,
      rejected: s.rejected,
      queueDepth: s.queue?.stats().depth ?? 0,
      latencyMs: latencyFigures(s.latency.snapshot()),
    }));
  }

  /** Memory the loaded sessions account for: measured at load, or the plan's estimate when larger. */
  usedMB(): number {
    let sum = 0;
    for (const [id, s] of this.#slots) if (s.state === 'ready') sum += Math.max(s.rssDeltaMB ?? 0, this.#plannedMB(id));
    return Math.round(sum * 10) / 10;
  }

  status(): ModelStatus[] {
    return [...this.#slots.entries()].map(([model, s]) => ({
      model,
      state: s.state,
      variant: s.variant?.id ?? null,
      precision: s.variant?.precision ?? null,
      loadMs: s.loadMs,
      rssDeltaMB: s.rssDeltaMB,
      fromCache: s.fromCache,
      ...(s.error ? { error: s.error } : {}),
    }));
  }

  /** Per-model queue statistics (for telemetry). */
  queueStats(model: string): ReturnType<ModelQueue['stats']> | null {
    return this.#slots.get(model)?.queue?.stats() ?? null;
  }

  /** Stops taking requests, lets in-flight ones finish within `drainTimeoutMs`, unloads. */
  async close(drainTimeoutMs = 5000): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#slots.values()].map(async (s) => {
      if (s.queue) await s.queue.drain(drainTimeoutMs);
      await this.#release(s);
      s.state = 'unavailable';
    }));
  }

  #now(): number {
    return this.#opts.now ? this.#opts.now() : performance.now();
  }

  #replan(): Plan {
    const o = this.#opts;
    const priorities: Record<string, number> = {};
    for (const [id, s] of this.#slots) priorities[id] = s.settings.priority;
    const calibration: Calibration | undefined = o.calibration
      ? { ...o.calibration, entries: mergeEntries(o.calibration.entries, this.#measured) }
      : undefined;
    this.#plan = planModels({
      profile: o.profile,
      manifests: [...this.#slots.values()].map((s) => s.loaded.manifest),
      budgetMB: o.budgetMB,
      backend: o.caps,
      priorities,
      exclusions: this.#exclusions,
      ...(calibration ? { calibration } : {}),
    });
    return this.#plan;
  }

  /** Loads the chosen variant into `slot`, swapping out the old one. False when refused (excluded). */
  async #load(slot: Slot, mp: ModelPlan): Promise<boolean> {
    const o = this.#opts;
    const m = slot.loaded.manifest;
    const variant = m.variants.find((v) => v.id === mp.chosen?.variant);
    if (!variant) return false;
    const key = `${m.id}@${variant.id}`;
    const log = o.log.child({ model: m.id, variant: variant.id });
    try {
      const { path: file, bytes } = await verifyVariant(slot.loaded, variant);
      const loaded = await o.engine.load({
        key,
        file,
        bytes,
        session: {
          intraOpThreads: o.profile.inference.threads,
          graphOptimization: o.profile.inference.graphOptimization,
          memArena: o.budgetMB >= 256,
          memPattern: true,
          ...(o.cacheDir ? { optimizedModelPath: path.join(o.cacheDir, `${m.id}-${variant.id}-${variant.sha256.slice(0, 12)}-${o.engine.kind}.ort.onnx`) } : {}),
        },
        warmup: warmupInputs(m.inputs),
      });
      const measuredMB = Math.max(0, loaded.rssDeltaMB);
      const othersMB = [...this.#slots.values()]
        .filter((s) => s !== slot && s.state === 'ready')
        .reduce((sum, s) => sum + Math.max(s.rssDeltaMB ?? 0, this.#plannedMB(s.loaded.manifest.id)), 0);
      if (othersMB + Math.max(measuredMB, mp.chosen?.memoryMB ?? 0) > o.budgetMB) {
        await o.engine.unload(key);
        throw new EdgeError('EDGE_ERR_BUDGET_EXCEEDED', `loading ${key} took ${round(measuredMB)} MB; with ${round(othersMB)} MB held by other models that passes the ${round(o.budgetMB)} MB budget`, {
          details: { needMB: round(measuredMB), heldMB: round(othersMB), budgetMB: round(o.budgetMB) },
        });
      }
      this.#measured.push({
        model: m.id, variant: variant.id, backend: o.engine.kind, threads: o.profile.inference.threads,
        loadMs: loaded.loadMs, latencyP50Ms: loaded.warmupMs ?? 0, latencyP95Ms: loaded.warmupMs ?? 0, rssMB: Math.max(0, loaded.rssDeltaMB),
      });
      const old = { key: slot.key, queue: slot.queue };
      slot.key = key;
      slot.variant = variant;
      slot.queue = new ModelQueue({
        engine: o.engine,
        key,
        queueLimit: slot.settings.queueLimit,
        batching: batchable(m.inputs) && slot.settings.maxBatch > 1
          ? { maxBatch: slot.settings.maxBatch, maxQueueDelayMs: slot.settings.maxQueueDelayMs, preferredBatchSizes: slot.settings.preferredBatchSizes }
          : null,
        ...(o.now ? { clock: o.now } : {}),
      });
      slot.state = 'ready';
      slot.loadMs = loaded.loadMs;
      slot.rssDeltaMB = loaded.rssDeltaMB;
      slot.fromCache = loaded.fromCache;
      delete slot.error;
      log.info('model.loaded', { loadMs: round(loaded.loadMs), warmupMs: loaded.warmupMs === null ? null : round(loaded.warmupMs), rssDeltaMB: round(loaded.rssDeltaMB), fromCache: loaded.fromCache });
      if (old.queue && old.key) {
        await old.queue.drain(5000);
        await o.engine.unload(old.key);
      }
      return true;
    } catch (e) {
      const err = asEdgeError(e);
      this.#exclusions.push({ model: m.id, variant: variant.id, code: err.code, detail: err.message });
      slot.error = { code: err.code, message: err.message };
      log.error('model.refused', { code: err.code, message: err.message, hint: err.hint });
      return false;
    }
  }

  #plannedMB(model: string): number {
    return this.#plan?.models.find((p) => p.model === model)?.chosen?.memoryMB ?? 0;
  }

  async #release(slot: Slot): Promise<void> {
    if (slot.queue && slot.key) {
      await slot.queue.drain(0);
      await this.#opts.engine.unload(slot.key).catch(() => undefined);
    }
    slot.queue = null;
    slot.key = null;
  }
}

/** Calibration entries with memory replaced by what this run measured at load (latency stays the calibration's). */
function mergeEntries(base: CalibrationEntry[], measured: CalibrationEntry[]): CalibrationEntry[] {
  const rss = new Map(measured.map((e) => [`${e.model}/${e.variant}`, e.rssMB]));
  return base.map((e) => {
    const m = rss.get(`${e.model}/${e.variant}`);
    return m === undefined ? e : { ...e, rssMB: m };
  });
}

function batchable(inputs: readonly TensorSpec[]): boolean {
  return inputs.every((i) => typeof i.shape[0] === 'string');
}

function firstInputRows(inputs: NamedTensors): number {
  const first = Object.values(inputs)[0];
  return first?.dims[0] ?? 1;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
