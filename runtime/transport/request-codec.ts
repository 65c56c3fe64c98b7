/**
 * Decodes one MQTT request (payload bytes + MQTT 5 properties) into named tensors for a model. Pure:
 * no mqtt import, no I/O.
 *
 * Forms (README "MQTT topics and payloads"):
 * - JSON named:     {"id", "inputs": {"<name>": {"dtype", "shape", "data"}}, "replyTo"?}
 * - JSON shorthand: {"id", "input": [flat numbers], "replyTo"?} for single-input models
 * - JSON text:      {"id", "text": "..."} or {"id", "texts": ["...", ...]} for models whose manifest
 *                   declares text preprocessing; `DecodeArgs.preprocess` turns the texts into tensors
 *                   (absent -> EDGE_ERR_BAD_REQUEST)
 * - binary:         raw little-endian tensor bytes, content type application/octet-stream or
 *                   application/x-edge-tensor, user properties id, dtype, shape ("1,64"), input?, replyTo?
 *
 * Contract: never throws. A failure is returned as `{ ok: false, error }` carrying whatever of id /
 * reply routing could be read, so the error answer reaches the requester. Codes: EDGE_ERR_TOO_LARGE,
 * EDGE_ERR_BAD_JSON, EDGE_ERR_BAD_REQUEST, EDGE_ERR_UNKNOWN_MODEL, EDGE_ERR_BAD_TENSOR.
 * Binary inputs are views over `payload` (no copy unless misaligned): the caller must not reuse it.
 * One object (issue 16): the route is filled in place and, decoded, IS the request (`args.route`,
 * when given, is that object: the transport's InferRequest); no spread or copy of it is made.
 */
import { EdgeError, asEdgeError } from '../errors.js';
import { allocate, BYTES_PER_ELEMENT, isTensorDtype, viewBytes, type NamedTensors, type Tensor, type TensorData, type TensorDtype } from '../tensor.js';
import type { TensorSpec } from '../repository/types.js';
import type { Preprocessor } from '../preprocess/types.js';
import { requestSchema, type JsonTensor } from './request-schema.js';
import { isValidPublishTopic } from './topics.js';
import type { RequestExtras } from '../media/types.js';
import { checkStreamId, isMediaContentType, mediaExtras } from './media-codec.js';
import type { RequestLimits, RequestProperties } from './types.js';

export const BINARY_CONTENT_TYPES: readonly string[] = ['application/octet-stream', 'application/x-edge-tensor'];

export type RequestForm = 'json' | 'binary';

/** Where an answer goes and how it is matched, known as early as possible. */
export interface ReplyRoute {
  /** Request id when it could be read. */
  id?: string;
  /** MQTT 5 responseTopic, else the body's / user property's replyTo. */
  replyTo?: string;
  correlationData?: Uint8Array;
  form: RequestForm;
}

export interface DecodedRequest extends ReplyRoute {
  id: string;
  inputs: NamedTensors;
  /** Stream, reset and media bytes (issue 11; media-codec.ts); absent for plain tensor requests. */
  extras?: RequestExtras;
}

export type DecodeResult = { ok: true; request: DecodedRequest } | { ok: false; error: EdgeError; route: ReplyRoute };

export interface DecodeArgs {
  model: string;
  payload: Uint8Array;
  properties?: RequestProperties | undefined;
  /** The model's inputs, or undefined when the model is unknown. */
  specs: readonly TensorSpec[] | undefined;
  limits: RequestLimits;
  /** The model's text preprocessor (for "text" / "texts" requests), when its manifest declares one. */
  preprocess?: Preprocessor | undefined;
  /** The object to fill (it becomes the request); default a new one. Its routing fields must be unset. */
  route?: ReplyRoute;
}

const FLOAT32_MAX = 3.4028234663852886e38;
const INT_RANGE: Record<Exclude<TensorDtype, 'float32' | 'int64'>, [number, number]> = { int32: [-2147483648, 2147483647], int8: [-128, 127], uint8: [0, 255] };

