/**
 * Loading a variant into a model's slot, and retiring or releasing a slot's session, for
 * ModelRuntime. Split out of model-runtime.ts (issue 12); the runtime's lifecycle decisions stay
 * there, this file only does the work.
 *
 * Contract: `loadIntoSlot` returns null on success (the slot now holds the new session and queue;
 * the old session's queued and running requests finish first, then it is unloaded), or the
 * refusal after excluding the variant (the plan skips it from then on). It never throws. The slot's
 * state is the caller's business, except that a successful load leaves it `ready` unless it is
 * `swapping`.
 */
import type { InferenceEngine } from '../backend/types.js';
import type { DeviceProfile } from '../config/types.js';
import { ERROR_DEFS, EdgeError, asEdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CalibrationEntry, Exclusion } from '../planner/types.js';
import type { VariantManifest } from '../repository/types.js';
import { ModelQueue } from '../scheduler/model-queue.js';
import type { WindowedHistogram } from '../telemetry/histogram.js';
import type { ModelSwitch } from '../telemetry/payload.js';
import type { SwitchReason } from './adaptive-policy.js';
import { batchable, type Slot } from './model-slot.js';
import { loadVariant } from './variant-loader.js';
import { heldMB as budgetHeldMB } from '../budget/budget.js';
import { bounded } from '../timers.js';

export interface SlotLoadContext {
  engine: InferenceEngine;
  profile: DeviceProfile;
  budgetMB: number;
  cacheDir?: string | undefined;
  log: Logger;
  now?: (() => number) | undefined;
  /** Longest wait for the old variant's requests after a swap, ms. */
  swapDrainMs: number;
  /** Every slot of the runtime (memory held by the others counts against the budget). */
  slots: Iterable<Slot>;
  exclusions: Exclusion[];
  measured: CalibrationEntry[];
  /** The plan's shared WASM runtime charge (issue 18), undefined on native. */
  runtimeCharge(): RuntimeCharge | undefined;
  closing(): boolean;
  newWindow(): WindowedHistogram;
  monotonic(): number;
}

/** Engine keys are unique per load, so a reload or restart never collides with a session still held. */
let loadSeq = 0;

/** The plan's charge for a runtime the models share (WASM, issue 18), MB. */
export interface RuntimeCharge {
  startMB: number;
  sharedMB: number;
}

/**
 * What the serving models other than `except` hold, MB, and the plan's shared WASM allowance still
 * unused: budget.ts heldMB (issue 18) over the slots that serve. With `except` null it is the
 * runtime's total use (nothing charged when no model is loaded).
 */
export function heldMB(slots: Iterable<Slot>, except: Slot | null, rt: RuntimeCharge | undefined): { othersMB: number; sharedLeftMB: number } {
  const live = [...slots].filter((s) => s !== except && s.life.serving && !s.handedOver);
  const h = budgetHeldMB(live, rt, except !== null);
  return { othersMB: h.heldMB, sharedLeftMB: h.sharedLeftMB };
}

