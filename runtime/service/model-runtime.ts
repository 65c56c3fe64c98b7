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
 *   EDGE_ERR_INFERENCE_FAILED, EDGE_ERR_WORKER_CRASHED, EDGE_ERR_POISON_REQUEST (with `poison`: an
 *   input that was running when the worker or service died twice is not run again; poison-journal.ts).
 * - `swap(model, variant, reason)` (the adaptive loop) loads the new variant (verify, I/O check,
 *   budget) while the old one keeps serving, then routes new requests to the new queue; requests
 *   already queued or running on the old queue finish there, then the old session is unloaded. No
 *   request is dropped or answered twice. A refused variant is excluded (the plan and the ladder
 *   skip it) and the old one keeps serving. Swaps of one model are serialised.
 * - A loaded session whose inputs/outputs differ from model.json is refused with
 *   EDGE_ERR_MODEL_MISMATCH (unloaded, excluded, next variant).
 * - Each model's state is owned by its ModelLifecycle (model-lifecycle.ts); this class asks it
 *   for every transition (load, swap, exclude, crash, retire).
 * - `onWorkerCrash(key)` (wired to the engine's crash callback): the crashed model goes
 *   `restarting`, is reloaded after a backoff (model-lifecycle.ts CrashPolicy); a variant that
 *   crashes `maxCrashes` times within the window is excluded and the plan's next variant loads.
 *   Restarts are counted in status and telemetry. Requests arriving while a model (re)loads wait
 *   up to `loadWaitMs`, at most `queueLimit` of them (EDGE_ERR_OVERLOADED beyond), then
 *   EDGE_ERR_MODEL_UNAVAILABLE if it did not come back.
 * - `start({ adoptFrom })` (SIGHUP reload): a model whose planned variant, file (sha256) and queue
 *   settings are unchanged takes over the old runtime's session as it is (no reload, no variant
 *   change, no request dropped); only the others load.
 * - The runtime owns its ModelQueues; the engine is owned by the caller (closed by the caller).
 */
import { performance } from 'node:perf_hooks';
import type { DeviceProfile } from '../config/types.js';
import { EdgeError, asEdgeError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { InferenceEngine } from '../backend/types.js';
import { modelCandidates } from '../planner/candidates.js';
import { planModels } from '../planner/plan.js';
import type { BackendCaps, Calibration, CalibrationEntry, Exclusion, Plan, PlanInput } from '../planner/types.js';
import type { LoadedManifest } from '../repository/types.js';
import type { ModelQueue } from '../scheduler/model-queue.js';
import type { NamedTensors } from '../tensor.js';
import type { InferenceHandler, ModelFacts } from '../transport/types.js';
import type { InferResult } from '../result.js';
import { WindowedHistogram } from '../telemetry/histogram.js';
import type { ModelSwitch, ModelTelemetry } from '../telemetry/payload.js';
import type { Rung, SwitchReason } from './adaptive-policy.js';
import { DEFAULT_MODEL_SETTINGS, planInput, type ModelSettings, type ModelStatus, type Slot } from './model-slot.js';
import { DEFAULT_CRASH_POLICY, type CrashPolicy } from './model-lifecycle.js';
import { heldMB, release, swapSlot, type SlotLoadContext } from './slot-load.js';
import { adoptSlot, newSlot, slotStatus, slotTelemetry } from './slot-report.js';
import { createPreprocessor, type Preprocessor } from '../preprocess/index.js';
import type { RequestExtras } from '../media/types.js';
import { FactsBook } from './model-facts.js';
import { MediaRunners } from './media-runners.js';
import type { PoisonJournal } from './poison-journal.js';
import { closeSlot, serveSlot, settleSlot } from './slot-serve.js';

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
  /** Longest a request waits for its model to (re)load, ms. Default 10000. */
  loadWaitMs?: number;
  /** Reload backoff and fall-back after worker crashes. Default DEFAULT_CRASH_POLICY. */
  crashPolicy?: CrashPolicy;
  /** Poison-request journal (issue 12), shared by the runtimes a reload swaps. Default none. */
  poison?: PoisonJournal;
  /** Called after a model's state changed outside start()/swap() (a crash recovery), e.g. to republish the status. */
  onChange?: () => void;
}

/** Switch history kept per model. */
export const SWITCH_HISTORY = 20;

