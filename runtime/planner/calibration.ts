/**
 * Calibration documents (`edge-infer bench --calibrate` output): schema and pure parsing.
 * Errors: EDGE_ERR_CALIBRATION_INVALID (schema problems, duplicate entries, p95 below p50).
 */
import { BACKEND_PREFS } from '../config/types.js';
import { compileSchema, formatProblems, type SchemaProblem } from '../config/schema-check.js';
import { EdgeError } from '../errors.js';
import type { SchemaOf } from '../config/schema-type.js';
import type { Calibration, CalibrationEntry, RuntimeCalibration } from './types.js';

const BACKENDS = BACKEND_PREFS.filter((b): b is Exclude<typeof b, 'auto'> => b !== 'auto');

const entrySchema: SchemaOf<CalibrationEntry> = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'variant', 'backend', 'threads', 'loadMs', 'latencyP50Ms', 'latencyP95Ms', 'rssMB'],
  properties: {
    model: { type: 'string', minLength: 1, description: 'Model id.' },
    variant: { type: 'string', minLength: 1, description: 'Variant id.' },
    backend: { type: 'string', enum: BACKENDS, description: 'Backend the figures were measured on.' },
    threads: { type: 'integer', minimum: 1, description: 'Intra-op threads during the measurement.' },
    loadMs: { type: 'number', minimum: 0, description: 'Session creation time, ms.' },
    latencyP50Ms: { type: 'number', minimum: 0, description: 'Median latency at batch 1, ms.' },
    latencyP95Ms: { type: 'number', minimum: 0, description: '95th percentile latency at batch 1, ms.' },
    rssMB: { type: 'number', minimum: 0, description: 'RSS growth after load and warm-up, MB.' },
  },
};

const runtimeSchema: SchemaOf<RuntimeCalibration> = {
  type: 'object',
  additionalProperties: false,
  required: ['backend', 'threads', 'rssMB'],
  properties: {
    backend: { type: 'string', enum: BACKENDS, description: 'Backend whose shared runtime was measured (wasm).' },
    threads: { type: 'integer', minimum: 1, description: 'Threads the runtime ran with.' },
    rssMB: { type: 'number', minimum: 0, description: 'RSS growth from starting the runtime to it being ready, MB.' },
    sharedMB: { type: 'number', minimum: 0, description: 'WASM: the shared allowance measured here (largest alone - after-the-others gap), MB.' },
  },
};

export const calibrationSchema: SchemaOf<Calibration> & { $schema: string } = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'edge-infer calibration',
  type: 'object',
  additionalProperties: false,
  required: ['profile', 'measuredAt', 'entries'],
  properties: {
    profile: { type: 'string', minLength: 1, description: 'Profile id the figures were measured under.' },
    measuredAt: { type: 'string', minLength: 1, description: 'ISO 8601 time of the measurement.' },
    entries: { type: 'array', items: entrySchema, description: 'One entry per model, variant and backend.' },
    runtimes: { type: 'array', items: runtimeSchema, description: "The backend runtime's one-time cost (WASM, issue 18)." },
  },
};

const checker = compileSchema<Calibration>(calibrationSchema, 'EDGE_ERR_CALIBRATION_INVALID');

/** Validates a parsed calibration document; returns a copy. `file` names the source in errors. */
export function parseCalibration(doc: unknown, file: string): Calibration {
  const cal = checker.check(structuredClone(doc), file);
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  cal.entries.forEach((e, i) => {
    const key = `${e.model}\u0000${e.variant}\u0000${e.backend}\u0000${e.threads}`;
    if (seen.has(key)) problems.push({ path: `/entries/${i}`, message: `repeats ${e.model}/${e.variant} on ${e.backend} at ${e.threads} thread(s)` });
    seen.add(key);
    if (e.latencyP95Ms < e.latencyP50Ms) problems.push({ path: `/entries/${i}/latencyP95Ms`, message: `is below latencyP50Ms (${e.latencyP50Ms})`, allowed: `>= ${e.latencyP50Ms}` });
  });
  if (problems.length > 0) {
    throw new EdgeError('EDGE_ERR_CALIBRATION_INVALID', formatProblems(file, problems), { details: { file, problems } });
  }
  return cal;
}
