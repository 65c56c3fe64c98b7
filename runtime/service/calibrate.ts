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
import type { InferenceEngine } from '../backend/types.js';
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
  const session = {
    intraOpThreads: o.profile.inference.threads,
    graphOptimization: o.profile.inference.graphOptimization,
    memArena: true,
    memPattern: true,
  };
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
        const entry: CalibrationEntry = {
          model: m.id, variant: v.id, backend: o.engine.kind, threads: session.intraOpThreads,
          loadMs: round(info.loadMs), latencyP50Ms: round(percentile(times, 50)), latencyP95Ms: round(percentile(times, 95)),
          rssMB: round(Math.max(0, info.rssDeltaMB)),
        };
        entries.push(entry);
        o.onVariant?.(entry, m.id, v.id);
      } catch (e) {
        const err = asEdgeError(e);
        failures.push({ model: m.id, variant: v.id, code: err.code, message: err.message });
        o.onVariant?.(null, m.id, v.id, `${err.code}: ${err.message}`);
      }
    }
  }
  const runtimes = runtimeMB === undefined ? [] : [{ backend: o.engine.kind, threads: session.intraOpThreads, rssMB: round(runtimeMB) }];
  return { calibration: { profile: o.profile.id, measuredAt: new Date().toISOString(), entries, ...(runtimes.length > 0 ? { runtimes } : {}) }, failures, skipped };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