export async function loadIntoSlot(c: SlotLoadContext, slot: Slot, variant: VariantManifest, plannedMB: number): Promise<EdgeError | null> {
  const m = slot.loaded.manifest;
  const key = `${m.id}@${variant.id}#${++loadSeq}`;
  const log = c.log.child({ model: m.id, variant: variant.id });
  try {
    const { othersMB, sharedLeftMB } = heldMB(c.slots, slot, c.runtimeCharge());
    const loaded = await loadVariant({ engine: c.engine, profile: c.profile, budgetMB: c.budgetMB, cacheDir: c.cacheDir, loaded: slot.loaded, variant, key, othersMB, plannedMB, sharedLeftMB });
    if (c.closing()) {
      // close() ran while this variant loaded: it must not outlive the runtime.
      await c.engine.unload(key).catch(() => undefined);
      return new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the runtime closed during the load');
    }
    c.measured.push({ model: m.id, variant: variant.id, backend: c.engine.kind, threads: c.profile.inference.threads, loadMs: loaded.loadMs, latencyP50Ms: loaded.warmupMs ?? 0, latencyP95Ms: loaded.warmupMs ?? 0, rssMB: Math.max(0, loaded.rssDeltaMB) });
    const old = { key: slot.key, queue: slot.queue };
    if (slot.variant?.id !== variant.id) slot.life.variantChanged();
    slot.key = key;
    slot.variant = variant;
    slot.plannedMB = plannedMB;
    // Batching only when the first input dim is symbolic (rows can be stacked).
    slot.queue = new ModelQueue({
      engine: c.engine,
      key,
      variant: variant.id,
      queueLimit: slot.settings.queueLimit,
      // Stream state is per request (not stacked by rows): no batching for stateful models (issue 11).
      batching: batchable(m.inputs) && (m.streams?.state?.length ?? 0) === 0 && slot.settings.maxBatch > 1 ? { maxBatch: slot.settings.maxBatch, maxQueueDelayMs: slot.settings.maxQueueDelayMs, preferredBatchSizes: slot.settings.preferredBatchSizes } : null,
      ...(c.now ? { clock: c.now } : {}),
    });
    slot.window = c.newWindow();
    if (slot.life.state !== 'swapping') slot.life.to('ready');
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
    if (old.queue && old.key) await retire(c, old.queue, old.key, c.swapDrainMs);
    return null;
  } catch (e) {
    const err = asEdgeError(e);
    c.exclusions.push({ model: m.id, variant: variant.id, code: err.code, detail: err.message });
    log.error('model.refused', { code: err.code, message: err.message, hint: err.hint });
    return err;
  }
}

/**
 * Lets every request already on `queue` finish (nothing new reaches it: the slot points at the
 * new queue), up to `timeoutMs`, then drains (anything left is answered EDGE_ERR_SHUTTING_DOWN)
 * and unloads the session. Waits on `queue.onIdle()` (no polling): the unload starts as soon as
 * the last in-flight request settles (test/unit/service/swap-idle.test.ts).
 */
export async function retire(c: Pick<SlotLoadContext, 'log' | 'monotonic'> & { engine: Pick<InferenceEngine, 'unload'> }, queue: ModelQueue, key: string, timeoutMs: number): Promise<void> {
  const end = c.monotonic() + timeoutMs;
  await bounded(queue.onIdle(), timeoutMs);
  await queue.drain(Math.max(0, end - c.monotonic()));
  await c.engine.unload(key).catch((e: unknown) => {
    c.log.warn('model.unload_failed', { key, error: asEdgeError(e) });
  });
}

/** Drops the slot's session at once (queued requests are answered EDGE_ERR_SHUTTING_DOWN). */
export async function release(c: Pick<SlotLoadContext, 'engine'>, slot: Slot): Promise<void> {
  if (slot.queue && slot.key && !slot.handedOver) {
    await slot.queue.drain(0);
    await c.engine.unload(slot.key).catch(() => undefined);
  }
  slot.queue = null;
  slot.key = null;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * ModelRuntime.swap's work (moved here, issue 16): the slot (state `ready`, serving another variant)
 * goes `swapping`, loads `variant` while the old one serves, and returns to `ready`. Returns the
 * switch record (kept in the slot's history, at most `o.history`), or null when the load was
 * refused (excluded; the old variant keeps serving). `o.variantChanged` runs when the served
 * variant changed. Never rejects.
 */
export async function swapSlot(c: SlotLoadContext, slot: Slot, variant: VariantManifest, plannedMB: number, reason: SwitchReason, o: { wallNow: () => number; history: number; variantChanged: () => void }): Promise<ModelSwitch | null> {
  const from = slot.variant?.id ?? '';
  slot.life.to('swapping');
  const err = await loadIntoSlot(c, slot, variant, plannedMB);
  if (slot.variant?.id !== from) o.variantChanged();
  // The state is read again: a crash during the load may have moved it on.
  const after: string = slot.life.state;
  if (after === 'swapping') slot.life.to('ready');
  if (err) return null;
  const record: ModelSwitch = { from, to: variant.id, reason, at: new Date(o.wallNow()).toISOString() };
  slot.switches.push(record);
  if (slot.switches.length > o.history) slot.switches.splice(0, slot.switches.length - o.history);
  c.log.info('model.switched', { model: slot.loaded.manifest.id, ...record });
  return record;
}
