/**
 * Issue 11, images without a broker: header limits, decoding, the manifest's preprocessing and the
 * worker pool, on JPEG / PNG files made here; every hostile image gets its code.
 */
import t from 'tap';
import { decodeImage, imageDecoder } from '../runtime/media/image-decode.js';
import { readImageHeader } from '../runtime/media/image-header.js';
import { preprocessImage } from '../runtime/media/image-preprocess.js';
import { MediaPool } from '../runtime/media/media-pool.js';
import type { ImageSpec } from '../runtime/preprocess/types.js';
import { encodeJpeg, encodePng, halfPicture } from './helpers/media-models.js';
import { jpegWithDims, pngBomb, pngHeaderOnly } from './helpers/hostile-images.js';

const MAX = 16_000_000;
const grey28: ImageSpec = { kind: 'image', input: 'x', width: 28, height: 28, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'float32', scale: 1 / 255 };
const photo = halfPicture(640, 480, 'left');
const jpg = encodeJpeg(photo, 640, 480);
const png = encodePng(photo, 640, 480);

function halfMeans(data: ArrayLike<number>, w: number, h: number): [number, number] {
  let l = 0,
    r = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (x < w / 2) l += data[y * w + x] as number;
      else r += data[y * w + x] as number;
    }
  return [l / ((w * h) / 2), r / ((w * h) / 2)];
}

t.test('headers give format and size without decoding', async (t) => {
  t.same(readImageHeader(jpg, MAX), { format: 'jpeg', width: 640, height: 480 });
  t.same(readImageHeader(png, MAX), { format: 'png', width: 640, height: 480 });
});

t.test('sharp loads here (the JS decoders are the fallback)', async (t) => {
  t.equal(await imageDecoder(), 'sharp');
});

for (const use of ['sharp', 'js'] as const)
  t.test(`${use}: a 640x480 JPEG and PNG become the declared grey 28x28 tensor (bright half stays bright)`, async (t) => {
    for (const [name, bytes] of [
      ['jpeg', jpg],
      ['png', png],
    ] as const) {
      const tensor = preprocessImage(await decodeImage(bytes, MAX, use), grey28);
      t.same(tensor.dims, [1, 1, 28, 28], name);
      const [l, r] = halfMeans(tensor.data as Float32Array, 28, 28);
      const luma = (0.299 * 230 + 0.587 * 200 + 0.114 * 120) / 255;
      t.ok(Math.abs(l - luma) < 0.03, `${name}: left half ${l.toFixed(3)} ~ ${luma.toFixed(3)}`);
      t.ok(r < 0.15, `${name}: right half dark (${r.toFixed(3)})`);
    }
  });

t.test('resize modes, colour order, layout, invert, mean/std and uint8 on a 4x2 image', async (t) => {
  // Left 2x2 red, right 2x2 blue.
  const rgba = new Uint8Array(4 * 2 * 4);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) rgba.set(x < 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], (y * 4 + x) * 4);
  const img = { width: 4, height: 2, data: rgba, format: 'png' as const };
  const base: ImageSpec = { kind: 'image', input: 'x', width: 2, height: 2, resize: 'stretch', colour: 'rgb', layout: 'NCHW', dtype: 'uint8' };
  t.same(Array.from(preprocessImage(img, base).data as Uint8Array), [255, 0, 255, 0, 0, 0, 0, 0, 0, 255, 0, 255], 'stretch NCHW rgb');
  t.same(Array.from(preprocessImage(img, { ...base, colour: 'bgr', layout: 'NHWC' }).data as Uint8Array), [0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 0, 0], 'NHWC bgr');
  t.same(Array.from(preprocessImage(img, { ...base, resize: 'centre-crop', colour: 'grey' }).data as Uint8Array), [76, 29, 76, 29], 'centre-crop keeps the middle two columns');
  const lb = preprocessImage(img, { ...base, width: 4, height: 4, resize: 'letterbox', colour: 'grey', pad: 7 });
  t.same(Array.from(lb.data as Uint8Array), [7, 7, 7, 7, 76, 76, 29, 29, 76, 76, 29, 29, 7, 7, 7, 7], 'letterbox pads top and bottom');
  const f = preprocessImage(img, { ...base, colour: 'grey', dtype: 'float32', invert: true, scale: 1 / 255, mean: [0.5], std: [0.5] });
  t.same(
    Array.from(f.data as Float32Array).map((v) => Math.round(v * 100) / 100),
    [0.4, 0.77, 0.4, 0.77],
    'invert then (v/255 - 0.5) / 0.5',
  );
  const tr = new Uint8Array(rgba);
  for (let i = 3; i < tr.length; i += 4) tr[i] = 0;
  t.same(Array.from(preprocessImage({ ...img, data: tr }, base).data as Uint8Array), new Array(12).fill(0), 'transparent pixels are black');
});

