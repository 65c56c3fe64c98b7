/**
 * Re-measuring a zoo model's manifest in tests: every variant's file is verified (sha256, size),
 * inspected (params, MACs, ops) and run on the model's eval set through the same measurer
 * `edge-infer eval` uses (EngineMeasurer: the service's engine, eval-set shape and sequence
 * honoured), so a test sees exactly the predictions behind model.json's figures.
 */
import path from 'node:path';
import { EngineMeasurer } from '../../runtime/cli/engine-measurer.js';
import { readEvalSet, type EvalSet } from '../../runtime/optimize/eval-set.js';
import { inspectModel, type InspectReport } from '../../runtime/optimize/inspect.js';
import { readOnnx } from '../../runtime/optimize/onnx-io.js';
import { verifyVariant } from '../../runtime/repository/integrity.js';
import { findVariant, loadManifest } from '../../runtime/repository/manifest.js';
import type { LoadedManifest, VariantManifest } from '../../runtime/repository/types.js';

export interface ZooVariant {
  variant: VariantManifest;
  predictions: number[];
  accuracy: number;
  agreement: number;
  inspect: InspectReport;
}

export interface Zoo {
  loaded: LoadedManifest;
  set: EvalSet;
  variants: Map<string, ZooVariant>;
  get(id: string): ZooVariant;
}

/** Loads models/<id>, runs every variant on its eval set (1 thread, no latency runs). */
export async function measureZoo(id: string): Promise<Zoo> {
  const loaded = await loadManifest(path.join('models', id, 'model.json'));
  const m = loaded.manifest;
  const set = await readEvalSet(path.join(loaded.dir, m.eval?.file ?? 'eval/eval.json'));
  const measurer = new EngineMeasurer({ backend: 'auto', threads: 1 });
  const layout = { ...(set.shape ? { shape: set.shape } : {}), ...(set.sequence ? { sequence: set.sequence } : {}) };
  const raw = new Map<string, { variant: VariantManifest; predictions: number[]; inspect: InspectReport }>();
  try {
    for (const v of m.variants) {
      const { path: file, bytes } = await verifyVariant(loaded, v);
      const r = await measurer.measure(file, bytes, set.inputs, { batches: [], runs: 0 }, layout);
      raw.set(v.id, { variant: v, predictions: r.predictions, inspect: inspectModel(readOnnx(bytes), bytes.byteLength) });
    }
  } finally {
    await measurer.close();
  }
  const ref = raw.get(findVariant(m, m.reference).id)?.predictions ?? [];
  const n = set.labels.length;
  const variants = new Map<string, ZooVariant>();
  for (const [vid, r] of raw) {
    variants.set(vid, { ...r, accuracy: r.predictions.filter((p, i) => p === set.labels[i]).length / n, agreement: r.predictions.filter((p, i) => p === ref[i]).length / n });
  }
  return {
    loaded,
    set,
    variants,
    get(vid: string): ZooVariant {
      const z = variants.get(vid);
      if (z === undefined) throw new Error(`${id} has no variant ${vid}`);
      return z;
    },
  };
}

/** The figures every zoo manifest must reproduce: eval count, and per variant accuracy, agreement, params, ops and (when inspect can count them) MACs. */
export function checkManifestFigures(t: { equal(a: unknown, b: unknown, message: string): unknown; same(a: unknown, b: unknown, message: string): unknown }, zoo: Zoo): void {
  t.equal(zoo.set.labels.length, zoo.loaded.manifest.eval?.count, 'eval count');
  for (const [id, z] of zoo.variants) {
    t.equal(z.accuracy, z.variant.quality.accuracy, `${id} accuracy`);
    t.equal(z.agreement, z.variant.quality.agreement, `${id} agreement`);
    t.equal(z.variant.quality.evalCount, zoo.set.labels.length, `${id} evalCount`);
    t.same([z.inspect.params, z.inspect.ops], [z.variant.params, z.variant.ops], `${id} params, ops`);
    if (z.inspect.macsUnknown.length === 0) t.equal(z.inspect.macs, z.variant.macs, `${id} MACs`);
  }
}
