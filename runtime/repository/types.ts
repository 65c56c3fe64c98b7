/**
 * Model manifests (models/<id>/model.json). Manifests carry measured facts, never hopes:
 * bytes, sha256, parameters, MACs and quality are written by `edge-infer eval --update-manifest`.
 */
import type { Precision } from '../config/types.js';
import type { TensorDtype } from '../tensor.js';
import type { EventSpec, PreprocessSpec, StreamsSpec } from '../preprocess/types.js';

export const TASKS = ['classification', 'regression', 'embedding', 'other'] as const;
export type Task = (typeof TASKS)[number];

export interface TensorSpec {
  name: string;
  dtype: TensorDtype;
  /** Integers are fixed; strings are symbolic dims (e.g. "batch"). The first dim is the batch. */
  shape: (number | string)[];
}

export interface VariantQuality {
  /** Top-1 accuracy (0..1) on the model's eval set. */
  accuracy: number;
  /** Share (0..1) of eval samples where this variant's top-1 equals the reference variant's. */
  agreement: number;
  /** How many eval samples the figures come from. */
  evalCount: number;
}

export interface VariantManifest {
  id: string;
  /** Path relative to the model folder; must stay inside it. */
  file: string;
  sha256: string;
  bytes: number;
  precision: Precision;
  /** Per-layer weight bits for mixed variants: initializer or node name -> 4 | 8 | 32. */
  layerBits?: Record<string, number>;
  pruning?: { method: string; sparsity: number };
  distillation?: { teacher: string; temperature?: number };
  /** Parameter count (weights + biases). */
  params: number;
  /** Multiply-accumulates per sample (batch 1). */
  macs: number;
  /** Operator types in the graph, domain-qualified for non-default domains ("com.microsoft.MatMulNBits"). */
  ops: string[];
  quality: VariantQuality;
}

export interface ModelManifest {
  $schema?: string;
  id: string;
  name?: string;
  description?: string;
  task: Task;
  /** Third-party models: package, file, sha256 and licence they were taken from (issue 10). */
  origin?: { package: string; file: string; sha256?: string; license: string; upstream?: string };
  labels?: string[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Variant id that quality.agreement is measured against (usually the fp32 teacher). */
  reference: string;
  /** Labelled eval set relative to the model folder: {"inputs": number[][], "labels": number[]}. */
  eval?: { file: string; count: number };
  /** What the runtime does to a text request before inference (runtime/preprocess/). */
  preprocess?: PreprocessSpec;
  /** Per-stream state, bounds and expiry (issue 11). */
  streams?: StreamsSpec;
  /** How outputs become events on <prefix>/models/<model>/events (issue 11). */
  events?: EventSpec[];
  variants: VariantManifest[];
}

/** A manifest as loaded from disk: where it lives, so variant paths can be resolved. */
export interface LoadedManifest {
  manifest: ModelManifest;
  /** Absolute path of the model folder. */
  dir: string;
  /** Absolute path of model.json. */
  file: string;
}
