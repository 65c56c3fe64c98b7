/**
 * Audio payloads -> mono float samples at the model's rate, and framing with a per-stream
 * remainder. Pure.
 *
 * - WAV (`audio/wav`): RIFF/WAVE with a `fmt ` chunk of PCM 8-bit unsigned, 16/24/32-bit signed or
 *   IEEE float 32-bit (format 1, 3, or 0xFFFE extensible with those), 1..8 channels (averaged to
 *   mono), then the `data` chunk (a data length past the end of the file is cut to what is there,
 *   as streaming writers leave it 0 or 0xFFFFFFFF).
 * - Raw PCM (`audio/pcm`): user property `rate` (Hz, 1000..384000) and `format` (`s16le` default,
 *   `f32le`, `u8`), mono.
 * Errors: EDGE_ERR_BAD_AUDIO for anything malformed (odd byte counts, unknown format, no data chunk,
 * rate out of range, non-finite float samples).
 *
 * Resampling is linear interpolation after a box low-pass as wide as the decimation step when
 * going down (48 kHz -> 16 kHz averages 3 samples), so the position of each output sample is
 * exact and chunk boundaries are handled by `Resampler` keeping its phase and last input sample.
 */
import { EdgeError } from '../errors.js';

export const PCM_FORMATS = ['s16le', 'f32le', 'u8'] as const;
export type PcmFormat = (typeof PCM_FORMATS)[number];

export interface Pcm {
  rate: number;
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
}

function bad(message: string, details?: Record<string, unknown>): EdgeError {
  return new EdgeError('EDGE_ERR_BAD_AUDIO', message, details === undefined ? {} : { details });
}

export function checkRate(rate: number): number {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 384000) throw bad(`sample rate ${rate} must be an integer from 1000 to 384000 Hz`, { rate });
  return rate;
}

function readSamples(b: Uint8Array, bits: number, float: boolean, channels: number): Float32Array {
  const bytes = bits / 8;
  const frameBytes = bytes * channels;
  const frames = Math.floor(b.byteLength / frameBytes);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const o = f * frameBytes + c * bytes;
      let v: number;
      if (float) v = dv.getFloat32(o, true);
      else if (bits === 8) v = ((b[o] as number) - 128) / 128;
      else if (bits === 16) v = dv.getInt16(o, true) / 32768;
      else if (bits === 24) v = (((b[o + 2] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o] as number) << 8)) / 2147483648;
      else v = dv.getInt32(o, true) / 2147483648;
      if (!Number.isFinite(v)) throw bad(`sample ${f} is not a finite number`, { index: f });
      sum += v;
    }
    out[f] = sum / channels;
  }
  return out;
}

/** Raw PCM bytes -> mono samples. */
export function decodePcm(bytes: Uint8Array, rate: number, format: string): Pcm {
  checkRate(rate);
  if (!(PCM_FORMATS as readonly string[]).includes(format)) throw bad(`PCM format "${format.slice(0, 32)}" is not one of ${PCM_FORMATS.join(', ')}`, { format: format.slice(0, 32) });
  const size = format === 'u8' ? 1 : format === 's16le' ? 2 : 4;
  if (bytes.byteLength % size !== 0) throw bad(`${bytes.byteLength} bytes is not a whole number of ${format} samples`, { bytes: bytes.byteLength });
  return { rate, samples: readSamples(bytes, size * 8, format === 'f32le', 1) };
}

/** A whole WAV file -> mono samples at its own rate. */
export function decodeWav(b: Uint8Array): Pcm {
  const ascii = (o: number): string => String.fromCharCode(b[o] as number, b[o + 1] as number, b[o + 2] as number, b[o + 3] as number);
  if (b.byteLength < 12 || ascii(0) !== 'RIFF' || ascii(8) !== 'WAVE') throw bad('payload is not a RIFF/WAVE file');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  let o = 12;
  while (o + 8 <= b.byteLength) {
    const id = ascii(o);
    const len = dv.getUint32(o + 4, true);
    const body = o + 8;
    if (id === 'fmt ') {
      if (len < 16 || body + 16 > b.byteLength) throw bad('WAV fmt chunk is too short');
      let format = dv.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && len >= 26 && body + 26 <= b.byteLength) format = dv.getUint16(body + 24, true);
      fmt = { format, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (fmt === null) throw bad('WAV data chunk comes before its fmt chunk');
      const { format, channels, rate, bits } = fmt;
      const details = { format, channels, rate, bits };
      checkRate(rate);
      if (channels < 1 || channels > 8) throw bad(`WAV with ${channels} channels (1..8 supported)`, details);
      const pcmOk = format === 1 && [8, 16, 24, 32].includes(bits);
      const floatOk = format === 3 && bits === 32;
      if (!pcmOk && !floatOk) throw bad(`WAV format ${format} with ${bits} bits is not PCM 8/16/24/32 or float 32`, details);
      const end = Math.min(b.byteLength, body + len);
      return { rate, samples: readSamples(b.subarray(body, end), bits, floatOk, channels) };
    }
    o = body + len + (len % 2);
  }
  throw bad('WAV has no data chunk');
}

