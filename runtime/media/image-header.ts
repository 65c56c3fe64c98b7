/**
 * Reads the format and pixel dimensions of a JPEG or PNG from its header, without decoding, so the
 * pixel limit is enforced before any pixel buffer is allocated (issue 11, hostile images). Pure.
 *
 * Contract: `readImageHeader` throws EDGE_ERR_BAD_IMAGE for anything that is not a well-formed
 * PNG (signature + IHDR) or JPEG (SOI, then a SOFn frame header within the first segments), and for
 * zero dimensions; EDGE_ERR_TOO_LARGE when width * height is over `maxPixels`. A header that passes
 * can still fail to decode (truncated data): the decoder reports that as EDGE_ERR_BAD_IMAGE.
 */
import { EdgeError } from '../errors.js';

export type ImageFormat = 'jpeg' | 'png';

export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function badImage(message: string, details?: Record<string, unknown>): EdgeError {
  return new EdgeError('EDGE_ERR_BAD_IMAGE', message, details === undefined ? {} : { details });
}

/** The format by magic bytes, or null. */
export function sniffImageFormat(b: Uint8Array): ImageFormat | null {
  if (b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v)) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return null;
}

function pngHeader(b: Uint8Array): { width: number; height: number } {
  // Signature (8), then the first chunk must be IHDR: length 13, type "IHDR", width, height (BE).
  if (b.length < 33) throw badImage(`PNG of ${b.length} bytes is shorter than its header`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const type = String.fromCharCode(b[12] as number, b[13] as number, b[14] as number, b[15] as number);
  if (dv.getUint32(8) !== 13 || type !== 'IHDR') throw badImage('PNG does not start with an IHDR chunk');
  return { width: dv.getUint32(16), height: dv.getUint32(20) };
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegHeader(b: Uint8Array): { width: number; height: number } {
  let i = 2;
  // Walk marker segments until the frame header; stop at SOS (no frame header before the scan).
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) throw badImage(`JPEG marker expected at byte ${i}`);
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i += 1;
      continue;
    } // fill byte
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) break;
    const len = ((b[i + 2] as number) << 8) | (b[i + 3] as number);
    if (len < 2) throw badImage(`JPEG segment at byte ${i} has length ${len}`);
    if (isSof(marker)) {
      if (i + 9 > b.length) break;
      const height = ((b[i + 5] as number) << 8) | (b[i + 6] as number);
      const width = ((b[i + 7] as number) << 8) | (b[i + 8] as number);
      return { width, height };
    }
    i += 2 + len;
  }
  throw badImage('JPEG has no frame header (SOF) before its scan data or end: truncated or not a JPEG');
}

export function readImageHeader(bytes: Uint8Array, maxPixels: number): ImageHeader {
  const format = sniffImageFormat(bytes);
  if (format === null) throw badImage('payload is neither a PNG nor a JPEG (magic bytes)', { bytes: bytes.byteLength });
  const { width, height } = format === 'png' ? pngHeader(bytes) : jpegHeader(bytes);
  if (width === 0 || height === 0) throw badImage(`${format} header says ${width} x ${height} pixels`, { width, height });
  if (width * height > maxPixels) {
    throw new EdgeError('EDGE_ERR_TOO_LARGE', `${format} of ${width} x ${height} = ${width * height} pixels is over the limit of ${maxPixels}`, { details: { width, height, maxPixels } });
  }
  return { format, width, height };
}
