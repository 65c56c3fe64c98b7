/**
 * Loads one variant of one model for the ModelRuntime: verify (sha256, size, path) -> engine.load
 * with warm-up -> check the session's inputs/outputs against the manifest -> check the measured
 * memory against the budget.
 *
 * Contract: resolves with the loaded session, now owned by the caller (unload with `key`); or
 * throws an EdgeError after unloading whatever it loaded: the repository's codes
 * (EDGE_ERR_FILE_MISSING, EDGE_ERR_INTEGRITY...), the engine's (EDGE_ERR_LOAD_FAILED...),
 * EDGE_ERR_MODEL_MISMATCH (I/O differs from model.json), EDGE_ERR_BUDGET_EXCEEDED.
 */
import path from 'node:path';
import { sessionSpecFor } from '../backend/session-options.js';
import type { InferenceEngine, LoadedModel } from '../backend/types.js';
import type { DeviceProfile } from '../config/types.js';
import { EdgeError } from '../errors.js';
import { verifyVariant } from '../repository/integrity.js';
import type { LoadedManifest, VariantManifest } from '../repository/types.js';
import { checkSessionIo } from './session-io-check.js';
import { warmupInputs } from './warmup.js';

export interface LoadVariantOptions {
  engine: InferenceEngine;
  profile: DeviceProfile;
  budgetMB: number;
  cacheDir?: string | undefined;
  loaded: LoadedManifest;
  variant: VariantManifest;
  key: string;
  /** Memory held by the other models' sessions, MB. */
  othersMB: number;
  /** The planner's figure for this variant, MB (the larger of it and the measured growth counts). */
  plannedMB: number;
  /**
   * Part of the plan's shared WASM allowance not yet used, MB (issue 18): growth measured over
   * `plannedMB` is taken from it first (the first model to need shared kernels pays for them).
   * Default 0.
   */
  sharedLeftMB?: number;
}

export async function loadVariant(o: LoadVariantOptions): Promise<LoadedModel> {
  const m = o.loaded.manifest;
  const v = o.variant;
  const { path: file, bytes } = await verifyVariant(o.loaded, v);
  const request = { key: o.key, file, bytes, session: { ...sessionSpecFor(o.profile, o.budgetMB), ...(o.cacheDir ? { optimizedModelPath: path.join(o.cacheDir, `${m.id}-${v.id}-${v.sha256.slice(0, 12)}-${o.engine.kind}.ort.onnx`) } : {}) } };
  let loaded: LoadedModel;
  try {
    loaded = await o.engine.load({ ...request, warmup: warmupInputs(m.inputs) });
  } catch (e) {
    // A warm-up built from model.json fails when the file's I/O differs: load without warm-up to
    // read the session's I/O and say so (EDGE_ERR_MODEL_MISMATCH); otherwise the original error.
    const probe = await o.engine.load(request).catch(() => null);
    if (probe) await o.engine.unload(o.key);
    if (probe && checkSessionIo(m, probe).length > 0) throw mismatchError(o, probe);
    throw e;
  }
  if (checkSessionIo(m, loaded).length > 0) {
    await o.engine.unload(o.key);
    throw mismatchError(o, loaded);
  }
  const measuredMB = Math.max(0, loaded.rssDeltaMB);
  const over = Math.max(0, measuredMB - o.plannedMB - (o.sharedLeftMB ?? 0));
  if (o.othersMB + o.plannedMB + over > o.budgetMB) {
    await o.engine.unload(o.key);
    throw new EdgeError('EDGE_ERR_BUDGET_EXCEEDED', `loading ${o.key} took ${round(measuredMB)} MB; with ${round(o.othersMB)} MB held by other models that passes the ${round(o.budgetMB)} MB budget`, { details: { needMB: round(measuredMB), heldMB: round(o.othersMB), budgetMB: round(o.budgetMB) } });
  }
  return loaded;
}

function mismatchError(o: LoadVariantOptions, session: LoadedModel): EdgeError {
  const mismatches = checkSessionIo(o.loaded.manifest, session);
  return new EdgeError('EDGE_ERR_MODEL_MISMATCH', `${o.key}: ${mismatches.map((x) => `${x.side} ${x.name}: ${x.problem}`).join('; ')}`, { details: { model: o.loaded.manifest.id, variant: o.variant.id, mismatches } });
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