for (const use of ['sharp', 'js'] as const)
  t.test(`${use}: hostile images: coded errors, limits checked from the header before decoding`, async (t) => {
    const code = async (b: Uint8Array, max = MAX): Promise<string> => {
      try {
        await decodeImage(b, max, use);
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    t.equal(await code(Buffer.from('GIF89a not an image we take')), 'EDGE_ERR_BAD_IMAGE', 'not an image');
    t.equal(await code(Buffer.alloc(0)), 'EDGE_ERR_BAD_IMAGE', 'empty');
    t.equal(await code(jpg.subarray(0, 200)), 'EDGE_ERR_BAD_IMAGE', 'JPEG cut inside its headers');
    t.equal(await code(jpg.subarray(0, Math.floor(jpg.length / 2))), 'EDGE_ERR_BAD_IMAGE', 'JPEG cut in its scan data');
    t.equal(await code(png.subarray(0, Math.floor(png.length / 2))), 'EDGE_ERR_BAD_IMAGE', 'PNG cut in its data');
    t.equal(await code(png.subarray(0, 20)), 'EDGE_ERR_BAD_IMAGE', 'PNG cut in its header');
    t.equal(await code(pngHeaderOnly(0, 10)), 'EDGE_ERR_BAD_IMAGE', 'zero width');
    t.equal(await code(pngHeaderOnly(0xffffffff, 0xffffffff)), 'EDGE_ERR_TOO_LARGE', 'absurd PNG dimensions');
    t.equal(await code(jpegWithDims(jpg, 65535, 65535)), 'EDGE_ERR_TOO_LARGE', 'absurd JPEG dimensions');
    t.equal(await code(jpegWithDims(jpg, 6400, 4800)), 'EDGE_ERR_TOO_LARGE', 'a JPEG claiming more pixels than it holds, over the limit');
    t.equal(await code(jpg, 100_000), 'EDGE_ERR_TOO_LARGE', 'a real 640x480 over a 0.1 MP limit');
    const bomb = pngBomb();
    t.ok(bomb.length < 1_000_000, `the 20000 x 20000 PNG is ${bomb.length} bytes`);
    const rss0 = process.memoryUsage().rss;
    t.equal(await code(bomb), 'EDGE_ERR_TOO_LARGE', '20000 x 20000 PNG bomb');
    t.ok(process.memoryUsage().rss - rss0 < 50e6, 'no pixel buffer was allocated for it');
  });

t.test('the pool decodes in a worker thread; errors come back with their codes; the pool stays usable', async (t) => {
  const pool = new MediaPool({ threads: 1, maxPending: 4 });
  t.teardown(() => pool.close());
  const direct = preprocessImage(await decodeImage(jpg, MAX), grey28);
  const viaPool = await pool.image(jpg, grey28, MAX);
  t.same(viaPool.dims, direct.dims);
  t.same(Array.from(viaPool.data as Float32Array), Array.from(direct.data as Float32Array), 'same tensor as on this thread');
  await t.rejects(pool.image(pngBomb(), grey28, MAX), { code: 'EDGE_ERR_TOO_LARGE' });
  await t.rejects(pool.image(Buffer.from('nope'), grey28, MAX), { code: 'EDGE_ERR_BAD_IMAGE' });
  const many = Array.from({ length: 6 }, () =>
    pool.image(png, grey28, MAX).then(
      () => 'ok',
      (e: { code: string }) => e.code,
    ),
  );
  const codes = await Promise.all(many);
  t.same(codes.filter((c) => c === 'ok').length, 4, 'four fit in the pool');
  t.same(codes.filter((c) => c === 'EDGE_ERR_OVERLOADED').length, 2, 'the rest are refused, not queued without bound');
  t.ok((await pool.image(png, grey28, MAX)).dims.length === 4, 'still serving');
});
