/**
 * On-device calibration: load every variant of every model on this device and backend, and
 * measure load time, request latency (p50/p95 over `runs` batch-1 runs through the engine, thread
 * hop included, at the profile's thread count) and the RSS each session costs. The planner then uses
 * these measured figures instead of estimates.
 *
 * The first session a process creates also pays for onnxruntime itself (about 30 MB native); a
 * throw-away load of the smallest variant happens first so that cost is not charged to a variant.
 * Under WASM each variant loads into a fresh shared runtime (the engine ends it when its last model
 * is unloaded), so `rssMB` is the variant's own cost and the runtime's start is saved once in
 * `runtimes` (issue 18).
 * Contract: a variant that fails to verify or load is reported in `failures` and skipped; the rest
 * are measured. The engine is the caller's.
 */
import { performance } from 'node:perf_hooks';
import type { InferenceEngine, LoadRequest } from '../backend/types.js';
import type { DeviceProfile } from '../config/types.js';
import { asEdgeError, type ErrorCode } from '../errors.js';
import type { Calibration, CalibrationEntry } from '../planner/types.js';
import { verifyVariant } from '../repository/integrity.js';
import type { LoadedManifest } from '../repository/types.js';
import { warmupInputs } from './warmup.js';

export interface CalibrateOptions {
  profile: DeviceProfile;
  manifests: LoadedManifest[];
  engine: InferenceEngine;
  /** Timed runs per variant. Default 50. */
  runs?: number;
  /** Stop measuring new variants after this long, ms (first-start calibration in the service). Default none. */
  timeLimitMs?: number;
  /** Called after each variant (progress). */
  onVariant?: (entry: CalibrationEntry | null, model: string, variant: string, error?: string) => void;
  now?: () => number;
}

