/**
 * The JSON Schema (draft 2020-12) of a device profile: the source of truth for validation and
 * defaults. Typed by `SchemaOf<DeviceProfile>`, so it cannot drift from types.ts.
 * device-profiles/schema.json is this object written out (a unit test keeps the two equal).
 */
import { ARCHES, BACKEND_PREFS, CPU_FEATURES, GRAPH_OPT_LEVELS, PRECISIONS, type DeviceProfile, type Precision } from './types.js';
import type { DocumentSchemaOf } from './schema-type.js';

const gmacs = (p: Precision) => ({ type: 'number', exclusiveMinimum: 0, description: `Estimated throughput of ${p} variants, giga-MACs per second at inference.threads (an estimate, not a measurement).` }) as const;

export const PROFILE_SCHEMA_ID = 'https://edge-infer.dev/schemas/device-profile.json';

export const profileSchema: DocumentSchemaOf<DeviceProfile> = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: PROFILE_SCHEMA_ID,
  title: 'edge-infer device profile',
  description: 'What a board is (CPU, memory, thermal limits) and what inference on it should achieve.',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'board', 'cpu', 'memory', 'inference', 'thermal'],
  properties: {
    $schema: { type: 'string', description: 'Path or URL of this schema, for editors ("./schema.json").' },
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64, description: 'Profile id: lower-case letters, digits and dashes; the file name without .json.' },
    board: { type: 'string', minLength: 1, description: 'Human name of the board, e.g. "Raspberry Pi 4 Model B (8 GB)".' },
    description: { type: 'string', description: 'Free text: assumptions (OS bitness) and where the figures come from.' },
    match: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Rules host detection uses; every rule given must hold. No rules: matches any host of cpu.arch.',
      required: [],
      properties: {
        deviceTreeModel: { type: 'string', minLength: 1, description: 'Regular expression tested against /proc/device-tree/model, e.g. "^Raspberry Pi 4 Model B".' },
        memoryMB: {
          type: 'object',
          additionalProperties: false,
          required: ['minMB', 'maxMB'],
          description: 'Accept hosts whose MemTotal (MB, 1 MB = 1024 kB) is in [minMB, maxMB].',
          properties: { minMB: { type: 'integer', minimum: 0, description: 'Lowest MemTotal accepted, MB.' }, maxMB: { type: 'integer', minimum: 0, description: 'Highest MemTotal accepted, MB.' } },
        },
      },
    },
    cpu: {
      type: 'object',
      additionalProperties: false,
      required: ['arch', 'cores'],
      description: 'The CPU as the OS sees it.',
      properties: {
        arch: { type: 'string', enum: ARCHES, description: 'Userland architecture: "armv7" for a 32-bit OS (Node process.arch "arm"), "arm64", "x64".' },
        cores: { type: 'integer', minimum: 1, maximum: 1024, description: 'Online CPU cores.' },
        model: { type: 'string', description: 'Human CPU name, e.g. "Cortex-A72".' },
        features: { type: 'array', items: { type: 'string', enum: CPU_FEATURES }, uniqueItems: true, default: [], description: 'Features the planner cares about (dotprod makes 4-bit MatMulNBits fast). Default [].' },
      },
    },
    memory: {
      type: 'object',
      additionalProperties: false,
      required: ['totalMB', 'budgetMB'],
      description: 'Memory figures, MB. budgetMB must be <= totalMB - reserveMB.',
      properties: {
        totalMB: { type: 'integer', minimum: 1, description: 'Physical memory of the board, MB.' },
        budgetMB: { type: 'integer', minimum: 0, description: 'Most the runtime may use for model sessions, MB.' },
        reserveMB: { type: 'integer', minimum: 0, default: 64, description: 'Left for the OS and the rest of the process, MB. Default 64.' },
      },
    },
    inference: {
      type: 'object',
      additionalProperties: false,
      required: ['precision', 'latencyTargetMs'],
      description: 'What inference on this board should prefer and achieve.',
      properties: {
        threads: { type: 'integer', minimum: 1, default: 1, description: 'Intra-op threads per session; at most cpu.cores. Default 1.' },
        precision: { type: 'array', minItems: 1, items: { type: 'string', enum: PRECISIONS }, description: 'Precisions in order of preference; a precision not listed is never chosen. No duplicates.' },
        accuracyFloor: { type: 'number', minimum: 0, maximum: 1, default: 0, description: "Lowest accuracy (0..1, on the model's eval set) a variant may have. Default 0." },
        latencyTargetMs: { type: 'number', exclusiveMinimum: 0, description: 'p95 latency per request the board should meet, ms.' },
        backend: { type: 'string', enum: BACKEND_PREFS, default: 'auto', description: '"native" (onnxruntime-node), "wasm" (onnxruntime-web) or "auto": native where a binary exists, WASM otherwise. Default "auto".' },
        graphOptimization: { type: 'string', enum: GRAPH_OPT_LEVELS, default: 'all', description: 'onnxruntime graph optimization level. Default "all".' },
        estimatedGmacsPerS: {
          type: 'object',
          additionalProperties: false,
          default: {},
          required: [],
          description: 'Rough throughput per precision at `threads`, used for latency estimates when no calibration exists. Estimates, not measurements. Default {}.',
          properties: { fp32: gmacs('fp32'), fp16: gmacs('fp16'), int8: gmacs('int8'), int4: gmacs('int4'), mixed: gmacs('mixed') },
        },
      },
    },
    thermal: {
      type: 'object',
      additionalProperties: false,
      required: ['softLimitC', 'hardLimitC'],
      description: 'CPU temperature limits, degrees C; softLimitC < hardLimitC.',
      properties: { softLimitC: { type: 'number', minimum: 0, maximum: 150, description: 'Above this CPU temperature the runtime moves to cheaper variants.' }, hardLimitC: { type: 'number', minimum: 0, maximum: 150, description: 'The board throttles here (Pi firmware: 85 C).' } },
    },
    telemetry: { type: 'object', additionalProperties: false, default: { intervalS: 30 }, required: [], description: 'Telemetry publishing.', properties: { intervalS: { type: 'number', minimum: 1, maximum: 86400, default: 30, description: 'Seconds between telemetry messages. Default 30.' } } },
  },
};

/** device-profiles/schema.json as it must be committed (2-space JSON, trailing newline). */
export function profileSchemaText(): string {
  return `${JSON.stringify(profileSchema, null, 2)}\n`;
}
