import t from 'tap';
import { packInt4 } from '../../../runtime/optimize/quantize-int4.js';

t.test('int4 packing matches a hand-computed case (K=4 padded to one block of 16, N=2)', async (t) => {
  // column 0: [-1, 0, 1, 2] -> lo -1, hi 2, scale 0.2, zp 5, q = round(v/0.2)+5 = [0, 5, 10, 15]
  // column 1: [0, 0, 0, 0] -> scale 1 (all zero), zp 0, q = 0
  const w = new Float32Array([-1, 0, 0, 0, 1, 0, 2, 0]);
  const p = packInt4(w, 4, 2, 16);
  t.equal(p.kBlocks, 1);
  t.equal(p.blobSize, 8);
  t.same(Array.from(p.packed.subarray(0, 8)), [0x50, 0xf0 | 10, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55], 'low nibble first; padding holds the zero point');
  t.same(Array.from(p.packed.subarray(8, 16)), [0, 0, 0, 0, 0, 0, 0, 0]);
  t.ok(Math.abs((p.scales[0] as number) - 0.2) < 1e-6);
  t.equal(p.scales[1], 1);
  t.same(Array.from(p.zeroPoints), [5, 0]);
});

t.test('int4 zero points pack two blocks per byte, low nibble first', async (t) => {
  // K=48, block 16 -> 3 blocks per column; N=1. Block b holds values in [-(b+1), 0] -> zp 15 each.
  const w = new Float32Array(48);
  for (let k = 0; k < 48; k++) w[k] = -((k >> 4) + 1) * ((k % 16) / 15);
  const p = packInt4(w, 48, 1, 16);
  t.equal(p.kBlocks, 3);
  t.same(Array.from(p.zeroPoints), [0xff, 0x0f]);
  t.equal(p.packed.length, 3 * 8);
});
