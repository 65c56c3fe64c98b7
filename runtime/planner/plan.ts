/**
 * The planner: (profile, manifests, calibration, budget, backend caps) -> which variant of each
 * model to load, and why every other variant was not chosen. Pure: no I/O, no clock.
 *
 * Budget sharing (documented contract):
 * 1. Models are allocated in priority order (higher first, ties by id). Each takes the best-ranked
 *    candidate (see candidates.ts) that fits in what is left; better-ranked ones that did not fit
 *    are 'over-budget'. A model with nothing that fits gets chosen=null + EDGE_ERR_NO_VARIANT_FITS
 *    and the next model continues with the same budget left.
 * 2. Rescue: for each model left without a variant although it has candidates (in priority
 *    order), the other models are squeezed lowest priority first (ties: last allocated first), one
 *    step at a time to their next cheaper candidate, until the rescued model's smallest candidate
 *    fits. Squeezing only downgrades, never drops a model. If no amount of downgrading makes room,
 *    every downgrade made for it is undone. So a lower-priority model is downgraded before a
 *    higher one, and a higher one is downgraded only when that lets another model run at all.
 * 3. A backend with a shared runtime (WASM, issue 18: caps.wasmMemory) charges the runtime's
 *    one-time cost once, before any model: models share what is left. It counts in `usedMB` and is
 *    reported as `runtime` when at least one model is planned (no model, no runtime started).
 */
import { EdgeError } from '../errors.js';
import type { ModelManifest } from '../repository/types.js';
import { mb, modelCandidates, whyBetter, type Candidate } from './candidates.js';
import type { ModelPlan, Plan, PlanInput, Rejection } from './types.js';
import { wasmRuntimeFigure } from './wasm-memory.js';

interface Slot {
  manifest: ModelManifest;
  priority: number;
  ranked: Candidate[];
  filtered: Rejection[];
  /** Index into ranked, or null. */
  choice: number | null;
  /** Budget left when this model was allocated (or rescued). */
  leftBefore: number;
  /** Models this one was downgraded for. */
  gaveWayTo: string[];
  /** Models downgraded so that this one could load. */
  rescuedBy: string[];
}

const memOf = (s: Slot): number => (s.choice === null ? 0 : (s.ranked[s.choice]?.memory.value ?? 0));
const round2 = (x: number): number => Math.round(x * 100) / 100;

function allocate(slots: Slot[], budgetMB: number): number {
  let left = budgetMB;
  for (const s of slots) {
    s.leftBefore = left;
    const i = s.ranked.findIndex((c) => c.memory.value <= left);
    s.choice = i < 0 ? null : i;
    left -= memOf(s);
  }
  return left;
}

/** Next cheaper candidate after the current choice, in rank order, or null. */
function nextCheaper(s: Slot): number | null {
  if (s.choice === null) return null;
  const cur = memOf(s);
  for (let j = s.choice + 1; j < s.ranked.length; j++) {
    if ((s.ranked[j]?.memory.value ?? Infinity) < cur) return j;
  }
  return null;
}

function rescue(slots: Slot[], left: number): number {
  for (const d of slots) {
    if (d.choice !== null || d.ranked.length === 0) continue;
    const smallest = Math.min(...d.ranked.map((c) => c.memory.value));
    const order = slots
      .filter((s) => s !== d && s.choice !== null)
      .reverse()
      .sort((a, b) => a.priority - b.priority);
    const saved = order.map((s) => s.choice);
    const squeezed = new Set<Slot>();
    let free = left;
    for (const s of order) {
      while (free < smallest) {
        const j = nextCheaper(s);
        if (j === null) break;
        free += memOf(s) - (s.ranked[j]?.memory.value ?? 0);
        s.choice = j;
        squeezed.add(s);
      }
      if (free >= smallest) break;
    }
    if (free < smallest) {
      order.forEach((s, i) => {
        s.choice = saved[i] ?? null;
      });
      continue;
    }
    for (const s of squeezed) s.gaveWayTo.push(d.manifest.id);
    d.rescuedBy = [...squeezed].map((s) => s.manifest.id);
    d.leftBefore = free;
    const i = d.ranked.findIndex((c) => c.memory.value <= free);
    d.choice = i;
    left = free - memOf(d);
  }
  return left;
}

