// Issue 11 under emulated ARM (.ci/pi-emu arm64|armv7 -- node test/arm/media-check.mjs): decodes and
// preprocesses a JPEG and a PNG made here (jpeg-js / pngjs encoders: the same bytes on every arch)
// through the media pool's worker, and resamples/frames 1 s of 48 kHz audio, then prints the decoder
// used and the tensors' sums as JSON. Compare with the same script on x86 with
// EDGE_INFER_IMAGE_DECODER=js (where sharp's @img package for the arch is not installed, the JS
// decoders run there too). Needs a build (dist/).
import { MediaPool } from '../../dist/runtime/media/media-pool.js';
import { imageDecoder } from '../../dist/runtime/media/image-decode.js';
import { Framer, Resampler } from '../../dist/runtime/media/audio.js';
import { encodeJpeg, encodePng, halfPicture, utterances } from '../../dist/test/helpers/media-models.js';

const spec = { kind: 'image', input: 'x', width: 28, height: 28, resize: 'stretch', colour: 'grey', layout: 'NCHW', dtype: 'float32', scale: 1 / 255 };
const rgb = { ...spec, width: 64, height: 48, resize: 'letterbox', colour: 'rgb', layout: 'NHWC', mean: [0.5], std: [0.25] };
const pic = halfPicture(640, 480, 'left');
const pool = new MediaPool();
const sum = (t) => Math.round(Array.from(t.data).reduce((a, b) => a + b, 0) * 1e4) / 1e4;
const out = { arch: process.arch, decoder: await imageDecoder() };
out.jpegGrey = sum(await pool.image(encodeJpeg(pic, 640, 480), spec, 16e6));
out.pngGrey = sum(await pool.image(encodePng(pic, 640, 480, 2), spec, 16e6));
out.pngRgbLetterbox = sum(await pool.image(encodePng(pic, 640, 480, 6), rgb, 16e6));
try {
  await pool.image(Buffer.from('nope'), spec, 16e6);
} catch (e) {
  out.badImage = e.code;
}
await pool.close();
const r = new Resampler(48000, 16000);
const f = new Framer(512);
const x = utterances(48000, [200, 500, 300]);
let frames = 0,
  total = 0;
for (let o = 0; o < x.length; o += 4800)
  for (const fr of f.push(r.push(x.subarray(o, o + 4800)))) {
    frames++;
    total += fr.reduce((a, b) => a + Math.abs(b), 0);
  }
out.audioFrames = frames;
out.audioAbsSum = Math.round(total * 1e4) / 1e4;
console.log(JSON.stringify(out));
