import t from 'tap';
import { concatRows, signature, splitRows } from '../../../runtime/scheduler/batch-tensors.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

t.test('concatenates each input along dim 0 and splits outputs back by rows', async (t) => {
  const a: NamedTensors = { x: { dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) }, k: { dtype: 'int64', dims: [1, 1], data: new BigInt64Array([7n]) } };
  const b: NamedTensors = { x: { dtype: 'float32', dims: [2, 2], data: new Float32Array([3, 4, 5, 6]) }, k: { dtype: 'int64', dims: [2, 1], data: new BigInt64Array([8n, 9n]) } };
  const m = concatRows([a, b]);
  t.same(m.x?.dims, [3, 2]);
  t.same(Array.from(m.x?.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  t.same(Array.from(m.k?.data as BigInt64Array), [7n, 8n, 9n]);
  const parts = splitRows({ y: { dtype: 'float32', dims: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) } }, [1, 2]);
  t.same(
    parts.map((p) => p.y?.dims),
    [
      [1, 2],
      [2, 2],
    ],
  );
  t.same(Array.from(parts[1]?.y?.data as Float32Array), [3, 4, 5, 6]);
});

t.test('a single request passes through without a copy', async (t) => {
  const a: NamedTensors = { x: { dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) } };
  t.equal(concatRows([a]), a);
});

t.test('an output that is not batched along dim 0 fails the split with EDGE_ERR_INFERENCE_FAILED', async (t) => {
  t.throws(() => splitRows({ y: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } }, [1, 2]), { code: 'EDGE_ERR_INFERENCE_FAILED' });
});

t.test('the signature ignores dim 0 and input order but not dtypes or other dims', async (t) => {
  const s = (dims: number[], dtype: 'float32' | 'int32' = 'float32') => signature({ x: { dtype, dims, data: new Float32Array(0) } });
  t.equal(s([1, 4]), s([9, 4]));
  t.not(s([1, 4]), s([1, 5]));
  t.not(s([1, 4]), s([1, 4], 'int32'));
});