/**
 * Streaming resampler from `from` Hz to `to` Hz. Feeding chunks one after another gives the same
 * samples as feeding their concatenation (the phase and the last input sample carry over).
 */
export class Resampler {
  readonly from: number;
  readonly to: number;
  /** Position of the next output sample, in input samples, relative to the next input chunk. */
  #pos = 0;
  #prev = 0;
  #hasPrev = false;
  readonly #box: number;
  readonly #tail: number[] = [];

  constructor(from: number, to: number) {
    this.from = from;
    this.to = to;
    this.#box = from > to ? Math.max(1, Math.round(from / to)) : 1;
  }

  push(input: Float32Array): Float32Array {
    if (this.from === this.to) return input;
    // Box low-pass (moving average over #box samples, carried across chunks).
    let x = input;
    if (this.#box > 1) {
      const all = new Float32Array(this.#tail.length + input.length);
      all.set(this.#tail);
      all.set(input, this.#tail.length);
      const k = this.#box;
      x = new Float32Array(input.length);
      let acc = 0;
      for (let i = 0; i < all.length; i++) {
        acc += all[i] as number;
        if (i >= k) acc -= all[i - k] as number;
        const j = i - this.#tail.length;
        if (j >= 0) x[j] = acc / Math.min(k, i + 1);
      }
      this.#tail.splice(0, this.#tail.length, ...Array.from(all.subarray(Math.max(0, all.length - (k - 1)))));
    }
    const step = this.from / this.to;
    const out = new Float32Array(Math.max(0, Math.ceil((x.length - this.#pos) / step) + 1));
    let n = 0;
    // Sample at position p in [-1, x.length - 1]: index -1 is the previous chunk's last sample.
    const at = (i: number): number => (i < 0 ? (this.#hasPrev ? this.#prev : (x[0] ?? 0)) : (x[i] as number));
    let p = this.#pos;
    while (p <= x.length - 1) {
      const i = Math.floor(p),
        f = p - i;
      out[n++] = f === 0 ? at(i) : at(i) * (1 - f) + at(i + 1) * f;
      p += step;
    }
    if (x.length > 0) {
      this.#prev = x[x.length - 1] as number;
      this.#hasPrev = true;
    }
    this.#pos = p - x.length;
    return out.subarray(0, n);
  }
}

/**
 * Cuts samples into frames of `frameSamples`, keeping the remainder for the next push. With
 * `contextSamples` > 0 each frame is preceded by the last `contextSamples` of the stream before it
 * (zeros at the start), as silero VAD v5 expects; the emitted frame is then context + frame long.
 */
export class Framer {
  readonly #frame: number;
  readonly #context: number;
  #rest: Float32Array = new Float32Array(0);
  #ctx: Float32Array;

  constructor(frameSamples: number, contextSamples = 0) {
    this.#frame = frameSamples;
    this.#context = contextSamples;
    this.#ctx = new Float32Array(contextSamples);
  }

  /** Samples waiting for the next frame. */
  get pending(): number {
    return this.#rest.length;
  }

  push(samples: Float32Array): Float32Array[] {
    const all = new Float32Array(this.#rest.length + samples.length);
    all.set(this.#rest);
    all.set(samples, this.#rest.length);
    const frames: Float32Array[] = [];
    let o = 0;
    for (; o + this.#frame <= all.length; o += this.#frame) {
      const body = all.subarray(o, o + this.#frame);
      if (this.#context === 0) {
        frames.push(body.slice());
        continue;
      }
      const f = new Float32Array(this.#context + this.#frame);
      f.set(this.#ctx);
      f.set(body, this.#context);
      frames.push(f);
      this.#ctx = body.slice(this.#frame - this.#context);
    }
    this.#rest = all.slice(o);
    return frames;
  }
}