export interface CalibrationResult {
  calibration: Calibration;
  failures: { model: string; variant: string; code: ErrorCode; message: string }[];
  /** Variants not measured because the time limit passed. */
  skipped: { model: string; variant: string }[];
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrationResult> {
  const now = o.now ?? (() => performance.now());
  const runs = o.runs ?? 50;
  const started = now();
  const session = { intraOpThreads: o.profile.inference.threads, graphOptimization: o.profile.inference.graphOptimization, memArena: true, memPattern: true };
  const entries: CalibrationEntry[] = [];
  const failures: CalibrationResult['failures'] = [];
  const skipped: CalibrationResult['skipped'] = [];
  /** The shared runtime's start (WASM, issue 18): the largest seen; each variant loads into a fresh one. */
  let runtimeMB: number | undefined;

  // Pay onnxruntime's one-time cost before measuring anything.
  const smallest = o.manifests.flatMap((m) => m.manifest.variants.map((v) => ({ m, v }))).sort((a, b) => a.v.bytes - b.v.bytes)[0];
  if (smallest) {
    try {
      const { path: file, bytes } = await verifyVariant(smallest.m, smallest.v);
      await o.engine.load({ key: 'calibrate:prime', file, bytes, session, warmup: warmupInputs(smallest.m.manifest.inputs) });
      await o.engine.unload('calibrate:prime');
    } catch {
      // measured below with its own error
    }
  }

  for (const loaded of o.manifests) {
    const m = loaded.manifest;
    for (const v of m.variants) {
      if (o.timeLimitMs !== undefined && now() - started > o.timeLimitMs) {
        skipped.push({ model: m.id, variant: v.id });
        continue;
      }
      const key = `calibrate:${m.id}@${v.id}`;
      try {
        const { path: file, bytes } = await verifyVariant(loaded, v);
        const info = await o.engine.load({ key, file, bytes, session, warmup: warmupInputs(m.inputs) });
        const runtime = o.engine.runtimeMB?.();
        if (runtime !== undefined && runtime !== null) runtimeMB = Math.max(runtimeMB ?? 0, runtime);
        const times: number[] = [];
        try {
          for (let i = 0; i < runs; i++) {
            const t0 = now();
            await o.engine.run(key, warmupInputs(m.inputs));
            times.push(now() - t0);
          }
        } finally {
          await o.engine.unload(key);
        }
        times.sort((a, b) => a - b);
        const entry: CalibrationEntry = { model: m.id, variant: v.id, backend: o.engine.kind, threads: session.intraOpThreads, loadMs: round(info.loadMs), latencyP50Ms: round(percentile(times, 50)), latencyP95Ms: round(percentile(times, 95)), rssMB: round(Math.max(0, info.rssDeltaMB)) };
        entries.push(entry);
        o.onVariant?.(entry, m.id, v.id);
      } catch (e) {
        const err = asEdgeError(e);
        failures.push({ model: m.id, variant: v.id, code: err.code, message: err.message });
        o.onVariant?.(null, m.id, v.id, `${err.code}: ${err.message}`);
      }
    }
  }
  const sharedMB = runtimeMB === undefined ? undefined : await afterOthers(o, session, entries, () => o.timeLimitMs !== undefined && now() - started > o.timeLimitMs);
  const runtimes = runtimeMB === undefined ? [] : [{ backend: o.engine.kind, threads: session.intraOpThreads, rssMB: round(runtimeMB), ...(sharedMB === undefined ? {} : { sharedMB: round(sharedMB) }) }];
  return { calibration: { profile: o.profile.id, measuredAt: new Date().toISOString(), entries, ...(runtimes.length > 0 ? { runtimes } : {}) }, failures, skipped };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * WASM second pass (issue 18; bench/wasm-memory.ts does the same on the reference machine): with
 * the smallest variant of every other model resident in the shared runtime, each measured variant
 * is loaded again and its growth is its own cost. Entries are rewritten to that figure and the
 * largest alone - own gap is returned as the board's shared allowance. Returns undefined (entries
 * keep their alone figures, which are upper bounds) when the time limit passes or a load fails.
 */
async function afterOthers(o: CalibrateOptions, session: LoadRequest['session'], entries: CalibrationEntry[], late: () => boolean): Promise<number | undefined> {
  const smallest = new Map<string, { loaded: LoadedManifest; v: LoadedManifest['manifest']['variants'][number] }>();
  for (const loaded of o.manifests) {
    const v = [...loaded.manifest.variants].sort((a, b) => a.bytes - b.bytes)[0];
    if (v) smallest.set(loaded.manifest.id, { loaded, v });
  }
  const primer = async (model: string, load: boolean): Promise<void> => {
    const p = smallest.get(model);
    if (!p) return;
    const key = `calibrate:primer:${model}`;
    if (!load) {
      await o.engine.unload(key);
      return;
    }
    const { path: file, bytes } = await verifyVariant(p.loaded, p.v);
    await o.engine.load({ key, file, bytes, session, warmup: warmupInputs(p.loaded.manifest.inputs) });
  };
  const own = new Map<CalibrationEntry, number>();
  try {
    for (const model of smallest.keys()) await primer(model, true);
    for (const loaded of o.manifests) {
      const m = loaded.manifest;
      await primer(m.id, false);
      for (const e of entries.filter((x) => x.model === m.id)) {
        if (late()) return undefined;
        const v = m.variants.find((x) => x.id === e.variant);
        if (!v) continue;
        const key = `calibrate:own:${m.id}@${v.id}`;
        const { path: file, bytes } = await verifyVariant(loaded, v);
        const info = await o.engine.load({ key, file, bytes, session, warmup: warmupInputs(m.inputs) });
        await o.engine.unload(key);
        own.set(e, Math.min(e.rssMB, Math.max(0, info.rssDeltaMB)));
      }
      await primer(m.id, true);
    }
  } catch {
    return undefined;
  } finally {
    for (const model of smallest.keys()) await primer(model, false).catch(() => undefined);
  }
  let shared = 0;
  for (const [e, mb] of own) {
    shared = Math.max(shared, e.rssMB - mb);
    e.rssMB = round(mb);
  }
  return shared;
}