export type { ModelState } from '../telemetry/payload.js';
export { DEFAULT_MODEL_SETTINGS, type ModelSettings, type ModelStatus } from './model-slot.js';

export class ModelRuntime implements InferenceHandler {
  readonly #preprocessors = new Map<string, Preprocessor>();
  /** Facts given to the transport, built once per model; dropped (and watchers told) when a variant changes. */
  readonly #facts = new FactsBook();
  /** Models with image/audio preprocessing, streams or events (issue 11). */
  readonly #media: MediaRunners;
  readonly #opts: ModelRuntimeOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #exclusions: Exclusion[] = [];
  readonly #measured: CalibrationEntry[] = [];
  #plan: Plan | null = null;
  #closing = false;

  constructor(opts: ModelRuntimeOptions) {
    this.#opts = opts;
    this.#media = new MediaRunners(
      () => this.#now(),
      () => (opts.wallNow ? opts.wallNow() : Date.now()),
    );
    for (const loaded of opts.manifests) {
      const settings = { ...DEFAULT_MODEL_SETTINGS, ...(opts.settings?.[loaded.manifest.id] ?? {}) };
      if (!settings.enabled) continue;
      if (opts.only && !opts.only.includes(loaded.manifest.id)) continue;
      this.#slots.set(loaded.manifest.id, newSlot(loaded, settings, this.#newWindow()));
      const slot = this.#slots.get(loaded.manifest.id) as Slot;
      this.#media.add(loaded.manifest, (inputs) => this.#serve(slot, inputs));
    }
  }

  get plan(): Plan {
    return this.#plan ?? this.#replan();
  }

  /** Plans and loads; see the class contract. Resolves when every model is ready, unavailable or failed. */
  async start(options: { adoptFrom?: ModelRuntime } = {}): Promise<Plan> {
    for (const [id, slot] of this.#slots) {
      const pre = await createPreprocessor(slot.loaded);
      if (pre !== null) this.#preprocessors.set(id, pre);
    }
    // Image models: the decode thread starts while the sessions load (not on the first image).
    // Not on WASM (the Zero's 512 MB): the pool's worker costs ~19 MB of RSS there (measured with
    // bench/zero-service-rss.ts: 167.9 -> 149.0 MB); it starts with the first image instead.
    const warming = this.#opts.engine.kind === 'wasm' ? Promise.resolve() : this.#media.warm([...this.#slots.values()].map((s) => s.loaded.manifest));
    if (this.#slots.size === 0) {
      // A device with no models yet still runs: it reports itself and answers EDGE_ERR_UNKNOWN_MODEL.
      this.#opts.log.warn('models.none', { hint: 'no enabled models: add models/<id>/model.json (or enable one in the config) and send SIGHUP' });
    }
    if (options.adoptFrom) this.#adopt(options.adoptFrom);
    // Each pass loads what the plan chose; a refusal adds an exclusion and triggers another pass.
    for (let pass = 0; pass < 16; pass++) {
      let refused = false;
      for (const mp of this.#replan().models) {
        const slot = this.#slots.get(mp.model);
        if (slot && !(await this.#settle(slot, mp.chosen?.variant ?? null, mp.chosen?.memoryMB ?? 0, mp.error))) refused = true;
      }
      if (!refused) break;
    }
    for (const slot of this.#slots.values()) if (slot.life.state === 'loading') slot.life.to('failed');
    await warming;
    return this.#replan();
  }

  /**
   * Brings `slot` to the planned `variant` (null: nothing fits, the model becomes unavailable).
   * Returns false when the load was refused (the variant is excluded now: plan again).
   */
  async #settle(slot: Slot, variant: string | null, memoryMB: number, planError?: { code: ErrorCode; message: string }): Promise<boolean> {
    const before = slot.variant?.id ?? null;
    try {
      return await settleSlot(this.#ctx(), slot, variant, memoryMB, planError);
    } finally {
      if ((slot.variant?.id ?? null) !== before || !slot.life.serving) this.#facts.changed();
    }
  }

  /**
   * Reload hand-over (SIGHUP): takes the old runtime's session of every model whose planned
   * variant, file and queue settings did not change. The old slot keeps pointing at the same queue
   * (it may still get requests until the switch) but no longer unloads it.
   */
  #adopt(old: ModelRuntime): void {
    for (const mp of this.#replan().models) {
      const slot = this.#slots.get(mp.model);
      const prev = old.#slots.get(mp.model);
      const before = old.plan.models.find((p) => p.model === mp.model)?.chosen?.variant;
      if (slot && prev && adoptSlot(slot, prev, mp.chosen?.variant, before)) {
        this.#opts.log.info('model.kept', { model: mp.model, variant: slot.variant?.id ?? null, note: 'unchanged by the reload: the loaded session is kept' });
      }
    }
  }

  /** The engine reported that the worker holding `key` died (see the class contract). Never throws. */
  onWorkerCrash(key: string, err: EdgeError): void {
    const slot = [...this.#slots.values()].find((s) => s.key === key && !s.handedOver);
    if (!slot || this.#closing || !slot.life.serving) return;
    const { delayMs, giveUp } = slot.life.crashed(this.#now(), this.#opts.crashPolicy ?? DEFAULT_CRASH_POLICY);
    slot.error = { code: err.code, message: err.message };
    const variant = slot.variant?.id ?? null;
    this.#opts.log.error('model.crashed', { model: slot.loaded.manifest.id, variant, restarts: slot.life.restarts, reloadInMs: delayMs, fallBack: giveUp, code: err.code });
    void this.#recover(slot, delayMs, giveUp, err).catch((e: unknown) => this.#opts.log.error('model.recover_failed', { model: slot.loaded.manifest.id, error: asEdgeError(e) }));
  }

  async #recover(slot: Slot, delayMs: number, giveUp: boolean, err: EdgeError): Promise<void> {
    await new Promise<void>((resolve) => {
      setTimeout(resolve, delayMs).unref();
    });
    if (this.#closing || slot.life.state !== 'restarting') return;
    await release(this.#ctx(), slot);
    if (giveUp && slot.variant) {
      this.#exclusions.push({ model: slot.loaded.manifest.id, variant: slot.variant.id, code: 'EDGE_ERR_WORKER_CRASHED', detail: `crashed ${(this.#opts.crashPolicy ?? DEFAULT_CRASH_POLICY).maxCrashes} times: ${err.message}` });
    }
    for (let pass = 0; pass < 16 && !this.#closing; pass++) {
      const mp = this.#replan().models.find((p) => p.model === slot.loaded.manifest.id);
      if (await this.#settle(slot, mp?.chosen?.variant ?? null, mp?.chosen?.memoryMB ?? 0, mp?.error)) break;
    }
    if (slot.life.state === 'restarting') slot.life.to('failed');
    this.#opts.log.info('model.recovered', { model: slot.loaded.manifest.id, state: slot.life.state, variant: slot.variant?.id ?? null, restarts: slot.life.restarts });
    this.#opts.onChange?.();
  }

  /**
   * What the transport needs to decode a model's requests (issue 16): its request inputs (the
   * manifest's, less those the runtime feeds: stream state, audio rate), its text preprocessor and
   * labels. Built once per model and kept until a variant of some model changes (`watchFacts`).
   */
  modelFacts(model: string): ModelFacts | undefined {
    return this.#facts.get(model, this.#slots.get(model)?.loaded.manifest, this.#preprocessors.get(model));
  }

  /** Calls `onChange` after a variant changed (load, swap, crash recovery, unavailable); returns the unsubscribe. */
  watchFacts(onChange: () => void): () => void {
    return this.#facts.watch(onChange);
  }

  /** Live streams of a model (0 for models without streams). */
  streamCount(model: string): number {
    return this.#media.streams(model);
  }

  /** The engine key of the model's current session (crash tests, diagnostics), or null. */
  sessionKey(model: string): string | null {
    return this.#slots.get(model)?.key ?? null;
  }

  /** Manifest of a served model (labels, outputs), or undefined. */
  manifest(model: string): LoadedManifest | undefined {
    return this.#slots.get(model)?.loaded;
  }

  /**
   * Latency (issue 16): a plain request's time is the queue's own figures (enqueue -> result back,
   * `queueMs + serviceMs`), recorded without another clock; a stream or media request takes several
   * runs (or none), so the runtime times it around the whole request.
   */
  async infer(model: string, _requestId: string, inputs: NamedTensors, extras?: RequestExtras): Promise<InferResult> {
    const slot = this.#slots.get(model);
    if (!slot) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `unknown model "${model}"`, { details: { model, known: [...this.#slots.keys()] } });
    const media = extras !== undefined || this.#media.has(model);
    const t0 = media ? this.#now() : 0;
    try {
      const r = media ? await this.#media.handle(model, inputs, extras, () => this.#serve(slot, inputs)) : await this.#serve(slot, inputs);
      slot.requests += 1;
      const ms = media || r.serviceMs === undefined ? this.#now() - t0 : r.queueMs + r.serviceMs;
      slot.latency.record(ms);
      if (r.variant === slot.variant?.id) slot.window.record(ms);
      return r;
    } catch (e) {
      const err = asEdgeError(e);
      if (err.code === 'EDGE_ERR_OVERLOADED' || err.code === 'EDGE_ERR_SHUTTING_DOWN') slot.rejected += 1;
      else slot.errors += 1;
      throw err;
    }
  }

  /** The model's queueLimit (the transport's inbound bound, issue 12 item 15); the default for an unknown model. */
  queueLimit(model: string): number {
    return this.#slots.get(model)?.settings.queueLimit ?? DEFAULT_MODEL_SETTINGS.queueLimit;
  }

  /** A request refused before infer() (bad input, refused reply topic): counted in the model's `errors` (issue 12 item 13). */
  noteRefused(model: string, _code: ErrorCode): void {
    const slot = this.#slots.get(model);
    if (slot) slot.errors += 1;
  }

  #serve(slot: Slot, inputs: NamedTensors): Promise<InferResult> {
    return serveSlot(slot, inputs, { closing: () => this.#closing, loadWaitMs: this.#opts.loadWaitMs ?? 10_000, poison: this.#opts.poison });
  }

  /** Per-model figures for the telemetry payload. */
  telemetry(): ModelTelemetry[] {
    return [...this.#slots.entries()].map(([model, s]) => slotTelemetry(model, s, this.#preferred(model)));
  }

  /** p95 and count of the current variant's requests: the current 1 s slot plus `windowS` full ones (never just a slot that has just begun). */
  windowLatency(model: string, windowS: number): { p95Ms: number | null; samples: number } {
    const h = this.#slots.get(model)?.window.window(windowS + 1);
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
    return ranked.slice(Math.max(0, from)).map((c) => ({ variant: c.variant.id, latencyMs: c.latency.value, memoryMB: c.memory.value, accuracy: c.variant.quality.accuracy }));
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
    if (this.#closing || slot.life.state !== 'ready' || slot.handedOver || !v || slot.variant === null || slot.variant.id === to) return null;
    const rung = this.ladder(slot.loaded.manifest.id).find((r) => r.variant === to);
    return swapSlot(this.#ctx(), slot, v, rung?.memoryMB ?? 0, reason, { wallNow: this.#opts.wallNow ?? Date.now, history: SWITCH_HISTORY, variantChanged: () => this.#facts.changed() });
  }

  /** Memory the loaded sessions account for: measured at load, or the plan's estimate when larger; plus the plan's shared runtime (WASM). */
  usedMB(): number {
    return Math.round(heldMB(this.#slots.values(), null, this.plan.runtime).othersMB * 10) / 10;
  }

  status(): ModelStatus[] {
    return [...this.#slots.entries()].map(([model, s]) => slotStatus(model, s, this.#preferred(model)));
  }

  /** Per-model queue statistics (for telemetry). */
  queueStats(model: string): ReturnType<ModelQueue['stats']> | null {
    return this.#slots.get(model)?.queue?.stats() ?? null;
  }

  /** Stops taking requests, lets in-flight ones finish within `drainTimeoutMs`, unloads. */
  async close(drainTimeoutMs = 5000): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#slots.values()].map((s) => closeSlot(this.#ctx(), s, drainTimeoutMs)));
    await this.#media.close();
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
    return planInput(this.#opts, this.#slots, this.#exclusions, this.#measured);
  }

  #replan(): Plan {
    this.#plan = planModels(this.#planInput());
    return this.#plan;
  }

  #ctx(): SlotLoadContext {
    const o = this.#opts;
    return {
      engine: o.engine,
      profile: o.profile,
      budgetMB: o.budgetMB,
      cacheDir: o.cacheDir,
      log: o.log,
      now: o.now,
      swapDrainMs: o.swapDrainMs ?? 5000,
      slots: [...this.#slots.values()],
      exclusions: this.#exclusions,
      measured: this.#measured,
      runtimeCharge: () => this.plan.runtime,
      closing: () => this.#closing,
      newWindow: () => this.#newWindow(),
      monotonic: () => this.#now(),
    };
  }
}
