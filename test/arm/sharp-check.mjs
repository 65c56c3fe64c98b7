// Issue 11: sharp's prebuilt addon for an ARM arch, under emulation. `npm install --cpu=arm64
// --os=linux --libc=glibc sharp@0.35.5` (or --cpu=arm) in a scratch <dir>, then
// `.ci/pi-emu arm64 -- node test/arm/sharp-check.mjs <dir>`: decodes the JPEG and PNG that
// media-check.mjs uses with that sharp, applies edge-infer's preprocessing, and prints the sums
// (compare with `node test/arm/sharp-check.mjs node_modules/..` on x86, i.e. the project's own sharp).
import { createRequire } from 'node:module';
import path from 'node:path';
import { preprocessImage } from '../../dist/runtime/media/image-preprocess.js';
import { encodeJpeg, encodePng, halfPicture } from '../../dist/test/helpers/media-models.js';

const dir = path.resolve(process.argv[2] ?? '.');
const sharp = createRequire(path.join(dir, 'x.js'))('sharp');
sharp.concurrency(1);
const spec = { kind: 'image', input: 'x', width: 28, height: 28, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'float32', scale: 1 / 255 };
const pic = halfPicture(640, 480, 'left');
const decode = async (b) => {
  const { data, info } = await sharp(b, { failOn: 'warning' }).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), format: 'x' };
};
const sum = (t) => Math.round(Array.from(t.data).reduce((a, b) => a + b, 0) * 1e4) / 1e4;
const out = { arch: process.arch, sharp: sharp.versions };
out.jpegGrey = sum(preprocessImage(await decode(encodeJpeg(pic, 640, 480)), spec));
out.pngGrey = sum(preprocessImage(await decode(encodePng(pic, 640, 480, 2)), spec));
try {
  await decode(encodeJpeg(pic, 640, 480).subarray(0, 20000));
  out.truncated = 'decoded';
} catch {
  out.truncated = 'refused';
}
console.log(JSON.stringify(out));
