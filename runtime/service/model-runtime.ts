/**
 * The model runtime: turns a plan into loaded sessions inside the memory budget and serves
 * inferences through per-model queues. Used by `edge-infer run` (behind MQTT) and by
 * `edge-infer infer` (one local request), so both take the same path.
 *
 * Contract:
 * - `start()` plans, verifies (sha256, size, path) and loads the chosen variant of every enabled
 *   model. A variant refused at load (integrity, ORT refusal, measured memory over the budget) is
 *   excluded and the model is re-planned, so the next variant is tried; a model with nothing left
 *   stays `unavailable` and every other model keeps running. `start()` never throws because a model
 *   failed; with no models at all it logs a warning and serves none.
 * - `infer()` never throws synchronously; it rejects with EdgeError codes
 *   EDGE_ERR_UNKNOWN_MODEL, EDGE_ERR_MODEL_UNAVAILABLE, EDGE_ERR_OVERLOADED, EDGE_ERR_SHUTTING_DOWN,
 *   EDGE_ERR_INFERENCE_FAILED, EDGE_ERR_WORKER_CRASHED.
 * - `swap(model, variant, reason)` (the adaptive loop) loads the new variant (verify, I/O check,
 *   budget) while the old one keeps serving, then routes new requests to the new queue; requests
 *   already queued or running on the old queue finish there, then the old session is unloaded. No
 *   request is dropped or answered twice. A refused variant is excluded (the plan and the ladder
 *   skip it) and the old one keeps serving. Swaps of one model are serialised.
 * - A loaded session whose inputs/outputs differ from model.json is refused with
 *   EDGE_ERR_MODEL_MISMATCH (unloaded, excluded, next variant).
 * - The runtime owns its ModelQueues; the engine is owned by the caller (closed by the caller).
 */
import { performance } from 'node:perf_hooks';
import type { DeviceProfile } from '../config/types.js';
import { ERROR_DEFS, EdgeError, asEdgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { InferenceEngine } from '../backend/types.js';
import { modelCandidates } from '../planner/candidates.js';
import { planModels } from '../planner/plan.js';
import type { BackendCaps, Calibration, CalibrationEntry, Exclusion, Plan, PlanInput } from '../planner/types.js';
import type { LoadedManifest, TensorSpec, VariantManifest } from '../repository/types.js';
import { ModelQueue } from '../scheduler/model-queue.js';
import type { NamedTensors } from '../tensor.js';
import type { InferOutcome, InferenceHandler } from '../transport/types.js';
import { LatencyHistogram, WindowedHistogram } from '../telemetry/histogram.js';
import { latencyFigures } from '../telemetry/collector.js';
import type { ModelSwitch, ModelTelemetry } from '../telemetry/payload.js';
import type { Rung, SwitchReason } from './adaptive-policy.js';
import { batchable, DEFAULT_MODEL_SETTINGS, firstInputRows, mergeEntries, type ModelSettings, type ModelStatus, type Slot } from './model-slot.js';
import { topClasses } from './top-classes.js';
import { createPreprocessor, type Preprocessor } from '../preprocess/index.js';
import { loadVariant } from './variant-loader.js';

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
  /** Wall clock for switch records. Default Date.now. */
  wallNow?: () => number;
  /** Longest wait for the old variant's requests after a swap, ms. Default 5000. */
  swapDrainMs?: number;
}

/** Switch history kept per model. */
export const SWITCH_HISTORY = 20;

export type { ModelState } from '../telemetry/payload.js';
export { DEFAULT_MODEL_SETTINGS, type ModelSettings, type ModelStatus } from './model-slot.js';

/** Runtimes made in this process; engine keys of the second and later carry it (see #load). */
let generations = 0;

