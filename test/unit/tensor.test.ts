import t from 'tap';
import { viewBytes } from '../../runtime/tensor.js';

t.test('viewBytes copies a misaligned Node Buffer instead of failing', async (t) => {
  const backing = Buffer.alloc(9);
  const floats = new Float32Array([1.5, -2]);
  Buffer.from(floats.buffer).copy(backing, 1);
  const misaligned = backing.subarray(1, 9);
  const view = viewBytes('float32', misaligned) as Float32Array;
  t.same(Array.from(view), [1.5, -2]);
});

t.test('viewBytes keeps aligned bytes as a view (no copy)', async (t) => {
  const bytes = new Uint8Array(new Int32Array([7, 8]).buffer);
  const view = viewBytes('int32', bytes);
  t.equal(view.buffer, bytes.buffer);
});
