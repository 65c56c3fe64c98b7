/**
 * Generated requests for test/fuzz-requests.test.ts: bad ones of many kinds mixed with good ones,
 * from a seeded PRNG (same seed, same cases). Each case says what the answer must be.
 */
import { mulberry32 as prng } from './prng.js';

export { prng };

export type Expect = { kind: 'digits'; labels: number[] } | { kind: 'two'; y: number[] } | { kind: 'error'; codes: readonly string[] };

export interface FuzzCase {
  category: string;
  /** The model level of the topic `<prefix>/models/<model>/infer` (may be bogus). */
  model: string;
  payload: Buffer;
  contentType?: string;
  userProperties?: Record<string, string | string[]>;
  qos: 0 | 1;
  expect: Expect;
}

export interface FuzzContext {
  eval: { inputs: number[][] };
  /** The service's own label for each eval sample (learned in a warm-up). */
  predicted: number[];
  maxPayloadBytes: number;
  maxBatch: number;
}

const BAD_JSON = ['EDGE_ERR_BAD_JSON'] as const;
const BAD_REQ = ['EDGE_ERR_BAD_REQUEST'] as const;
const BAD_TENSOR = ['EDGE_ERR_BAD_TENSOR'] as const;
const TOO_LARGE = ['EDGE_ERR_TOO_LARGE'] as const;
const UNKNOWN = ['EDGE_ERR_UNKNOWN_MODEL'] as const;
const SHAPE_CODES = ['EDGE_ERR_BAD_TENSOR', 'EDGE_ERR_BAD_REQUEST', 'EDGE_ERR_TOO_LARGE'] as const;

const OCTET = 'application/octet-stream';

function f32bytes(values: readonly number[]): Buffer {
  return Buffer.from(new Float32Array(values).buffer);
}

export class FuzzGenerator {
  readonly #r: () => number;
  readonly #c: FuzzContext;
  #n = 0;

  constructor(seed: number, ctx: FuzzContext) {
    this.#r = prng(seed);
    this.#c = ctx;
  }

  #int(lo: number, hi: number): number {
    return lo + Math.floor(this.#r() * (hi - lo + 1));
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#r() * xs.length)] as T;
  }