function userProp(props: RequestProperties | undefined, key: string): string | undefined {
  const v = props?.userProperties?.[key];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : v;
}

function bad(code: 'EDGE_ERR_BAD_TENSOR' | 'EDGE_ERR_TOO_LARGE' | 'EDGE_ERR_BAD_REQUEST', message: string, details?: Record<string, unknown>): EdgeError {
  return details === undefined ? new EdgeError(code, message) : new EdgeError(code, message, { details });
}

/** Checks dims are positive integers, rank and fixed dims agree with the spec, batch within limits. */
function checkShape(spec: TensorSpec, shape: readonly number[], limits: RequestLimits): void {
  if (shape.length !== spec.shape.length) {
    throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" must have rank ${spec.shape.length}, got shape [${shape.join(',')}]`, { input: spec.name, expected: spec.shape, got: shape });
  }
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d <= 0) {
      throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" dim ${i} must be a positive integer, got ${d}`, { input: spec.name, got: shape });
    }
    const want = spec.shape[i];
    if (typeof want === 'number' && want > 0 && want !== d) {
      throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" dim ${i} must be ${want}, got ${d}`, { input: spec.name, expected: spec.shape, got: shape });
    }
  });
  const batch = shape[0] ?? 1;
  if (batch > limits.maxBatch) throw bad('EDGE_ERR_TOO_LARGE', `batch ${batch} is over the maximum ${limits.maxBatch}`, { batch, maxBatch: limits.maxBatch });
}

/** The shape for `length` flat elements: fixed batch, or a whole multiple of the per-sample size. */
function inferShape(spec: TensorSpec, length: number, limits: RequestLimits): number[] {
  const rest = spec.shape.slice(1);
  if (rest.some((d) => typeof d !== 'number' || d <= 0)) {
    throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" has symbolic inner dims [${spec.shape.join(',')}]: send "inputs" with an explicit shape`, { input: spec.name });
  }
  const perSample = (rest as number[]).reduce((a, b) => a * b, 1);
  const first = spec.shape[0];
  const batch = typeof first === 'number' && first > 0 ? first : length / perSample;
  if (length === 0 || !Number.isInteger(batch) || batch * perSample !== length) {
    throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" needs a whole multiple of ${perSample} values (shape [${spec.shape.join(',')}]), got ${length}`, { input: spec.name, perSample, got: length });
  }
  const shape = spec.shape.length === 0 ? [] : [batch, ...(rest as number[])];
  checkShape(spec, shape, limits);
  return shape;
}

/** Fills a typed array from JSON numbers, refusing non-finite, out-of-range and non-integer values. */
function fill(dtype: TensorDtype, values: readonly unknown[], name: string): TensorData {
  const out = allocate(dtype, values.length);
  const fail = (i: number, why: string): never => {
    if (typeof values[i] !== 'number') throw bad('EDGE_ERR_BAD_REQUEST', `input "${name}" element ${i} is not a number`, { input: name, index: i });
    throw bad('EDGE_ERR_BAD_TENSOR', `input "${name}" element ${i} ${why} for ${dtype}`, { input: name, index: i });
  };
  if (dtype === 'float32') {
    const f = out as Float32Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!(Math.abs(v) <= FLOAT32_MAX) || typeof v !== 'number') fail(i, 'is not a finite number');
      f[i] = v;
    }
  } else if (dtype === 'int64') {
    const b = out as BigInt64Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!Number.isSafeInteger(v)) fail(i, 'is not a safe integer');
      b[i] = BigInt(v);
    }
  } else {
    const [lo, hi] = INT_RANGE[dtype];
    const a = out as Int32Array | Int8Array | Uint8Array;
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as number;
      if (!Number.isInteger(v) || v < lo || v > hi) fail(i, `is not an integer in [${lo}, ${hi}]`);
      a[i] = v;
    }
  }
  return out;
}