export class ModelRuntime implements InferenceHandler {
  /**
   * A reload builds a new runtime on the same engine while the old one still holds its sessions:
   * its keys must differ, or the engine refuses the load ("already loaded") when a variant is
   * kept across the reload (found by issue 15's deploy swap).
   */
  readonly #generation = ++generations;
  readonly #preprocessors = new Map<string, Preprocessor>();
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
        requests: 0, errors: 0, rejected: 0, latency: new LatencyHistogram(), window: this.#newWindow(), plannedMB: 0, switches: [], swapping: null,
      });
    }
  }

  get plan(): Plan {
    return this.#plan ?? this.#replan();
  }

  /** Plans and loads; see the class contract. Resolves when every model is ready or unavailable. */
  async start(): Promise<Plan> {
    for (const [id, slot] of this.#slots) {
      const pre = await createPreprocessor(slot.loaded);
      if (pre !== null) this.#preprocessors.set(id, pre);
    }
    if (this.#slots.size === 0) {
      // A device with no models yet still runs: it reports itself and answers EDGE_ERR_UNKNOWN_MODEL.
      this.#opts.log.warn('models.none', { hint: 'no enabled models: add models/<id>/model.json (or enable one in the config) and send SIGHUP' });
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
        const variant = slot.loaded.manifest.variants.find((v) => v.id === mp.chosen?.variant);
        const err = variant ? await this.#load(slot, variant, mp.chosen.memoryMB) : null;
        if (err) {
          slot.error = { code: err.code, message: err.message };
          refused = true;
        }
      }
      if (!refused) break;
    }
    return this.#replan();
  }

  /** The text preprocessor a model's manifest declares ("text"/"texts" requests), if any. */
  preprocessor(model: string): Preprocessor | undefined {
    return this.#preprocessors.get(model);
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
      const ms = this.#now() - t0;
      slot.latency.record(ms);
      if (outcome.variant === slot.variant?.id) slot.window.record(ms);
      return outcome;
    } catch (e) {
      const err = asEdgeError(e);
      if (err.code === 'EDGE_ERR_OVERLOADED' || err.code === 'EDGE_ERR_SHUTTING_DOWN') slot.rejected += 1;
      else slot.errors += 1;
      throw err;
    }
  }

  /** A request refused before infer() (bad input, refused reply topic): counted in the model's `errors` (issue 12 item 13). */
  noteRefused(model: string, _code: ErrorCode): void {
    const slot = this.#slots.get(model);
    if (slot) slot.errors += 1;
  }

  async #infer(slot: Slot, inputs: NamedTensors): Promise<InferOutcome> {
    const model = slot.loaded.manifest.id;
    if (this.#closing) throw new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the service is stopping');
    if ((slot.state !== 'ready' && slot.state !== 'swapping') || !slot.queue || !slot.variant) {
      throw new EdgeError('EDGE_ERR_MODEL_UNAVAILABLE', `model "${model}" is ${slot.state}${slot.error ? `: ${slot.error.message}` : ''}`, { details: { model, state: slot.state } });
    }
    const variant = slot.variant.id;
    const r = await slot.queue.submit(inputs, firstInputRows(inputs));
    const outcome: InferOutcome = { variant, outputs: r.outputs, queueMs: r.queueMs, inferenceMs: r.inferenceMs };
    const m = slot.loaded.manifest;
    if (m.task === 'classification') {
      const first = m.outputs[0];
      const logits = first ? r.outputs[first.name] : undefined;
      if (logits) {
        // One row: its three best classes. Several rows: the best class of each row, in row order.
        const rows = topClasses(logits, m.labels, 3);
        outcome.top = rows.length === 1 ? (rows[0] ?? []) : rows.map((r) => r[0]).filter((c): c is NonNullable<typeof c> => c !== undefined);
      }
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
      preferredVariant: this.#preferred(model),
      lastSwitch: s.switches.at(-1) ?? null,
      cacheDegraded: s.cacheError !== undefined,
    }));
  }

  /** p95 of the current variant's requests over the last `windowS` seconds, and their count. */
  windowLatency(model: string, windowS: number): { p95Ms: number | null; samples: number } {
    const h = this.#slots.get(model)?.window.window(windowS);
    return { p95Ms: h?.percentile(95) ?? null, samples: h?.count ?? 0 };
  }

  /**
   * The variants this model may switch between, in preference order, starting at the plan's
   * choice: the planner's ranked candidates (backend, precision, accuracy floor, latency target,
   * exclusions applied) with their figures. Empty when the model is not served.
   */
  ladder(model: string): Rung[] {
    const slot = this.#slots.get(model);
    const preferred = this.#preferred(model);
    if (!slot || preferred === null) return [];
    const { ranked } = modelCandidates(slot.loaded.manifest, this.#planInput());
    const from = ranked.findIndex((c) => c.variant.id === preferred);
    return ranked.slice(Math.max(0, from)).map((c) => ({
      variant: c.variant.id, latencyMs: c.latency.value, memoryMB: c.memory.value, accuracy: c.variant.quality.accuracy,
    }));
  }

  /**
   * Switches `model` to `variant` between requests (see the class contract). Resolves with the
   * switch record, or null when the model is not ready, is already on `variant`, the runtime is
   * closing, or the variant was refused at load (then it is excluded and the old one keeps serving).
   * Never rejects.
   */
  async swap(model: string, variant: string, reason: SwitchReason): Promise<ModelSwitch | null> {
    const slot = this.#slots.get(model);
    if (!slot) return null;
    while (slot.swapping) await slot.swapping.catch(() => undefined);
    const run = this.#swap(slot, variant, reason);
    slot.swapping = run;
    try {
      return await run;
    } finally {
      slot.swapping = null;
    }
  }

  async #swap(slot: Slot, to: string, reason: SwitchReason): Promise<ModelSwitch | null> {
    const v = slot.loaded.manifest.variants.find((x) => x.id === to);
    const from = slot.variant?.id ?? null;
    if (this.#closing || slot.state !== 'ready' || !v || from === null || from === to) return null;
    const rung = this.ladder(slot.loaded.manifest.id).find((r) => r.variant === to);
    slot.state = 'swapping';
    const err = await this.#load(slot, v, rung?.memoryMB ?? 0);
    if (slot.state === 'swapping') slot.state = 'ready';
    if (err) return null;
    const record: ModelSwitch = { from, to, reason, at: new Date(this.#opts.wallNow ? this.#opts.wallNow() : Date.now()).toISOString() };
    slot.switches.push(record);
    if (slot.switches.length > SWITCH_HISTORY) slot.switches.splice(0, slot.switches.length - SWITCH_HISTORY);
    this.#opts.log.info('model.switched', { model: slot.loaded.manifest.id, ...record });
    return record;
  }

  /** Memory the loaded sessions account for: measured at load, or the plan's estimate when larger. */
  usedMB(): number {
    let sum = 0;
    for (const s of this.#slots.values()) if (s.state === 'ready' || s.state === 'swapping') sum += Math.max(s.rssDeltaMB ?? 0, s.plannedMB);
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
      ...(s.cacheError !== undefined ? { cacheError: s.cacheError } : {}),
      preferred: this.#preferred(model),
      switches: [...s.switches],
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

  #newWindow(): WindowedHistogram {
    return new WindowedHistogram({ slotS: 1, slots: 120, ...(this.#opts.now ? { nowMs: this.#opts.now } : {}) });
  }

  #preferred(model: string): string | null {
    return this.plan.models.find((p) => p.model === model)?.chosen?.variant ?? null;
  }

  #planInput(): PlanInput {
    const o = this.#opts;
    const priorities: Record<string, number> = {};
    for (const [id, s] of this.#slots) priorities[id] = s.settings.priority;
    const calibration: Calibration | undefined = o.calibration
      ? { ...o.calibration, entries: mergeEntries(o.calibration.entries, this.#measured) }
      : undefined;
    return {
      profile: o.profile,
      manifests: [...this.#slots.values()].map((s) => s.loaded.manifest),
      budgetMB: o.budgetMB,
      backend: o.caps,
      priorities,
      exclusions: this.#exclusions,
      ...(calibration ? { calibration } : {}),
    };
  }

  #replan(): Plan {
    this.#plan = planModels(this.#planInput());
    return this.#plan;
  }

  /**
   * Loads `variant` into `slot`, then retires the old session (its queued and running requests
   * finish first). Returns null on success; on refusal the error, after excluding the variant.
   */
  async #load(slot: Slot, variant: VariantManifest, plannedMB: number): Promise<EdgeError | null> {
    const o = this.#opts;
    const m = slot.loaded.manifest;
    const key = this.#generation === 1 ? `${m.id}@${variant.id}` : `${m.id}@${variant.id}~${this.#generation}`;
    const log = o.log.child({ model: m.id, variant: variant.id });
    try {
      const othersMB = [...this.#slots.values()]
        .filter((s) => s !== slot && (s.state === 'ready' || s.state === 'swapping'))
        .reduce((sum, s) => sum + Math.max(s.rssDeltaMB ?? 0, s.plannedMB), 0);
      const loaded = await loadVariant({ engine: o.engine, profile: o.profile, budgetMB: o.budgetMB, cacheDir: o.cacheDir, loaded: slot.loaded, variant, key, othersMB, plannedMB });
      if (this.#closing) {
        // close() ran while this variant loaded: it must not outlive the runtime.
        await o.engine.unload(key).catch(() => undefined);
        return new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the runtime closed during the load');
      }
      this.#measured.push({
        model: m.id, variant: variant.id, backend: o.engine.kind, threads: o.profile.inference.threads,
        loadMs: loaded.loadMs, latencyP50Ms: loaded.warmupMs ?? 0, latencyP95Ms: loaded.warmupMs ?? 0, rssMB: Math.max(0, loaded.rssDeltaMB),
      });
      const old = { key: slot.key, queue: slot.queue };
      slot.key = key;
      slot.variant = variant;
      slot.plannedMB = plannedMB;
      // Batching only when the first input dim is symbolic (rows can be stacked).
      slot.queue = new ModelQueue({
        engine: o.engine,
        key,
        queueLimit: slot.settings.queueLimit,
        batching: batchable(m.inputs) && slot.settings.maxBatch > 1
          ? { maxBatch: slot.settings.maxBatch, maxQueueDelayMs: slot.settings.maxQueueDelayMs, preferredBatchSizes: slot.settings.preferredBatchSizes }
          : null,
        ...(o.now ? { clock: o.now } : {}),
      });
      slot.window = this.#newWindow();
      if (slot.state !== 'swapping') slot.state = 'ready';
      slot.loadMs = loaded.loadMs;
      slot.rssDeltaMB = loaded.rssDeltaMB;
      slot.fromCache = loaded.fromCache;
      if (loaded.cacheError !== undefined) {
        slot.cacheError = loaded.cacheError;
        log.warn('cache.degraded', { code: 'EDGE_ERR_CACHE_DEGRADED', message: loaded.cacheError, hint: ERROR_DEFS.EDGE_ERR_CACHE_DEGRADED.hint });
      } else {
        delete slot.cacheError;
      }
      delete slot.error;
      log.info('model.loaded', { loadMs: round(loaded.loadMs), warmupMs: loaded.warmupMs === null ? null : round(loaded.warmupMs), rssDeltaMB: round(loaded.rssDeltaMB), fromCache: loaded.fromCache, prestarted: loaded.prestarted ?? false });
      if (old.queue && old.key) await this.#retire(old.queue, old.key, o.swapDrainMs ?? 5000);
      return null;
    } catch (e) {
      const err = asEdgeError(e);
      this.#exclusions.push({ model: m.id, variant: variant.id, code: err.code, detail: err.message });
      log.error('model.refused', { code: err.code, message: err.message, hint: err.hint });
      return err;
    }
  }

  /**
   * Lets every request already on `queue` finish (nothing new reaches it: the slot points at the
   * new queue), up to `timeoutMs`, then drains (anything left is answered EDGE_ERR_SHUTTING_DOWN)
   * and unloads the session.
   */
  async #retire(queue: ModelQueue, key: string, timeoutMs: number): Promise<void> {
    const end = this.#now() + timeoutMs;
    for (;;) {
      const st = queue.stats();
      if ((st.depth === 0 && st.inFlight === 0) || this.#now() >= end) break;
      await new Promise<void>((resolve) => { setTimeout(resolve, 2); });
    }
    await queue.drain(Math.max(0, end - this.#now()));
    await this.#opts.engine.unload(key).catch((e: unknown) => { this.#opts.log.warn('model.unload_failed', { key, error: asEdgeError(e) }); });
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

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
