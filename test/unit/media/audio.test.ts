/** Issue 11: WAV / PCM decoding, streaming resampling and framing, and the event detector. Pure. */
import t from 'tap';
import { decodePcm, decodeWav, Framer, Resampler } from '../../../runtime/media/audio.js';
import { EventDetector } from '../../../runtime/events/detector.js';
import { wav16, wavHeader } from '../../helpers/media-models.js';

function wavFloatStereo(left: number[], right: number[], rate: number): Buffer {
  const data = Buffer.alloc(left.length * 8);
  left.forEach((v, i) => {
    data.writeFloatLE(v, i * 8);
    data.writeFloatLE(right[i] ?? 0, i * 8 + 4);
  });
  // 0xffffffff in the data size: a streaming writer's unknown length.
  return Buffer.concat([wavHeader({ format: 3, channels: 2, rate, bits: 32, dataBytes: data.length, dataSizeField: 0xffffffff }), data]);
}

t.test('WAV: 16-bit mono and float stereo (averaged) decode; malformed files get EDGE_ERR_BAD_AUDIO', async (t) => {
  const m = decodeWav(wav16(Float32Array.of(0, 0.5, -0.5, 1), 8000));
  t.equal(m.rate, 8000);
  t.same(
    Array.from(m.samples).map((v) => Math.round(v * 1000) / 1000),
    [0, 0.5, -0.5, 1],
  );
  const s = decodeWav(wavFloatStereo([1, 0.5], [0, -0.5], 44100));
  t.same(Array.from(s.samples), [0.5, 0], 'channels averaged; data length past the end cut to the file');
  const code = (f: () => unknown): string => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  t.equal(
    code(() => decodeWav(Buffer.from('RIFF\0\0\0\0WAVE'))),
    'EDGE_ERR_BAD_AUDIO',
    'no data chunk',
  );
  t.equal(
    code(() => decodeWav(Buffer.from('not a wav at all'))),
    'EDGE_ERR_BAD_AUDIO',
  );
  const odd = wav16(Float32Array.of(0, 0), 8000);
  odd.writeUInt16LE(12, 34);
  t.equal(
    code(() => decodeWav(odd)),
    'EDGE_ERR_BAD_AUDIO',
    '12-bit',
  );
  const slow = wav16(Float32Array.of(0, 0), 8000);
  slow.writeUInt32LE(10, 24);
  t.equal(
    code(() => decodeWav(slow)),
    'EDGE_ERR_BAD_AUDIO',
    '10 Hz',
  );
  t.equal(
    code(() => decodePcm(Buffer.alloc(3), 16000, 's16le')),
    'EDGE_ERR_BAD_AUDIO',
    'odd bytes',
  );
  t.equal(
    code(() => decodePcm(Buffer.alloc(4), 16000, 'mp3')),
    'EDGE_ERR_BAD_AUDIO',
    'unknown format',
  );
  const nan = Buffer.alloc(4);
  nan.writeFloatLE(Number.NaN, 0);
  t.equal(
    code(() => decodePcm(nan, 16000, 'f32le')),
    'EDGE_ERR_BAD_AUDIO',
    'NaN sample',
  );
  t.same(
    Array.from(decodePcm(Buffer.from([0, 128, 255]), 8000, 'u8').samples).map((v) => Math.round(v * 100) / 100),
    [-1, 0, 0.99],
  );
});

t.test('resampling in chunks equals resampling the whole; 48 -> 16 kHz keeps a tone and its length', async (t) => {
  const n = 48000;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 48000));
  const whole = new Resampler(48000, 16000).push(x);
  const r = new Resampler(48000, 16000);
  const parts: number[] = [];
  for (let o = 0; o < n; o += 4799) parts.push(...r.push(x.subarray(o, o + 4799)));
  t.equal(parts.length, whole.length);
  t.ok(
    parts.every((v, i) => Math.abs(v - (whole[i] as number)) < 1e-6),
    'same samples',
  );
  t.ok(Math.abs(whole.length - 16000) <= 1, `${whole.length} samples for one second`);
  // The 3-tap box low-pass centres output j on input 3j - 1 and scales 440 Hz by (1 + 2 cos w) / 3.
  const w = (2 * Math.PI * 440) / 48000;
  const gain = (1 + 2 * Math.cos(w)) / 3;
  const expect = Array.from({ length: 100 }, (_, i) => gain * Math.sin(w * ((i + 100) * 3 - 1)));
  const err = Math.max(...expect.map((v, i) => Math.abs(v - (whole[i + 100] as number))));
  t.ok(err < 1e-4, `tone preserved (max error ${err.toFixed(3)})`);
  const up = new Resampler(8000, 16000).push(Float32Array.of(0, 1, 0, -1));
  t.same(
    Array.from(up).map((v) => Math.round(v * 10) / 10),
    [0, 0.5, 1, 0.5, 0, -0.5, -1],
    'linear upsampling',
  );
});

t.test('framing keeps the remainder for the next chunk and prepends context', async (t) => {
  const f = new Framer(4, 2);
  const a = f.push(Float32Array.of(1, 2, 3, 4, 5, 6));
  t.same(
    a.map((x) => Array.from(x)),
    [[0, 0, 1, 2, 3, 4]],
  );
  t.equal(f.pending, 2);
  const b = f.push(Float32Array.of(7, 8, 9));
  t.same(
    b.map((x) => Array.from(x)),
    [[3, 4, 5, 6, 7, 8]],
  );
  t.equal(f.pending, 1);
  t.same(f.push(new Float32Array(0)), []);
});

t.test('threshold events: hysteresis and minimum frames, only transitions', async (t) => {
  const d = new EventDetector([{ kind: 'threshold', output: 'p', on: 0.5, off: 0.3, minOnFrames: 2, minOffFrames: 3 }]);
  const frames = (xs: number[]) => xs.map((p) => ({ p: [p] }));
  t.same(
    d.push(frames([0.1, 0.6, 0.2, 0.6, 0.7, 0.9])).map((e) => [e.event, e.frame]),
    [['start', 4]],
    'one frame above is not enough',
  );
  t.ok(d.active);
  t.same(
    d.push(frames([0.4, 0.2, 0.2, 0.35, 0.1, 0.1, 0.1, 0.1])).map((e) => [e.event, e.frame]),
    [['end', 6]],
    'between off and on breaks the run',
  );
  t.same(d.push(frames([0.2, 0.1])), [], 'nothing while it stays inactive');
});

t.test('top-1 change events hold N frames', async (t) => {
  const d = new EventDetector([{ kind: 'top1-change', output: 'y', holdFrames: 2, event: 'class' }], ['cat', 'dog']);
  const f = (rows: number[][]) => rows.map((y) => ({ y }));
  const ev = d.push(
    f([
      [1, 0],
      [1, 0],
      [1, 0],
      [0, 1],
      [1, 0],
      [0, 1],
      [0, 1],
    ]),
  );
  t.same(
    ev.map((e) => [e.event, e.label, e.frame]),
    [
      ['class', 'cat', 1],
      ['class', 'dog', 6],
    ],
  );
});