function jsonTensor(spec: TensorSpec, t: JsonTensor, limits: RequestLimits): Tensor {
  const dtype = t.dtype ?? spec.dtype;
  if (dtype !== spec.dtype) throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" must be ${spec.dtype}, got ${dtype}`, { input: spec.name, expected: spec.dtype, got: dtype });
  let dims: number[];
  if (t.shape === undefined) {
    dims = inferShape(spec, t.data.length, limits);
  } else {
    checkShape(spec, t.shape, limits);
    dims = t.shape;
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" shape [${dims.join(',')}] holds ${count} values, data has ${t.data.length}`, { input: spec.name, count, length: t.data.length });
  }
  return { dtype, dims, data: fill(dtype, t.data, spec.name) };
}

/**
 * A symbolic dim name (e.g. "batch") means one size across all inputs (ONNX semantics); the
 * scheduler also concatenates requests along dim 0 per input, so rows must line up. Found by
 * test/fuzz-requests.test.ts: a [1,3] and b [2,1] were accepted and broadcast. EDGE_ERR_BAD_TENSOR.
 */
function checkSymbolicDims(specs: readonly TensorSpec[], inputs: NamedTensors): void {
  const seen = new Map<string, { input: string; size: number }>();
  for (const spec of specs) {
    const dims = inputs[spec.name]?.dims;
    if (dims === undefined) continue;
    spec.shape.forEach((d, i) => {
      if (typeof d !== 'string') return;
      const size = dims[i] as number;
      const first = seen.get(d);
      if (first === undefined) seen.set(d, { input: spec.name, size });
      else if (first.size !== size) {
        throw bad('EDGE_ERR_BAD_TENSOR', `dim "${d}" is ${first.size} in input "${first.input}" but ${size} in input "${spec.name}"`, { dim: d, [first.input]: first.size, [spec.name]: size });
      }
    });
  }
}

function soleSpec(specs: readonly TensorSpec[], what: string): TensorSpec {
  const [only] = specs;
  if (specs.length !== 1 || only === undefined) {
    throw bad('EDGE_ERR_BAD_REQUEST', `${what} works only for single-input models; this one has inputs ${specs.map((s) => s.name).join(', ')}: use "inputs"`, { inputs: specs.map((s) => s.name) });
  }
  return only;
}

function textInputs(args: DecodeArgs, texts: readonly string[]): NamedTensors {
  if (args.preprocess === undefined) throw bad('EDGE_ERR_BAD_REQUEST', `model "${args.model}" declares no text preprocessing: send "input" or "inputs"`, { model: args.model });
  if (texts.length > args.limits.maxBatch) throw bad('EDGE_ERR_TOO_LARGE', `batch ${texts.length} is over the maximum ${args.limits.maxBatch}`, { batch: texts.length, maxBatch: args.limits.maxBatch });
  return args.preprocess(texts);
}

/** Longest request id echoed back in an answer, chars; longer ones are answered with id null. */
export const MAX_ECHOED_ID = 256;

