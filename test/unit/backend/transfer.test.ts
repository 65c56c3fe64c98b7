import t from 'tap';
import { prepareTransfer } from '../../../runtime/backend/transfer.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

t.test('a tensor that owns its whole buffer is transferred as is', async (t) => {
  const data = new Float32Array([1, 2]);
  const tensors: NamedTensors = { x: { dtype: 'float32', dims: [1, 2], data } };
  const list = prepareTransfer(tensors);
  t.equal(list.length, 1);
  t.equal(list[0], data.buffer);
  t.equal(tensors.x?.data, data);
});

t.test('a view on part of a larger buffer is copied so the rest of that buffer is never detached', async (t) => {
  const big = new Float32Array([1, 2, 3, 4]);
  const tensors: NamedTensors = { x: { dtype: 'float32', dims: [1, 2], data: big.subarray(1, 3) } };
  const list = prepareTransfer(tensors);
  t.not(list[0], big.buffer);
  t.same(Array.from(tensors.x?.data as Float32Array), [2, 3]);
  t.equal(list[0]?.byteLength, 8);
});

t.test('two tensors sharing one buffer get separate buffers in the transfer list', async (t) => {
  const shared = new Float32Array([1, 2]);
  const tensors: NamedTensors = { a: { dtype: 'float32', dims: [2], data: shared }, b: { dtype: 'float32', dims: [2], data: shared } };
  const list = prepareTransfer(tensors);
  t.equal(new Set(list).size, 2, 'no buffer is listed twice (postMessage would throw)');
});

t.test('refuses a tensor whose buffer was already transferred instead of hanging the worker', async (t) => {
  const data = new Float32Array(4);
  structuredClone(data.buffer, { transfer: [data.buffer] });
  t.throws(() => prepareTransfer({ x: { dtype: 'float32', dims: [1, 4], data } }), { code: 'EDGE_ERR_BAD_TENSOR' });
});
