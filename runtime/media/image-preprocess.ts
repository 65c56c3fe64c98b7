/**
 * RGBA pixels -> the model's input tensor, as the manifest's ImageSpec declares. Pure.
 *
 * Steps: alpha composited over black; resize (stretch: to width x height; letterbox: fit inside,
 * centred, the rest `pad`; centre-crop: cover, then the centre) with area averaging when shrinking
 * (each output pixel is the mean of the source pixels it covers, so a 640x480 photo shrunk to 28x28
 * does not alias) and bilinear sampling when enlarging; colour rgb / bgr / grey (luma
 * 0.299 R + 0.587 G + 0.114 B); invert (v -> 255 - v); then per channel (v * scale - mean) / std;
 * dtype float32, or uint8 (rounded and clamped, scale/mean/std ignored).
 */
import type { ImageSpec } from '../preprocess/types.js';
import type { Tensor } from '../tensor.js';
import type { RgbaImage } from './image-decode.js';

/** Where the source rectangle maps into the output: scaled size and offset (letterbox) or the source crop (centre-crop). */
interface Placement {
  /** Source rectangle, pixels (fractional). */
  sx: number;
  sy: number;
  sw: number;
  sh: number;
  /** Destination rectangle inside the output, whole pixels. */
  dx: number;
  dy: number;
  dw: number;
  dh: number;
}

function placement(srcW: number, srcH: number, spec: ImageSpec): Placement {
  const W = spec.width,
    H = spec.height;
  if (spec.resize === 'letterbox') {
    const s = Math.min(W / srcW, H / srcH);
    const dw = Math.max(1, Math.round(srcW * s)),
      dh = Math.max(1, Math.round(srcH * s));
    return { sx: 0, sy: 0, sw: srcW, sh: srcH, dx: Math.floor((W - dw) / 2), dy: Math.floor((H - dh) / 2), dw, dh };
  }
  if (spec.resize === 'centre-crop') {
    const s = Math.max(W / srcW, H / srcH);
    const sw = W / s,
      sh = H / s;
    return { sx: (srcW - sw) / 2, sy: (srcH - sh) / 2, sw, sh, dx: 0, dy: 0, dw: W, dh: H };
  }
  return { sx: 0, sy: 0, sw: srcW, sh: srcH, dx: 0, dy: 0, dw: W, dh: H };
}

/**
 * Resamples one axis: for each of `n` outputs, the source indices and weights covering
 * [start + i * step, start + (i+1) * step). Area weights when step >= 1, bilinear otherwise.
 */
function axisWeights(start: number, len: number, n: number, srcLen: number): { idx: Int32Array; w: Float32Array; off: Int32Array } {
  const step = len / n;
  const idx: number[] = [],
    w: number[] = [];
  const off = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    off[i] = idx.length;
    if (step >= 1) {
      const a = start + i * step,
        b = a + step;
      let total = 0;
      for (let s = Math.floor(a); s < Math.ceil(b); s++) {
        const cover = Math.min(b, s + 1) - Math.max(a, s);
        if (cover <= 0) continue;
        idx.push(Math.min(srcLen - 1, Math.max(0, s)));
        w.push(cover);
        total += cover;
      }
      for (let k = off[i] as number; k < idx.length; k++) w[k] = (w[k] as number) / total;
    } else {
      const c = Math.min(srcLen - 1, Math.max(0, start + (i + 0.5) * step - 0.5));
      const s0 = Math.floor(c),
        f = c - s0;
      idx.push(s0);
      w.push(1 - f);
      if (f > 0 && s0 + 1 < srcLen) {
        idx.push(s0 + 1);
        w.push(f);
      }
    }
  }
  off[n] = idx.length;
  return { idx: Int32Array.from(idx), w: Float32Array.from(w), off };
}

/** Resizes the placed part of `img` to dw x dh, 3 channels (RGB, alpha over black), float 0..255. */
function resizeRgb(img: RgbaImage, p: Placement): Float32Array {
  const xs = axisWeights(p.sx, p.sw, p.dw, img.width);
  const ys = axisWeights(p.sy, p.sh, p.dh, img.height);
  // Horizontal pass over only the source rows the vertical pass reads.
  const rows = new Map<number, Float32Array>();
  const row = (y: number): Float32Array => {
    let r = rows.get(y);
    if (r !== undefined) return r;
    r = new Float32Array(p.dw * 3);
    const base = y * img.width * 4;
    const d = img.data;
    for (let x = 0; x < p.dw; x++) {
      let R = 0,
        G = 0,
        B = 0;
      for (let k = xs.off[x] as number; k < (xs.off[x + 1] as number); k++) {
        const o = base + (xs.idx[k] as number) * 4;
        const wa = ((xs.w[k] as number) * (d[o + 3] as number)) / 255;
        R += (d[o] as number) * wa;
        G += (d[o + 1] as number) * wa;
        B += (d[o + 2] as number) * wa;
      }
      r[x * 3] = R;
      r[x * 3 + 1] = G;
      r[x * 3 + 2] = B;
    }
    rows.set(y, r);
    return r;
  };
  const out = new Float32Array(p.dw * p.dh * 3);
  for (let y = 0; y < p.dh; y++) {
    for (let k = ys.off[y] as number; k < (ys.off[y + 1] as number); k++) {
      const r = row(ys.idx[k] as number),
        wy = ys.w[k] as number;
      const o = y * p.dw * 3;
      for (let i = 0; i < p.dw * 3; i++) out[o + i] = (out[o + i] as number) + (r[i] as number) * wy;
    }
  }
  return out;
}

/** The number of channels the spec's colour mode produces. */
export function imageChannels(spec: Pick<ImageSpec, 'colour'>): number {
  return spec.colour === 'grey' ? 1 : 3;
}

/** The input tensor's dims for one image: [1, C, H, W] or [1, H, W, C]. */
export function imageDims(spec: ImageSpec): number[] {
  const c = imageChannels(spec);
  return spec.layout === 'NCHW' ? [1, c, spec.height, spec.width] : [1, spec.height, spec.width, c];
}

export function preprocessImage(img: RgbaImage, spec: ImageSpec): Tensor {
  const p = placement(img.width, img.height, spec);
  const rgb = resizeRgb(img, p);
  const W = spec.width,
    H = spec.height,
    C = imageChannels(spec);
  const n = W * H * C;
  const pad = spec.pad ?? 0;
  const scale = spec.scale ?? 1 / 255;
  const mean = spec.mean ?? [0];
  const std = spec.std ?? [1];
  const float = spec.dtype !== 'uint8';
  const out = float ? new Float32Array(n) : new Uint8Array(n);
  const order = spec.colour === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x >= p.dx && x < p.dx + p.dw && y >= p.dy && y < p.dy + p.dh;
      const s = ((y - p.dy) * p.dw + (x - p.dx)) * 3;
      for (let c = 0; c < C; c++) {
        let v: number;
        if (!inside) v = pad;
        else if (C === 1) v = 0.299 * (rgb[s] as number) + 0.587 * (rgb[s + 1] as number) + 0.114 * (rgb[s + 2] as number);
        else v = rgb[s + (order[c] as number)] as number;
        if (spec.invert === true) v = 255 - v;
        const at = spec.layout === 'NCHW' ? c * H * W + y * W + x : (y * W + x) * C + c;
        if (float) out[at] = (v * scale - (mean[c % mean.length] as number)) / (std[c % std.length] as number);
        else out[at] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return float ? { dtype: 'float32', dims: imageDims(spec), data: out as Float32Array } : { dtype: 'uint8', dims: imageDims(spec), data: out as Uint8Array };
}
