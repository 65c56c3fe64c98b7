/**
 * JSON Schema of an MQTT request body (README "MQTT topics and payloads"). Keys and types are checked
 * here; array elements, dtype/shape agreement with the model are checked by request-codec.ts.
 */
import { compileSchema, type SchemaChecker } from '../config/schema-check.js';
import { TENSOR_DTYPES, type TensorDtype } from '../tensor.js';

export interface JsonTensor {
  /** Default: the model input's dtype. */
  dtype?: TensorDtype;
  /** Default: inferred from the model input's shape and data length. */
  shape?: number[];
  /** Flat, row-major. */
  data: number[];
}

export interface JsonRequest {
  id: string;
  /** Where to answer (works over MQTT 3.1.1); a publishable topic. */
  replyTo?: string;
  /** Shorthand for single-input models: flat numbers. */
  input?: number[];
  inputs?: Record<string, JsonTensor>;
  /** Raw text for models whose manifest declares text preprocessing (one sample). */
  text?: string;
  /** Raw texts, one sample each (a batch). */
  texts?: string[];
  /** A base64 JPEG or PNG, for models whose manifest declares image preprocessing (issue 11). */
  image?: string;
  /** A base64 WAV file, for models whose manifest declares audio preprocessing. */
  audio?: string;
  /** Stream id: requests of one stream run in order and carry the model's state. */
  stream?: string;
  /** Start the stream afresh before this request; alone (no input) it only resets. */
  reset?: boolean;
}

export const REQUEST_SCHEMA = {
  $id: 'https://edge-infer.dev/schemas/request.json',
  title: 'edge-infer MQTT request',
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 256 },
    replyTo: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^+#\\u0000]+$' },
    // Element types are checked while filling the typed array (one pass; Infinity from 1e999 is
    // EDGE_ERR_BAD_TENSOR there, a non-number EDGE_ERR_BAD_REQUEST), not by ajv.
    input: { type: 'array' },
    inputs: { type: 'object', minProperties: 1, additionalProperties: { type: 'object', additionalProperties: false, required: ['data'], properties: { dtype: { enum: [...TENSOR_DTYPES] }, shape: { type: 'array', items: { type: 'integer' }, maxItems: 8 }, data: { type: 'array' } } } },
    text: { type: 'string' },
    texts: { type: 'array', minItems: 1, items: { type: 'string' } },
    image: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9+/\\s]+=*\\s*$' },
    audio: { type: 'string', minLength: 1, pattern: '^[A-Za-z0-9+/\\s]+=*\\s*$' },
    stream: { type: 'string', minLength: 1, maxLength: 128 },
    reset: { type: 'boolean' },
  },
  oneOf: [
    { properties: { input: true }, required: ['input'] },
    { properties: { inputs: true }, required: ['inputs'] },
    { properties: { text: true }, required: ['text'] },
    { properties: { texts: true }, required: ['texts'] },
    { properties: { image: true }, required: ['image'] },
    { properties: { audio: true }, required: ['audio'] },
    { properties: { reset: { const: true }, stream: true }, required: ['reset', 'stream'], not: { anyOf: [{ required: ['input'] }, { required: ['inputs'] }, { required: ['text'] }, { required: ['texts'] }, { required: ['image'] }, { required: ['audio'] }] } },
  ],
} as const;

export const requestSchema: SchemaChecker<JsonRequest> = compileSchema<JsonRequest>(REQUEST_SCHEMA, 'EDGE_ERR_BAD_REQUEST');
