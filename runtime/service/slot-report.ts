/**
 * Helpers over a model's Slot for ModelRuntime (split out of model-runtime.ts, issue 12): a new
 * slot, the outcome of one inference, the status and telemetry shapes, and the reload hand-over
 * of an unchanged model.
 */
import type { LoadedManifest } from '../repository/types.js';
import { LatencyHistogram, type WindowedHistogram } from '../telemetry/histogram.js';
import { latencyFigures } from '../telemetry/collector.js';
import type { ModelTelemetry } from '../telemetry/payload.js';
import type { InferResult } from '../result.js';
import { ModelLifecycle } from './model-lifecycle.js';
import type { ModelSettings, ModelStatus, Slot } from './model-slot.js';
import { topClasses } from './top-classes.js';

/** A slot for a model about to load (state `loading`). */
export function newSlot(loaded: LoadedManifest, settings: ModelSettings, window: WindowedHistogram): Slot {
  return { loaded, settings, life: new ModelLifecycle(loaded.manifest.id), variant: null, key: null, queue: null, loadMs: null, rssDeltaMB: null, fromCache: false, requests: 0, errors: 0, rejected: 0, latency: new LatencyHistogram(), window, plannedMB: 0, switches: [], swapping: null, waiting: 0, handedOver: false };
}

/** Adds a classification model's best classes to its result, in place (the one result type, issue 16). */
export function addTop<R extends InferResult>(m: LoadedManifest['manifest'], r: R): R {
  if (m.task === 'classification') {
    const first = m.outputs[0];
    const logits = first ? r.outputs[first.name] : undefined;
    if (logits) {
      // One row: its three best classes. Several rows: the best class of each row, in row order.
      const rows = topClasses(logits, m.labels, 3);
      r.top = rows.length === 1 ? (rows[0] ?? []) : rows.map((x) => x[0]).filter((c): c is NonNullable<typeof c> => c !== undefined);
    }
  }
  return r;
}

export function slotStatus(model: string, s: Slot, preferred: string | null): ModelStatus {
  return {
    model,
    state: s.life.state,
    variant: s.variant?.id ?? null,
    precision: s.variant?.precision ?? null,
    loadMs: s.loadMs,
    rssDeltaMB: s.rssDeltaMB,
    fromCache: s.fromCache,
    ...(s.error ? { error: s.error } : {}),
    ...(s.cacheError !== undefined ? { cacheError: s.cacheError } : {}),
    restarts: s.life.restarts,
    preferred,
    switches: [...s.switches],
  };
}

export function slotTelemetry(model: string, s: Slot, preferred: string | null): ModelTelemetry {
  return {
    model,
    variant: s.variant?.id ?? null,
    state: s.life.state,
    requests: s.requests,
    errors: s.errors,
    rejected: s.rejected,
    queueDepth: s.queue?.stats().depth ?? 0,
    latencyMs: latencyFigures(s.latency.snapshot()),
    preferredVariant: preferred,
    lastSwitch: s.switches.at(-1) ?? null,
    cacheDegraded: s.cacheError !== undefined,
    restarts: s.life.restarts,
  };
}

/**
 * Reload hand-over (issue 12 item 7): when the new plan's choice equals the old plan's (`before`),
 * the served variant's file (sha256) and the model's queue settings are unchanged and `prev` serves,
 * `slot` (new runtime, still loading) takes `prev`'s session, queue, figures and history, and
 * `prev` is marked handed over (its runtime must not unload it). Returns true when it did.
 */
export function adoptSlot(slot: Slot, prev: Slot, chosen: string | undefined, before: string | undefined): boolean {
  if (!prev.life.serving || prev.handedOver || prev.swapping || !prev.queue || !prev.variant || chosen === undefined || chosen !== before) return false;
  const prevVariant = prev.variant;
  const variant = slot.loaded.manifest.variants.find((v) => v.id === prevVariant.id);
  if (variant?.sha256 !== prevVariant.sha256) return false;
  if (JSON.stringify(slot.settings) !== JSON.stringify(prev.settings)) return false;
  Object.assign(slot, { variant, key: prev.key, queue: prev.queue, loadMs: prev.loadMs, rssDeltaMB: prev.rssDeltaMB, fromCache: prev.fromCache, requests: prev.requests, errors: prev.errors, rejected: prev.rejected, latency: prev.latency, window: prev.window, plannedMB: prev.plannedMB, switches: prev.switches });
  if (prev.cacheError !== undefined) slot.cacheError = prev.cacheError;
  slot.life.restarts = prev.life.restarts;
  slot.life.to('ready');
  prev.handedOver = true;
  return true;
}