function decodeJson(args: DecodeArgs, route: ReplyRoute): DecodedRequest {
  let doc: unknown;
  try {
    const p = args.payload;
    doc = JSON.parse((Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength)).toString('utf8'));
  } catch {
    throw new EdgeError('EDGE_ERR_BAD_JSON', 'the payload is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new EdgeError('EDGE_ERR_BAD_JSON', 'the payload must be a JSON object');
  // Read routing before validating, so even a schema failure is answered where the client listens.
  const raw = doc as Record<string, unknown>;
  // Echoed in the answer: bounded like the binary path's id (issue 12 item 14); a longer one is answered with id null.
  if (typeof raw['id'] === 'string' || typeof raw['id'] === 'number') {
    const id = String(raw['id']);
    if (id.length <= MAX_ECHOED_ID) route.id = id;
  }
  if (route.replyTo === undefined && typeof raw['replyTo'] === 'string' && isValidPublishTopic(raw['replyTo'])) route.replyTo = raw['replyTo'];
  const req = requestSchema.check(doc, 'request');
  const specs = args.specs;
  if (specs === undefined) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `no model "${args.model}" on this device`, { details: { model: args.model } });
  const extras: RequestExtras = {};
  if (req.stream !== undefined) extras.stream = checkStreamId(req.stream);
  if (req.reset === true) extras.reset = true;
  if (req.image !== undefined) extras.media = { kind: 'image', bytes: Buffer.from(req.image, 'base64') };
  if (req.audio !== undefined) extras.media = { kind: 'wav', bytes: Buffer.from(req.audio, 'base64') };
  const out = route as DecodedRequest;
  out.id = req.id;
  if (extras.stream !== undefined || extras.reset !== undefined || extras.media !== undefined) out.extras = extras;
  if (extras.media !== undefined || (req.reset === true && req.input === undefined && req.inputs === undefined && req.text === undefined && req.texts === undefined)) {
    out.inputs = {};
    return out;
  }
  if (req.text !== undefined || req.texts !== undefined) {
    out.inputs = textInputs(args, req.texts ?? [req.text ?? '']);
    return out;
  }
  const inputs: NamedTensors = {};
  if (req.input !== undefined) {
    const spec = soleSpec(specs, '"input"');
    inputs[spec.name] = jsonTensor(spec, { data: req.input }, args.limits);
  } else {
    const given = req.inputs ?? {};
    for (const name of Object.keys(given)) {
      if (!specs.some((s) => s.name === name)) throw bad('EDGE_ERR_BAD_TENSOR', `model "${args.model}" has no input "${name}"`, { input: name, inputs: specs.map((s) => s.name) });
    }
    for (const spec of specs) {
      const t = given[spec.name];
      if (t === undefined) throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" is missing`, { input: spec.name });
      inputs[spec.name] = jsonTensor(spec, t, args.limits);
    }
    checkSymbolicDims(specs, inputs);
  }
  out.inputs = inputs;
  return out;
}

function decodeBinary(args: DecodeArgs, route: ReplyRoute): DecodedRequest {
  const props = args.properties;
  const id = userProp(props, 'id');
  if (id !== undefined && id.length > 0 && id.length <= MAX_ECHOED_ID) route.id = id;
  const replyTo = userProp(props, 'replyTo');
  if (route.replyTo === undefined && replyTo !== undefined && isValidPublishTopic(replyTo)) route.replyTo = replyTo;
  if (route.id === undefined) throw bad('EDGE_ERR_BAD_REQUEST', 'a binary request needs a user property "id" (1..256 chars)');
  const specs = args.specs;
  if (specs === undefined) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `no model "${args.model}" on this device`, { details: { model: args.model } });
  const inputName = userProp(props, 'input');
  const spec = inputName === undefined ? soleSpec(specs, 'a binary request without user property "input"') : specs.find((s) => s.name === inputName);
  if (spec === undefined) throw bad('EDGE_ERR_BAD_TENSOR', `model "${args.model}" has no input "${String(inputName)}"`, { input: inputName });
  if (specs.length !== 1) throw bad('EDGE_ERR_BAD_REQUEST', 'a binary request carries one tensor; this model needs several: use JSON "inputs"', { inputs: specs.map((s) => s.name) });
  const dtype = userProp(props, 'dtype') ?? spec.dtype;
  if (!isTensorDtype(dtype) || dtype !== spec.dtype) throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" must be ${spec.dtype}, got ${dtype}`, { input: spec.name, expected: spec.dtype, got: dtype });
  const size = BYTES_PER_ELEMENT[dtype];
  const bytes = args.payload;
  if (bytes.byteLength % size !== 0) throw bad('EDGE_ERR_BAD_TENSOR', `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`, { bytes: bytes.byteLength });
  const shapeProp = userProp(props, 'shape');
  let dims: number[];
  if (shapeProp === undefined) {
    dims = inferShape(spec, bytes.byteLength / size, args.limits);
  } else {
    if (!/^\d{1,10}(,\d{1,10}){0,7}$/.test(shapeProp.replace(/\s/g, ''))) throw bad('EDGE_ERR_BAD_TENSOR', `user property shape "${shapeProp.slice(0, 64)}" is not a comma-separated list of positive integers`, { input: spec.name });
    dims = shapeProp.replace(/\s/g, '').split(',').map(Number);
    checkShape(spec, dims, args.limits);
    const want = dims.reduce((a, b) => a * b, 1) * size;
    if (want !== bytes.byteLength) throw bad('EDGE_ERR_BAD_TENSOR', `shape [${dims.join(',')}] of ${dtype} needs ${want} bytes, payload has ${bytes.byteLength}`, { expectedBytes: want, bytes: bytes.byteLength });
  }
  const data = viewBytes(dtype, bytes);
  if (dtype === 'float32') {
    const f = data as Float32Array;
    for (let i = 0; i < f.length; i++) {
      if (!Number.isFinite(f[i] as number)) throw bad('EDGE_ERR_BAD_TENSOR', `input "${spec.name}" element ${i} is not a finite number`, { input: spec.name, index: i });
    }
  }
  const decoded = route as DecodedRequest;
  decoded.inputs = { [spec.name]: { dtype, dims, data } };
  const stream = userProp(props, 'stream');
  const reset = userProp(props, 'reset');
  if (stream !== undefined || reset !== undefined) {
    decoded.extras = {};
    if (stream !== undefined) decoded.extras.stream = checkStreamId(stream);
    if (reset === '1' || reset === 'true') decoded.extras.reset = true;
  }
  return decoded;
}

