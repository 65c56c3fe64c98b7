import t from 'tap';
import { textTokensPreprocessor, type TextTokensSpec } from '../runtime/preprocess/index.js';
import type { TensorSpec } from '../runtime/repository/types.js';
import { decodeRequest, type DecodeArgs } from '../runtime/transport/request-codec.js';

const SPEC: TextTokensSpec = { kind: 'text-tokens', vocab: 'vocab.txt', lowercase: 'ascii', punctuation: '!', maxLength: 3, input: 'input_ids', padId: 0, unkId: 1 };
const specs: TensorSpec[] = [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 3] }];
const preprocess = textTokensPreprocessor(SPEC, ['<pad>', '<unk>', 'win', '!'], 'int64');
const limits = { maxPayloadBytes: 4096, maxBatch: 2 };
const args = (body: unknown, extra: Partial<DecodeArgs> = {}): DecodeArgs => ({ model: 'spam', payload: Buffer.from(JSON.stringify(body)), specs, limits, preprocess, ...extra });
const code = (a: DecodeArgs): string => {
  const r = decodeRequest(a);
  return r.ok ? 'ok' : r.error.code;
};

t.test('a "text" request becomes the declared token-id tensor of one row', async (t) => {
  const r = decodeRequest(args({ id: 'm1', text: 'WIN now!' }));
  t.ok(r.ok);
  if (!r.ok) return;
  t.equal(r.request.id, 'm1');
  const ids = r.request.inputs['input_ids'];
  t.same(ids?.dims, [1, 3]);
  t.same(Array.from(ids?.data as BigInt64Array, Number), [2, 1, 3]);
});

t.test('"texts" is a batch, one row per text', async (t) => {
  const r = decodeRequest(args({ id: 'b', texts: ['win', ''], replyTo: 'me/answers' }));
  t.ok(r.ok);
  if (!r.ok) return;
  t.same(r.request.inputs['input_ids']?.dims, [2, 3]);
  t.equal(r.request.replyTo, 'me/answers');
});

t.test('text requests are refused with a code when the model has no preprocessing, the batch is too big or the form is mixed', async (t) => {
  t.equal(code(args({ id: 'a', text: 'hi' }, { preprocess: undefined })), 'EDGE_ERR_BAD_REQUEST');
  t.equal(code(args({ id: 'a', texts: ['a', 'b', 'c'] })), 'EDGE_ERR_TOO_LARGE');
  t.equal(code(args({ id: 'a', texts: [] })), 'EDGE_ERR_BAD_REQUEST', 'empty batch');
  t.equal(code(args({ id: 'a', text: 'x', texts: ['y'] })), 'EDGE_ERR_BAD_REQUEST', 'two forms');
  t.equal(code(args({ id: 'a', text: 'x', input: [1, 2, 3] })), 'EDGE_ERR_BAD_REQUEST', 'text and numbers');
  t.equal(code(args({ id: 'a', text: 42 })), 'EDGE_ERR_BAD_REQUEST', 'text not a string');
  t.equal(code(args({ id: 'a', texts: ['ok', 3] })), 'EDGE_ERR_BAD_REQUEST', 'a non-string in texts');
  t.equal(code(args({ id: 'a', text: 'x' }, { specs: undefined })), 'EDGE_ERR_UNKNOWN_MODEL');
});

t.test('numeric forms still work on a text model', async (t) => {
  t.equal(code(args({ id: 'a', input: [2, 3, 0] })), 'ok');
});
