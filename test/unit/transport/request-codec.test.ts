import t from 'tap';
import { decodeRequest, type DecodeArgs } from '../../../runtime/transport/request-codec.js';
import { createTopics } from '../../../runtime/transport/topics.js';
import type { TensorSpec } from '../../../runtime/repository/types.js';

const SUM: TensorSpec[] = [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }];
const FIXED: TensorSpec[] = [{ name: 'x', dtype: 'uint8', shape: [1, 3] }];
const limits = { maxPayloadBytes: 1024, maxBatch: 4 };
const json = (o: unknown): Uint8Array => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
const args = (payload: Uint8Array, extra: Partial<DecodeArgs> = {}): DecodeArgs => ({ model: 'sum', payload, specs: SUM, limits, ...extra });

function code(a: DecodeArgs): string {
  const r = decodeRequest(a);
  return r.ok ? 'ok' : r.error.code;
}

t.test('the shorthand form fills a float32 tensor with a batch inferred from the length', async (t) => {
  const r = decodeRequest(args(json({ id: 'a', input: [1, 2, 3, 4, 5, 6, 7, 8] })));
  t.ok(r.ok);
  if (!r.ok) return;
  const x = r.request.inputs['x'];
  t.same(x?.dims, [2, 4]);
  t.ok(x?.data instanceof Float32Array);
  t.equal(r.request.id, 'a');
});

t.test('a fixed batch takes exactly one sample', async (t) => {
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3] }), { specs: FIXED })), 'ok');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3, 4, 5, 6] }), { specs: FIXED })), 'EDGE_ERR_BAD_TENSOR');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 300] }), { specs: FIXED })), 'EDGE_ERR_BAD_TENSOR', 'out of uint8 range');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 2.5] }), { specs: FIXED })), 'EDGE_ERR_BAD_TENSOR', 'non-integer for an int dtype');
});

t.test('refuses each kind of bad request with its code', async (t) => {
  t.equal(code(args(json('nope'))), 'EDGE_ERR_BAD_JSON');
  t.equal(code(args(json('"a string"'))), 'EDGE_ERR_BAD_JSON');
  t.equal(code(args(json({ input: [1, 2, 3, 4] }))), 'EDGE_ERR_BAD_REQUEST', 'missing id');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3, 4], inputs: { x: { data: [1] } } }))), 'EDGE_ERR_BAD_REQUEST', 'both forms');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3, 4], more: 1 }))), 'EDGE_ERR_BAD_REQUEST', 'unknown key');
  t.equal(code(args(json({ id: 'a', input: [1, '2', 3, 4] }))), 'EDGE_ERR_BAD_REQUEST', 'a string element');
  t.equal(code(args(json('{"id":"a","input":[1,2,3,-1e400]}'))), 'EDGE_ERR_BAD_TENSOR', 'Infinity');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3, 1e39] }))), 'EDGE_ERR_BAD_TENSOR', 'beyond float32');
  t.equal(code(args(json({ id: 'a', input: [] }))), 'EDGE_ERR_BAD_TENSOR', 'empty');
  t.equal(code(args(json({ id: 'a', inputs: { x: { shape: [1, 4], data: [1, 2, 3] } } }))), 'EDGE_ERR_BAD_TENSOR', 'count != length');
  t.equal(code(args(json({ id: 'a', inputs: { x: { shape: [0, 4], data: [] } } }))), 'EDGE_ERR_BAD_TENSOR', 'zero dim');
  t.equal(code(args(json({ id: 'a', inputs: { x: { shape: [-1, 4], data: [1, 2, 3, 4] } } }))), 'EDGE_ERR_BAD_TENSOR', 'negative dim');
  t.equal(code(args(json({ id: 'a', inputs: { x: { shape: [1, 5], data: [1, 2, 3, 4, 5] } } }))), 'EDGE_ERR_BAD_TENSOR', 'fixed dim mismatch');
  t.equal(code(args(json({ id: 'a', inputs: { x: { shape: [4], data: [1, 2, 3, 4] } } }))), 'EDGE_ERR_BAD_TENSOR', 'rank mismatch');
  t.equal(code(args(json({ id: 'a', inputs: { x: { dtype: 'int8', data: [1, 2, 3, 4] } } }))), 'EDGE_ERR_BAD_TENSOR', 'dtype mismatch');
  t.equal(code(args(json({ id: 'a', inputs: { y: { data: [1, 2, 3, 4] } } }))), 'EDGE_ERR_BAD_TENSOR', 'unknown input');
  t.equal(code(args(json({ id: 'a', input: new Array(20).fill(1) }))), 'EDGE_ERR_TOO_LARGE', 'batch 5 over 4');
  t.equal(code(args(Buffer.alloc(2000, 32))), 'EDGE_ERR_TOO_LARGE', 'payload checked before parsing');
  t.equal(code(args(json({ id: 'a', input: [1, 2, 3, 4] }), { specs: undefined })), 'EDGE_ERR_UNKNOWN_MODEL');
});

