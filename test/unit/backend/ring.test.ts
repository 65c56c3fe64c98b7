import t from 'tap';
import { SLOTS, checkSlotBytes, createRing, fits, messageBytes, openRing, readMessage, writeFailure, writeMessage } from '../../../runtime/backend/ring.js';
import type { NamedTensors } from '../../../runtime/tensor.js';

const all = (): NamedTensors => ({
  f: { dtype: 'float32', dims: [2, 2], data: new Float32Array([1.5, -2, 3.25, 4]) },
  ünï: { dtype: 'int64', dims: [3], data: new BigInt64Array([-(2n ** 62n), 0n, 2n ** 62n]) },
  i: { dtype: 'int32', dims: [1, 1, 1], data: new Int32Array([-7]) },
  s: { dtype: 'int8', dims: [3], data: new Int8Array([-128, 0, 127]) },
  u: { dtype: 'uint8', dims: [0, 5], data: new Uint8Array(0) },
});

t.test('every dtype edge-infer carries round-trips through a slot with its name, dims and head', async (t) => {
  const ring = openRing(createRing(1024));
  t.equal(ring.slotBytes, 1024);
  writeMessage(ring, 2, 'digits@int8', all(), 0.125);
  const m = readMessage(ring, 2, true);
  t.equal(m.head, 'digits@int8');
  t.equal(m.num, 0.125);
  t.same(Object.keys(m.tensors), Object.keys(all()));
  for (const [name, want] of Object.entries(all())) {
    const got = m.tensors[name];
    t.equal(got?.dtype, want.dtype, name);
    t.same(got?.dims, want.dims, name);
    t.same(Array.from(got?.data as ArrayLike<unknown>), Array.from(want.data as ArrayLike<unknown>), name);
    t.notOk(got?.data.buffer instanceof SharedArrayBuffer, `${name}: a copy the caller owns`);
  }
  const view = readMessage(ring, 2, false);
  t.ok(view.tensors.f?.data.buffer instanceof SharedArrayBuffer, 'copy false gives views on the slot');
});

t.test('slots are separate: writing one leaves the others intact', async (t) => {
  const ring = openRing(createRing(256));
  for (let s = 0; s < SLOTS; s++) writeMessage(ring, s, `s${s}`, { x: { dtype: 'float32', dims: [4], data: new Float32Array(4).fill(s) } });
  for (let s = 0; s < SLOTS; s++) {
    const m = readMessage(ring, s, true);
    t.equal(m.head, `s${s}`);
    t.same(Array.from(m.tensors.x?.data as Float32Array), [s, s, s, s]);
  }
});

t.test('fits says no to what a slot cannot hold or carry', async (t) => {
  const ring = openRing(createRing(256));
  const n = (count: number): NamedTensors => ({ x: { dtype: 'float32', dims: [count], data: new Float32Array(count) } });
  t.ok(fits(ring, '', n(32)));
  t.notOk(fits(ring, '', n(64)), '256 bytes of data plus its header is over 256');
  t.equal(messageBytes('', { ['x'.repeat(70_000)]: n(1).x! }), -1, 'a name over 64 KB');
  t.equal(messageBytes('', { x: { dtype: 'float32', dims: new Array(256).fill(1), data: new Float32Array(1) } }), -1, 'rank over 255');
  t.equal(messageBytes('', { x: { dtype: 'bool' as 'uint8', dims: [1], data: new Uint8Array(1) } }), -1, 'a dtype edge-infer does not carry');
});

t.test('a failure is cut to fit its slot and keeps its code', async (t) => {
  const ring = openRing(createRing(64));
  writeFailure(ring, 1, 'EDGE_ERR_INFERENCE_FAILED', 'x'.repeat(500));
  const head = readMessage(ring, 1, true).head;
  t.ok(head.startsWith('EDGE_ERR_INFERENCE_FAILED\n'));
  t.ok(Buffer.byteLength(head) <= 64 - 14);
});

t.test('slot sizes outside 64 B..64 MB (other than 0, off) are refused with EDGE_ERR_CONFIG_INVALID', async (t) => {
  checkSlotBytes(0);
  checkSlotBytes(64);
  for (const bad of [1, 63, 100.5, -64, 2 ** 27, Number.NaN]) t.throws(() => checkSlotBytes(bad), { code: 'EDGE_ERR_CONFIG_INVALID' }, String(bad));
});
