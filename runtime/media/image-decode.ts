/**
 * JPEG / PNG bytes -> RGBA pixels, with the pure-JS decoders jpeg-js and pngjs.
 *
 * Why these and not sharp (README "Images: decoder choice", bench/image-decode.ts): they install as
 * plain JavaScript on every platform we support (x64, arm64, and 32-bit ARM where onnxruntime-node
 * itself has no binary), add 0.8 MB instead of sharp's ~20 MB of native libvips per platform, and
 * need no native addon load in the worker. This module is the only importer of jpeg-js and pngjs.
 *
 * Contract: the header is checked first (readImageHeader: EDGE_ERR_BAD_IMAGE / EDGE_ERR_TOO_LARGE
 * before any pixel buffer exists); a decoder failure (truncated, corrupt) is EDGE_ERR_BAD_IMAGE.
 * Memory is bounded by maxPixels * 4 bytes plus the decoder's working set (jpeg-js is also given
 * the same limit, so a header/body mismatch cannot make it allocate more).
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

export function decodeImage(bytes: Uint8Array, maxPixels: number): RgbaImage {
  const header = readImageHeader(bytes, maxPixels);
  try {
    if (header.format === 'jpeg') {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.ceil((maxPixels * 8) / 1e6) + 64,
      });
      return { width: img.width, height: img.height, data: img.data, format: 'jpeg' };
    }
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), format: 'png' };
  } catch (e) {
    if (isEdgeError(e)) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new EdgeError('EDGE_ERR_BAD_IMAGE', `${header.format} of ${header.width} x ${header.height} did not decode: ${message.slice(0, 200)}`, { details: { format: header.format, width: header.width, height: header.height } });
  }
}