t.test('the id and replyTo survive into a failed decode', async (t) => {
  const r = decodeRequest(args(json({ id: 'keep', replyTo: 'my/replies', input: [1, 2] })));
  t.notOk(r.ok);
  if (r.ok) return;
  t.equal(r.route.id, 'keep');
  t.equal(r.route.replyTo, 'my/replies');
  const p = decodeRequest(args(json({ id: 'keep', replyTo: 'bad/#', input: [1, 2, 3, 4] })));
  t.equal(p.ok ? 'ok' : p.error.code, 'EDGE_ERR_BAD_REQUEST', 'a wildcard reply topic is refused');
  if (!p.ok) t.equal(p.route.replyTo, undefined, 'and not used');
});

t.test('a binary request is a view over the payload when aligned', async (t) => {
  const buf = new ArrayBuffer(32);
  const payload = new Uint8Array(buf, 0, 16);
  new Float32Array(buf, 0, 4).set([1, 2, 3, 4]);
  const r = decodeRequest(args(payload, { properties: { contentType: 'application/octet-stream', userProperties: { id: 'b', dtype: 'float32', shape: '1,4' }, responseTopic: 'r/t', correlationData: Buffer.from('c') } }));
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.request.form, 'binary');
  t.equal(r.request.replyTo, 'r/t');
  t.equal(r.request.inputs['x']?.data.buffer, buf, 'no copy');
  t.same(Array.from(r.request.inputs['x']?.data as Float32Array), [1, 2, 3, 4]);
  const lying = decodeRequest(args(payload, { properties: { contentType: 'application/x-edge-tensor', userProperties: { id: 'b', shape: '2,4' } } }));
  t.equal(lying.ok ? 'ok' : lying.error.code, 'EDGE_ERR_BAD_TENSOR', 'byte length must match the shape');
  const noId = decodeRequest(args(payload, { properties: { contentType: 'application/octet-stream' } }));
  t.equal(noId.ok ? 'ok' : noId.error.code, 'EDGE_ERR_BAD_REQUEST');
  const nan = new Uint8Array(new Float32Array([1, NaN, 3, 4]).buffer);
  const n = decodeRequest(args(nan, { properties: { contentType: 'application/octet-stream', userProperties: { id: 'n' } } }));
  t.equal(n.ok ? 'ok' : n.error.code, 'EDGE_ERR_BAD_TENSOR', 'NaN refused');
});

t.test('topics parse the model back and refuse wildcards', async (t) => {
  const topics = createTopics('edge/dev1');
  t.equal(topics.infer('digits'), 'edge/dev1/models/digits/infer');
  t.equal(topics.modelOfInferTopic('edge/dev1/models/digits/infer'), 'digits');
  t.equal(topics.modelOfInferTopic('edge/dev1/models/a/b/infer'), undefined);
  t.equal(topics.modelOfInferTopic('edge/dev2/models/digits/infer'), undefined);
  t.throws(() => topics.result('a+b'), { code: 'EDGE_ERR_CONFIG_INVALID' });
  t.throws(() => createTopics('edge/#'), { code: 'EDGE_ERR_CONFIG_INVALID' });
});
