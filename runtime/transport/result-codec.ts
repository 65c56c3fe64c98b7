/**
 * Encodes answers. Pure.
 *
 * JSON result: {"id","model","variant","outputs":{"<name>":{"dtype","shape","data"}},"top"?,
 *               "latencyMs":{"queue","inference","total"}}
 * Binary result (when the request was binary; MQTT 5): the outputs' raw little-endian bytes, each
 *   starting at a multiple of 8, content type application/x-edge-tensor, user properties id, model,
 *   variant, latencyMs (JSON), outputs (JSON [{name,dtype,shape,byteOffset,byteLength}]) and, for a
 *   single output, dtype and shape ("1,10") like a binary request.
 * Error: {"id","model","error":{"code","message","hint","details"?}}
 */
import { toErrorPayload, type ErrorPayload } from '../errors.js';
import type { InferResult } from '../result.js';
import type { NamedTensors, Tensor } from '../tensor.js';
import type { PublishProperties } from './types.js';

export interface LatencyMs {
  queue: number;
  inference: number;
  total: number;
}

export interface EncodedAnswer {
  payload: Uint8Array;
  properties?: PublishProperties;
}

export interface JsonTensorOut {
  dtype: string;
  shape: number[];
  data: (number | string)[];
}

export interface ResultBody {
  id: string;
  model: string;
  variant: string;
  outputs: Record<string, JsonTensorOut>;
  top?: { index: number; label: string; score: number }[];
  latencyMs: LatencyMs;
  /** Inferences the request took (audio frames; issue 11). */
  frames?: number;
  /** Events this request completed (also published on the events topic). */
  events?: { event: string; stream: string | null; score: number; time: string }[];
}

export interface ErrorBody {
  id: string | null;
  model: string | null;
  error: ErrorPayload;
}

export interface BinaryOutputInfo {
  name: string;
  dtype: string;
  shape: number[];
  byteOffset: number;
  byteLength: number;
}

const round3 = (ms: number): number => Math.round(ms * 1000) / 1000;
/** A latency figure as JSON text (JSON.stringify's, null for a non-finite one). */
const ms3 = (ms: number): string => (Number.isFinite(ms) ? String(round3(ms)) : 'null');

function tensorToJson(t: Tensor): JsonTensorOut {
  const data: (number | string)[] = new Array<number | string>(t.data.length);
  if (t.dtype === 'int64') {
    const b = t.data as BigInt64Array;
    for (let i = 0; i < b.length; i++) {
      const v = b[i] as bigint;
      // Integers beyond 2^53 would silently lose precision as JSON numbers: send them as strings.
      data[i] = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    }
  } else {
    const a = t.data as Float32Array | Int32Array | Int8Array | Uint8Array;
    for (let i = 0; i < a.length; i++) data[i] = a[i] as number;
  }
  return { dtype: t.dtype, shape: [...t.dims], data };
}

function latency(l: LatencyMs): LatencyMs {
  return { queue: round3(l.queue), inference: round3(l.inference), total: round3(l.total) };
}

export function resultBody(id: string, model: string, outcome: InferResult, latencyMs: LatencyMs): ResultBody {
  const outputs: Record<string, JsonTensorOut> = {};
  for (const [name, t] of Object.entries(outcome.outputs)) outputs[name] = tensorToJson(t);
  const body: ResultBody = { id, model, variant: outcome.variant, outputs, latencyMs: latency(latencyMs) };
  if (outcome.top !== undefined) body.top = outcome.top;
  if (outcome.frames !== undefined) body.frames = outcome.frames;
  if (outcome.events !== undefined && outcome.events.length > 0) body.events = outcome.events;
  return body;
}

/** `data` of a tensor as JSON text, the same text JSON.stringify gives for tensorToJson's array. */
function dataJson(t: Tensor): string {
  if (t.dtype === 'int64') return JSON.stringify(tensorToJson(t).data);
  const a = t.data as Float32Array | Int32Array | Int8Array | Uint8Array;
  if (t.dtype === 'float32') {
    // JSON has no NaN / Infinity (JSON.stringify writes null): the rare non-finite output takes the slow path.
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) return JSON.stringify(tensorToJson(t).data);
  }
  // TypedArray.join writes each element with Number::toString, as JSON.stringify does for finite numbers.
  return `[${a.join(',')}]`;
}

/**
 * The JSON result as text, written directly (issue 16): byte for byte what
 * JSON.stringify(resultBody(id, model, result, latency)) gives (test/unit/transport/result-codec.test.ts),
 * without the intermediate body, number arrays and shape copies. `totalMs` is the request's total.
 */
export function resultJson(id: string, model: string, r: InferResult, totalMs: number): string {
  let outputs = '';
  for (const name in r.outputs) {
    const t = r.outputs[name] as Tensor;
    outputs += `${outputs === '' ? '' : ','}${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":${JSON.stringify(t.dims)},"data":${dataJson(t)}}`;
  }
  let tail = '';
  if (r.top !== undefined) tail += `,"top":${JSON.stringify(r.top)}`;
  if (r.frames !== undefined) tail += `,"frames":${r.frames}`;
  if (r.events !== undefined && r.events.length > 0) tail += `,"events":${JSON.stringify(r.events)}`;
  return `{"id":${JSON.stringify(id)},"model":${JSON.stringify(model)},"variant":${JSON.stringify(r.variant)},"outputs":{${outputs}},"latencyMs":{"queue":${ms3(r.queueMs)},"inference":${ms3(r.inferenceMs)},"total":${ms3(totalMs)}}${tail}}`;
}

const JSON_PROPERTIES: Readonly<PublishProperties> = Object.freeze({ contentType: 'application/json' });

/** Content type only; answers.ts adds correlation data to a fresh copy when the request had some. */
export function encodeJsonResult(id: string, model: string, r: InferResult, totalMs: number): EncodedAnswer {
  return { payload: Buffer.from(resultJson(id, model, r, totalMs)), properties: JSON_PROPERTIES };
}

export function encodeBinaryResult(id: string, model: string, outcome: InferResult, totalMs: number): EncodedAnswer {
  const entries = Object.entries(outcome.outputs as NamedTensors);
  const infos: BinaryOutputInfo[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    offset = Math.ceil(offset / 8) * 8;
    infos.push({ name, dtype: t.dtype, shape: [...t.dims], byteOffset: offset, byteLength: t.data.byteLength });
    offset += t.data.byteLength;
  }
  const payload = Buffer.alloc(offset);
  entries.forEach(([, t], i) => {
    payload.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), (infos[i] as BinaryOutputInfo).byteOffset);
  });
  const userProperties: Record<string, string> = { id, model, variant: outcome.variant, latencyMs: `{"queue":${ms3(outcome.queueMs)},"inference":${ms3(outcome.inferenceMs)},"total":${ms3(totalMs)}}`, outputs: JSON.stringify(infos) };
  const [only] = infos;
  if (infos.length === 1 && only !== undefined) {
    userProperties['dtype'] = only.dtype;
    userProperties['shape'] = only.shape.join(',');
  }
  if (outcome.top !== undefined) userProperties['top'] = JSON.stringify(outcome.top);
  return { payload, properties: { contentType: 'application/x-edge-tensor', userProperties } };
}

export function errorBody(id: string | undefined, model: string | undefined, error: unknown): ErrorBody {
  return { id: id ?? null, model: model ?? null, error: toErrorPayload(error) };
}

export function encodeError(id: string | undefined, model: string | undefined, error: unknown): EncodedAnswer {
  return { payload: Buffer.from(JSON.stringify(errorBody(id, model, error))), properties: JSON_PROPERTIES };
}
