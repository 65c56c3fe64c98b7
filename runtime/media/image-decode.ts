/**
 * JPEG / PNG bytes -> RGBA pixels. The only importer of sharp, jpeg-js and pngjs.
 *
 * Choice, by measurement (bench/media.ts; README "Images: decoder choice"): sharp (libvips, native,
 * prebuilt @img/sharp-<platform> packages from npm, nothing downloaded at install) decodes a 640x480
 * JPEG about 25x faster than jpeg-js here, and PNG about 2x faster than pngjs, at the same peak RSS;
 * it costs ~19 MB installed per platform (linux-arm needs glibc >= 2.36: Pi OS bookworm). jpeg-js +
 * pngjs (0.7 MB, pure JavaScript) are the fallback wherever sharp's native addon does not load
 * (no prebuilt for the platform, older glibc, ARMv6), so images work on every board we support.
 * `EDGE_INFER_IMAGE_DECODER=js` forces the fallback (tests compare both).
 *
 * Contract: the header is checked first (readImageHeader: EDGE_ERR_BAD_IMAGE / EDGE_ERR_TOO_LARGE
 * before any pixel buffer exists); a decoder failure (truncated, corrupt) is EDGE_ERR_BAD_IMAGE.
 * Memory is bounded by maxPixels * 4 bytes plus the decoder's working set (both decoders are also
 * given the pixel limit, so a header/body mismatch cannot make them allocate more). EXIF
 * orientation is not applied.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { EdgeError, isEdgeError } from '../errors.js';
import { readImageHeader, type ImageFormat } from './image-header.js';

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major RGBA. */
  data: Uint8Array;
  format: ImageFormat;
}

export type ImageDecoder = 'sharp' | 'js';

interface SharpInstance {
  ensureAlpha(): SharpInstance;
  toColourspace(c: string): SharpInstance;
  raw(o?: { depth: string }): SharpInstance;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type SharpModule = (input: Uint8Array, o: { limitInputPixels: number; failOn: string; sequentialRead: boolean }) => SharpInstance;

let sharpModule: Promise<SharpModule | null> | null = null;

/** sharp, or null when its native addon does not load here (then jpeg-js / pngjs decode). */
function loadSharp(): Promise<SharpModule | null> {
  sharpModule ??=
    process.env['EDGE_INFER_IMAGE_DECODER'] === 'js'
      ? Promise.resolve(null)
      : import('sharp').then(
          (m) => {
            const s = m.default as unknown as SharpModule & { concurrency(n: number): number };
            // One libvips thread: the decode already runs on a pool thread next to inference threads.
            s.concurrency(1);
            return s;
          },
          () => null,
        );
  return sharpModule;
}

/** Which decoder this process uses. */
export async function imageDecoder(): Promise<ImageDecoder> {
  return (await loadSharp()) === null ? 'js' : 'sharp';
}

function decodeJs(bytes: Uint8Array, format: ImageFormat, maxPixels: number): RgbaImage {
  if (format === 'jpeg') {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: Math.ceil((maxPixels * 8) / 1e6) + 64 });
    return { width: img.width, height: img.height, data: img.data, format };
  }
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), format };
}

/** Decodes with this process's decoder, or with `use` when given ('sharp' falls back to 'js' where it does not load). */
export async function decodeImage(bytes: Uint8Array, maxPixels: number, use?: ImageDecoder): Promise<RgbaImage> {
  const header = readImageHeader(bytes, maxPixels);
  try {
    const sharp = use === 'js' ? null : await loadSharp();
    if (sharp === null) return decodeJs(bytes, header.format, maxPixels);
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning', sequentialRead: true }).toColourspace('srgb').ensureAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), format: header.format };
  } catch (e) {
    if (isEdgeError(e)) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new EdgeError('EDGE_ERR_BAD_IMAGE', `${header.format} of ${header.width} x ${header.height} did not decode: ${message.slice(0, 200)}`, { details: { format: header.format, width: header.width, height: header.height } });
  }
}