function modelPlan(s: Slot, budgetMB: number, precisions: readonly string[], runtimeNote: string): ModelPlan {
  const rejected: Rejection[] = [...s.filtered];
  const chosen = s.choice === null ? undefined : s.ranked[s.choice];
  s.ranked.forEach((c, i) => {
    if (c === chosen) return;
    const need = c.memory.value;
    if (s.choice === null || i < s.choice) {
      const detail = need <= s.leftBefore && s.gaveWayTo.length > 0 ? `needs ${mb(need)} MB (${c.memory.source}); gave way so that ${s.gaveWayTo.join(', ')} could load in the shared budget` : `needs ${mb(need)} MB (${c.memory.source}), ${mb(need - s.leftBefore)} MB over the ${mb(s.leftBefore)} MB left`;
      rejected.push({ variant: c.variant.id, reason: 'over-budget', detail });
    } else if (chosen) {
      rejected.push({ variant: c.variant.id, reason: 'lower-preference', detail: whyBetter(chosen, c, precisions) });
    }
  });
  const base = { model: s.manifest.id, priority: s.priority, rejected };
  if (!chosen) {
    const message =
      s.ranked.length === 0
        ? `no variant of ${s.manifest.id} passes this profile and backend (${s.filtered.length} refused)`
        : `no variant of ${s.manifest.id} fits: the smallest needs ${mb(Math.min(...s.ranked.map((c) => c.memory.value)))} MB and ${mb(s.leftBefore)} MB of the ${mb(budgetMB)} MB budget is left${runtimeNote}`;
    return { ...base, chosen: null, error: { code: 'EDGE_ERR_NO_VARIANT_FITS', message } };
  }
  const notes: string[] = [];
  if (s.choice === 0) notes.push(`best of ${s.ranked.length} candidate(s) in preference order`);
  else notes.push(`${s.choice} better-ranked candidate(s) did not fit`);
  if (s.gaveWayTo.length > 0) notes.push(`downgraded so that ${s.gaveWayTo.join(', ')} could load`);
  if (s.rescuedBy.length > 0) notes.push(`fits after downgrading ${s.rescuedBy.join(', ')}`);
  return {
    ...base,
    chosen: { variant: chosen.variant.id, precision: chosen.variant.precision, memoryMB: round2(chosen.memory.value), memorySource: chosen.memory.source, latencyMs: round2(chosen.latency.value), latencySource: chosen.latency.source, accuracy: chosen.variant.quality.accuracy, detail: notes.join('; ') },
  };
}

/**
 * Plans every model. Never throws for a model that cannot run (that model gets chosen=null and an
 * error); throws EDGE_ERR_USAGE only for a negative or non-finite budget or duplicate model ids.
 */
export function planModels(input: PlanInput): Plan {
  if (!Number.isFinite(input.budgetMB) || input.budgetMB < 0) {
    throw new EdgeError('EDGE_ERR_USAGE', `budget must be a non-negative number of MB, got ${input.budgetMB}`, { details: { budgetMB: input.budgetMB } });
  }
  const ids = new Set<string>();
  for (const m of input.manifests) {
    if (ids.has(m.id)) throw new EdgeError('EDGE_ERR_USAGE', `model id ${m.id} appears twice`, { details: { model: m.id } });
    ids.add(m.id);
  }
  const slots: Slot[] = input.manifests.map((m) => {
    const { ranked, rejected } = modelCandidates(m, input);
    return { manifest: m, priority: input.priorities?.[m.id] ?? 0, ranked, filtered: rejected, choice: null, leftBefore: input.budgetMB, gaveWayTo: [], rescuedBy: [] };
  });
  slots.sort((a, b) => b.priority - a.priority || (a.manifest.id < b.manifest.id ? -1 : a.manifest.id > b.manifest.id ? 1 : 0));
  const wasm = input.backend.wasmMemory;
  const runtime = wasm && slots.some((s) => s.ranked.length > 0) ? wasmRuntimeFigure(wasm, input.calibration, input.profile.inference.threads) : null;
  rescue(slots, allocate(slots, input.budgetMB - (runtime?.value ?? 0)));
  const runtimeNote = runtime ? ` (after the ${input.backend.kind} runtime's ${mb(runtime.value)} MB, ${runtime.source})` : '';
  const models = slots.map((s) => modelPlan(s, input.budgetMB, input.profile.inference.precision, runtimeNote));
  const planned = runtime !== null && slots.some((s) => s.choice !== null);
  const usedMB = round2(slots.reduce((sum, s) => sum + memOf(s), 0) + (planned ? (runtime?.value ?? 0) : 0));
  return { profile: input.profile.id, backend: input.backend.kind, budgetMB: input.budgetMB, usedMB, ...(planned && runtime ? { runtime: { mb: round2(runtime.value), source: runtime.source, startMB: round2(runtime.startMB), sharedMB: round2(runtime.sharedMB) } } : {}), models };
}
