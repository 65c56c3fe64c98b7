/**
 * Per-model filtering and ranking, before the shared budget is considered. Pure.
 * Filters run in this order and a variant gets the first rejection that applies: excluded,
 * precision unsupported by the backend, op unsupported by the backend, precision not in the
 * profile's preference, below the accuracy floor, slower than the latency target.
 * Survivors are ranked by the profile's precision preference, then higher accuracy, then lower
 * latency, then id (so plans are deterministic).
 */
import type { ModelManifest, VariantManifest } from '../repository/types.js';
import { variantFigures, type Figure } from './estimate.js';
import type { PlanInput, Rejection } from './types.js';

export interface Candidate {
  variant: VariantManifest;
  /** Index in profile.inference.precision. */
  prefIndex: number;
  memory: Figure;
  latency: Figure;
}

export interface ModelCandidates {
  /** Best first. */
  ranked: Candidate[];
  rejected: Rejection[];
}

export const mb = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);
export const ms = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(1));

function filterReason(m: ModelManifest, v: VariantManifest, c: Candidate, input: PlanInput): Rejection | null {
  const { profile, backend } = input;
  const ex = input.exclusions?.find((e) => e.model === m.id && e.variant === v.id);
  if (ex) return { variant: v.id, reason: 'excluded', detail: `${ex.code}: ${ex.detail}` };
  if (!backend.precisions.includes(v.precision)) {
    return { variant: v.id, reason: 'unsupported-precision', detail: `the ${backend.kind} backend cannot run ${v.precision}` };
  }
  const missing = v.ops.filter((op) => backend.unsupportedOps.includes(op));
  if (missing.length > 0) {
    return { variant: v.id, reason: 'unsupported-op', detail: `the ${backend.kind} backend has no ${missing.join(', ')}` };
  }
  if (c.prefIndex < 0) return { variant: v.id, reason: 'unsupported-precision', detail: `${v.precision} is not in this profile's precision preference` };
  const floor = profile.inference.accuracyFloor;
  if (v.quality.accuracy < floor) {
    return { variant: v.id, reason: 'below-accuracy-floor', detail: `accuracy ${v.quality.accuracy.toFixed(4)} is below the floor ${floor}` };
  }
  const target = profile.inference.latencyTargetMs;
  if (c.latency.value > target) {
    return { variant: v.id, reason: 'slower-than-target', detail: `p95 ${ms(c.latency.value)} ms (${c.latency.source}) is over the ${target} ms target` };
  }
  return null;
}

function compare(a: Candidate, b: Candidate): number {
  return a.prefIndex - b.prefIndex || b.variant.quality.accuracy - a.variant.quality.accuracy || a.latency.value - b.latency.value || (a.variant.id < b.variant.id ? -1 : a.variant.id > b.variant.id ? 1 : 0);
}

export function modelCandidates(m: ModelManifest, input: PlanInput): ModelCandidates {
  const ranked: Candidate[] = [];
  const rejected: Rejection[] = [];
  for (const v of m.variants) {
    const figures = variantFigures(m.id, v, input);
    const c: Candidate = { variant: v, prefIndex: input.profile.inference.precision.indexOf(v.precision), ...figures };
    const r = filterReason(m, v, c, input);
    if (r) rejected.push(r);
    else ranked.push(c);
  }
  ranked.sort(compare);
  return { ranked, rejected };
}

/** Why `winner` ranks above `loser` (both survivors of the same model), for 'lower-preference'. */
export function whyBetter(winner: Candidate, loser: Candidate, precisions: readonly string[]): string {
  const w = winner.variant;
  const l = loser.variant;
  if (winner.prefIndex !== loser.prefIndex) {
    return `${w.id} was chosen: ${w.precision} comes before ${l.precision} in the precision preference (${precisions.join(' > ')})`;
  }
  if (w.quality.accuracy !== l.quality.accuracy) {
    return `${w.id} was chosen: more accurate (${w.quality.accuracy.toFixed(4)} vs ${l.quality.accuracy.toFixed(4)})`;
  }
  if (winner.latency.value !== loser.latency.value) {
    return `${w.id} was chosen: faster (${ms(winner.latency.value)} ms vs ${ms(loser.latency.value)} ms)`;
  }
  return `${w.id} was chosen: same precision, accuracy and latency, earlier id`;
}