/** True when the request's content type selects the binary form. */
export function isBinaryContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return BINARY_CONTENT_TYPES.includes(base);
}

/** A media-form request (image / WAV / PCM bytes): routing from user properties, the bytes as they are. */
function decodeMedia(args: DecodeArgs, route: ReplyRoute): DecodedRequest {
  const props = args.properties;
  const id = userProp(props, 'id');
  if (id !== undefined && id.length > 0 && id.length <= 256) route.id = id;
  const replyTo = userProp(props, 'replyTo');
  if (route.replyTo === undefined && replyTo !== undefined && isValidPublishTopic(replyTo)) route.replyTo = replyTo;
  if (route.id === undefined) throw bad('EDGE_ERR_BAD_REQUEST', 'an image or audio request needs a user property "id" (1..256 chars)');
  if (args.specs === undefined) throw new EdgeError('EDGE_ERR_UNKNOWN_MODEL', `no model "${args.model}" on this device`, { details: { model: args.model } });
  const decoded = route as DecodedRequest;
  decoded.inputs = {};
  decoded.extras = mediaExtras(args.payload, props, (k) => userProp(props, k));
  return decoded;
}

export function decodeRequest(args: DecodeArgs): DecodeResult {
  const props = args.properties;
  const ct = props?.contentType;
  // The common case (no content type, or exactly application/json) skips the parsing of the type.
  const plain = ct === undefined || ct === 'application/json';
  const media = !plain && isMediaContentType(ct);
  // Media requests are answered in JSON.
  const form: RequestForm = !plain && isBinaryContentType(ct) ? 'binary' : 'json';
  const route: ReplyRoute = args.route ?? { form };
  route.form = form;
  if (props?.responseTopic !== undefined && isValidPublishTopic(props.responseTopic)) route.replyTo = props.responseTopic;
  if (props?.correlationData !== undefined) route.correlationData = props.correlationData;
  try {
    if (args.payload.byteLength > args.limits.maxPayloadBytes) {
      if (form === 'binary' || media) {
        const id = userProp(props, 'id');
        if (id !== undefined && id.length > 0 && id.length <= MAX_ECHOED_ID) route.id = id;
      }
      throw bad('EDGE_ERR_TOO_LARGE', `payload of ${args.payload.byteLength} bytes is over the maximum ${args.limits.maxPayloadBytes}`, { bytes: args.payload.byteLength, maxPayloadBytes: args.limits.maxPayloadBytes });
    }
    const request = media ? decodeMedia(args, route) : form === 'binary' ? decodeBinary(args, route) : decodeJson(args, route);
    return { ok: true, request };
  } catch (e) {
    return { ok: false, error: asEdgeError(e), route };
  }
}