  #id(): string {
    return `f${this.#n++}`;
  }

  #sample(): { i: number; x: number[] } {
    const i = this.#int(0, this.#c.eval.inputs.length - 1);
    return { i, x: this.#c.eval.inputs[i] as number[] };
  }

  #json(model: string, body: unknown, category: string, expect: Expect, contentType?: string): FuzzCase {
    const c: FuzzCase = { category, model, payload: Buffer.from(JSON.stringify(body)), qos: this.#r() < 0.8 ? 1 : 0, expect };
    if (contentType !== undefined) c.contentType = contentType;
    return c;
  }

  #raw(model: string, text: string | Buffer, category: string, codes: readonly string[]): FuzzCase {
    return { category, model, payload: Buffer.isBuffer(text) ? text : Buffer.from(text), qos: this.#r() < 0.8 ? 1 : 0, expect: { kind: 'error', codes } };
  }

  /** A good request (digits in three forms, or two-inputs). */
  good(): FuzzCase {
    const k = this.#int(0, 4);
    if (k === 0) {
      const { i, x } = this.#sample();
      return this.#json('digits', { id: this.#id(), input: x }, 'good-shorthand', { kind: 'digits', labels: [this.#c.predicted[i] as number] }, this.#r() < 0.3 ? 'application/json; charset=utf-8' : undefined);
    }
    if (k === 1) {
      const rows = Array.from({ length: this.#int(1, this.#c.maxBatch) }, () => this.#sample());
      return this.#json('digits', { id: this.#id(), inputs: { input: { dtype: 'float32', shape: [rows.length, 64], data: rows.flatMap((r) => r.x) } } }, 'good-batch', { kind: 'digits', labels: rows.map((r) => this.#c.predicted[r.i] as number) });
    }
    if (k === 2) {
      const { i, x } = this.#sample();
      return { category: 'good-binary', model: 'digits', payload: f32bytes(x), contentType: this.#pick([OCTET, 'APPLICATION/X-EDGE-TENSOR']), userProperties: { id: this.#id(), dtype: 'float32', shape: '1,64' }, qos: 1, expect: { kind: 'digits', labels: [this.#c.predicted[i] as number] } };
    }
    const n = this.#int(1, this.#c.maxBatch);
    const a = Array.from({ length: n * 3 }, () => this.#int(-100, 100) / 4);
    const b = Array.from({ length: n }, () => this.#int(-5, 5));
    const y = a.map((v, j) => Math.fround(v * (b[Math.floor(j / 3)] as number)));
    return this.#json('two-inputs', { id: this.#id(), inputs: { a: { shape: [n, 3], data: a }, b: { dtype: 'int64', shape: [n, 1], data: b } } }, 'good-two-inputs', { kind: 'two', y });
  }

  /** A bad request of a random kind. */
  bad(): FuzzCase {
    const kinds = [
      () => this.#randomBytes(),
      () => this.#truncated(),
      () => this.#nested(),
      () => this.#huge(),
      () => this.#nanInf(),
      () => this.#dtype(),
      () => this.#shape(),
      () => this.#mismatch(),
      () => this.#overSize(),
      () => this.#unknownModel(),
      () => this.#contentType(),
      () => this.#lyingBinary(),
      () => this.#missingId(),
      () => this.#idTypes(),
      () => this.#twoInputsBad(),
      () => this.#schemaJunk(),
    ];
    return this.#pick(kinds)();
  }

  #randomBytes(): FuzzCase {
    const len = this.#int(0, 400);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = this.#int(0, 255);
    // Random bytes are almost never JSON; the rare exception is a number or a string: not an object.
    return this.#raw('digits', b, 'random-bytes', BAD_JSON);
  }

  #truncated(): FuzzCase {
    const { x } = this.#sample();
    const text = JSON.stringify({ id: this.#id(), input: x });
    return this.#raw(this.#pick(['digits', 'two-inputs']), text.slice(0, this.#int(0, text.length - 1)), 'truncated-json', BAD_JSON);
  }

  #nested(): FuzzCase {
    const depth = this.#int(100, 20_000);
    const k = this.#int(0, 3);
    if (k === 0) return this.#raw('digits', `{"id":"${this.#id()}","input":${'['.repeat(depth)}${']'.repeat(depth)}}`, 'nested-arrays', ['EDGE_ERR_BAD_JSON', 'EDGE_ERR_BAD_REQUEST', 'EDGE_ERR_BAD_TENSOR']);
    if (k === 1) return this.#raw('digits', `{"id":"${this.#id()}","x":${'{"a":'.repeat((depth / 5) | 0)}1${'}'.repeat((depth / 5) | 0)}}`, 'nested-objects', ['EDGE_ERR_BAD_JSON', 'EDGE_ERR_BAD_REQUEST']);
    if (k === 2) return this.#raw('digits', `{"id":"${this.#id()}","input":${'['.repeat(depth)}`, 'nested-unclosed', BAD_JSON);
    return this.#raw('two-inputs', `{"id":"${this.#id()}","inputs":{"a":{"data":${'['.repeat(depth)}1${']'.repeat(depth)}}}}`, 'nested-in-tensor', ['EDGE_ERR_BAD_JSON', 'EDGE_ERR_BAD_REQUEST', 'EDGE_ERR_BAD_TENSOR']);
  }

  #huge(): FuzzCase {
    // Fits the payload limit but the batch is over maxBatch, or an array of nulls/strings.
    const k = this.#int(0, 2);
    if (k === 0) {
      const rows = this.#c.maxBatch + this.#int(1, 8);
      return this.#json('digits', { id: this.#id(), input: new Array<number>(rows * 64).fill(0.5) }, 'huge-batch', { kind: 'error', codes: TOO_LARGE });
    }
    if (k === 1) return this.#json('digits', { id: this.#id(), input: new Array<null>(this.#int(64, 2000)).fill(null) }, 'array-of-nulls', { kind: 'error', codes: ['EDGE_ERR_BAD_REQUEST', 'EDGE_ERR_BAD_TENSOR', 'EDGE_ERR_TOO_LARGE'] });
    return this.#json('digits', { id: this.#id(), input: [] }, 'empty-array', { kind: 'error', codes: BAD_TENSOR });
  }

  #nanInf(): FuzzCase {
    const { x } = this.#sample();
    const at = this.#int(0, 63);
    const id = this.#id();
    const k = this.#int(0, 4);
    if (k === 0) {
      const tok = this.#pick(['NaN', 'Infinity', '-Infinity', 'nan', 'inf']);
      const parts = x.map(String);
      parts[at] = tok;
      return this.#raw('digits', `{"id":"${id}","input":[${parts.join(',')}]}`, 'nan-token', BAD_JSON);
    }
    if (k === 1) {
      const data: unknown[] = [...x];
      data[at] = this.#pick(['NaN', 'Infinity', '-Infinity', '1e999']);
      return this.#json('digits', { id, input: data }, 'nan-string', { kind: 'error', codes: BAD_REQ });
    }
    if (k === 2) {
      const parts = x.map(String);
      parts[at] = this.#pick(['1e999', '-1e999', '1e39', '-3.5e38']);
      return this.#raw('digits', `{"id":"${id}","input":[${parts.join(',')}]}`, 'overflow-number', BAD_TENSOR);
    }
    const data = [...x];
    data[at] = this.#pick([NaN, Infinity, -Infinity]);
    return { category: 'nan-binary', model: 'digits', payload: f32bytes(data), contentType: OCTET, userProperties: { id, dtype: 'float32', shape: '1,64' }, qos: 1, expect: { kind: 'error', codes: BAD_TENSOR } };
  }

  #dtype(): FuzzCase {
    const { x } = this.#sample();
    const id = this.#id();
    const k = this.#int(0, 2);
    if (k === 0) return this.#json('digits', { id, inputs: { input: { dtype: this.#pick(['int32', 'int8', 'uint8', 'int64']), shape: [1, 64], data: x.map((v) => Math.round(v)) } } }, 'wrong-dtype', { kind: 'error', codes: BAD_TENSOR });
    if (k === 1) return this.#json('digits', { id, inputs: { input: { dtype: this.#pick(['float64', 'float16', 'complex', '', 'FLOAT32', 7, null]), shape: [1, 64], data: x } } }, 'unknown-dtype', { kind: 'error', codes: BAD_REQ });
    return { category: 'binary-wrong-dtype', model: 'digits', payload: f32bytes(x), contentType: OCTET, userProperties: { id, dtype: this.#pick(['int32', 'int8', 'float16', 'double', '']), shape: '1,64' }, qos: 1, expect: { kind: 'error', codes: BAD_TENSOR } };
  }

  #shape(): FuzzCase {
    const { x } = this.#sample();
    const shape = this.#pick<unknown[]>([[-1, 64], [0, 64], [1, -64], [1, 0], [1e12, 64], [2 ** 53, 64], [1, 64, 1], [], [64], [1.5, 64], [1, 63], [1, 65], [-0, 64], [1, 2 ** 31], ['1', '64'], [null, 64], [1, 1, 1, 1, 1, 1, 1, 1, 64]]);
    return this.#json('digits', { id: this.#id(), inputs: { input: { shape, data: x } } }, 'bad-shape', { kind: 'error', codes: SHAPE_CODES });
  }

  #mismatch(): FuzzCase {
    const { x } = this.#sample();
    const n = this.#int(1, this.#c.maxBatch);
    const extra = this.#pick([-1, 1, 63, -63, 64]);
    const data = Array.from({ length: Math.max(0, n * 64 + extra) }, (_, i) => x[i % 64] as number);
    if (this.#r() < 0.5) return this.#json('digits', { id: this.#id(), inputs: { input: { shape: [n, 64], data } } }, 'shape-data-mismatch', { kind: 'error', codes: BAD_TENSOR });
    const partial = data.slice(0, this.#int(1, 63) + 64 * this.#int(0, 2));
    return this.#json('digits', { id: this.#id(), input: partial.length % 64 === 0 ? [...partial, 0] : partial }, 'shorthand-not-multiple', { kind: 'error', codes: BAD_TENSOR });
  }

  #overSize(): FuzzCase {
    const bytes = this.#c.maxPayloadBytes + this.#int(1, this.#pick([100, 10_000, 100_000, 600_000]));
    if (this.#r() < 0.5) {
      return { category: 'over-size-binary', model: 'digits', payload: Buffer.alloc(bytes - (bytes % 4)), contentType: OCTET, userProperties: { id: this.#id(), dtype: 'float32' }, qos: 1, expect: { kind: 'error', codes: TOO_LARGE } };
    }
    const head = `{"id":"${this.#id()}","input":[`;
    return this.#raw(this.#pick(['digits', 'two-inputs', 'nope']), head + '0,'.repeat(Math.ceil(bytes / 2)) + '0]}', 'over-size-json', TOO_LARGE);
  }

  #unknownModel(): FuzzCase {
    const { x } = this.#sample();
    const model = this.#pick(['nope', 'DIGITS', 'digits2', 'dígitos', '..', 'a b', '%00', 'x'.repeat(200)]);
    return this.#json(model, { id: this.#id(), input: x }, 'unknown-model', { kind: 'error', codes: UNKNOWN });
  }

  #contentType(): FuzzCase {
    const { x } = this.#sample();
    const k = this.#int(0, 2);
    if (k === 0) return { category: 'json-as-binary', model: 'digits', payload: Buffer.from(JSON.stringify({ id: this.#id(), input: x })), contentType: OCTET, qos: 1, expect: { kind: 'error', codes: BAD_REQ } };
    if (k === 1) {
      // image/png selects the image form since issue 11: digits declares no image preprocessing.
      const contentType = this.#pick(['application/json', 'text/plain', 'image/png', '']);
      return { category: 'binary-as-json', model: 'digits', payload: f32bytes(x), contentType, userProperties: { id: this.#id() }, qos: 1, expect: { kind: 'error', codes: contentType === 'image/png' ? ['EDGE_ERR_BAD_REQUEST'] : BAD_JSON } };
    }
    return { category: 'binary-as-json-ct', model: 'digits', payload: f32bytes(x), userProperties: { id: this.#id(), dtype: 'float32', shape: '1,64' }, qos: 1, expect: { kind: 'error', codes: BAD_JSON } };
  }

  #lyingBinary(): FuzzCase {
    const { x } = this.#sample();
    const id = this.#id();
    const lies: [Buffer, Record<string, string | string[]>, readonly string[]][] = [
      [f32bytes(x).subarray(0, 255), { id, dtype: 'float32', shape: '1,64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '2,64' }, BAD_TENSOR],
      [f32bytes([...x, ...x]), { id, dtype: 'float32', shape: '1,64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '9999999999,64' }, TOO_LARGE],
      [f32bytes(x), { id, dtype: 'float32', shape: '1,-64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: 'a,b' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '0,64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '1,1,1,1,1,1,1,1,1,64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '64' }, BAD_TENSOR],
      [f32bytes(x), { id, dtype: 'float32', shape: '1,64', input: 'nope' }, BAD_TENSOR],
      [f32bytes(x).subarray(0, 7), { id, dtype: 'float32' }, BAD_TENSOR],
      [Buffer.alloc(0), { id, dtype: 'float32' }, BAD_TENSOR],
      [f32bytes(x), { dtype: 'float32', shape: '1,64' }, BAD_REQ],
      [f32bytes(x), { id: '', dtype: 'float32', shape: '1,64' }, BAD_REQ],
      [f32bytes(x), { id: 'x'.repeat(300), dtype: 'float32', shape: '1,64' }, BAD_REQ],
    ];
    const [payload, userProperties, codes] = this.#pick(lies);
    const model = this.#r() < 0.85 ? 'digits' : 'two-inputs';
    // two-inputs cannot take a binary request at all (one tensor, two inputs).
    const expect = model === 'two-inputs' && userProperties['id'] !== undefined && userProperties['id'] !== '' && String(userProperties['id']).length <= 256 ? ['EDGE_ERR_BAD_REQUEST', 'EDGE_ERR_BAD_TENSOR'] : codes;
    return { category: 'lying-binary', model, payload, contentType: OCTET, userProperties, qos: 1, expect: { kind: 'error', codes: expect } };
  }

  #missingId(): FuzzCase {
    const { x } = this.#sample();
    return this.#json(this.#pick(['digits', 'two-inputs', 'nope']), this.#pick<unknown>([{ input: x }, { inputs: { input: { data: x } } }, {}, { replyTo: 'fuzz/x' }]), 'missing-id', { kind: 'error', codes: BAD_REQ });
  }

  #idTypes(): FuzzCase {
    const { x } = this.#sample();
    const id = this.#pick<unknown>([0, -1, 1.5, 1e308, null, true, false, [], ['a'], {}, { id: 'a' }, '', 'x'.repeat(257)]);
    return this.#json('digits', { id, input: x }, 'id-types', { kind: 'error', codes: BAD_REQ });
  }

  #twoInputsBad(): FuzzCase {
    const id = this.#id();
    const a = { shape: [1, 3], data: [1, 2, 3] };
    const b = { dtype: 'int64', shape: [1, 1], data: [2] };
    const bodies: [unknown, readonly string[]][] = [
      [{ id, inputs: { a } }, BAD_TENSOR],
      [{ id, inputs: { b } }, BAD_TENSOR],
      [{ id, inputs: { a, b: { ...b, dtype: 'float32' } } }, BAD_TENSOR],
      [{ id, inputs: { a, b: { ...b, data: [1.5] } } }, BAD_TENSOR],
      [{ id, inputs: { a, b: { ...b, data: [2 ** 60] } } }, BAD_TENSOR],
      [{ id, inputs: { a, b: { ...b, data: ['2'] } } }, BAD_REQ],
      [{ id, inputs: { a: { ...a, shape: [1, 4] }, b } }, BAD_TENSOR],
      [{ id, inputs: { a, b, c: b } }, BAD_TENSOR],
      [{ id, input: [1, 2, 3] }, BAD_REQ],
      [{ id, inputs: { a, b: { ...b, shape: [2, 1], data: [1, 2] } } }, BAD_TENSOR],
      [{ id, inputs: { a: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, b } }, BAD_TENSOR],
    ];
    const [body, codes] = this.#pick(bodies);
    return this.#json('two-inputs', body, 'two-inputs-bad', { kind: 'error', codes });
  }

  #schemaJunk(): FuzzCase {
    const { x } = this.#sample();
    const id = this.#id();
    const body = this.#pick<unknown>([[{ id, input: x }], 'a string', 42, null, { id, input: x, inputs: { input: { data: x } } }, { id, input: x, extra: 1 }, { id, inputs: {} }, { id, inputs: { input: 5 } }, { id, inputs: { input: { data: 'abc' } } }, { id, input: x, replyTo: 'a/+/b' }]);
    const codes = typeof body !== 'object' || body === null || Array.isArray(body) ? BAD_JSON : BAD_REQ;
    return this.#json('digits', body, 'schema-junk', { kind: 'error', codes });
  }
}
