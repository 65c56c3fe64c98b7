/**
 * Hostile images for the issue-11 tests, made here (nothing downloaded):
 * - `pngBomb`: a real, valid 20000 x 20000 8-bit grey PNG of zeros whose IDAT is ~0.4 MB: 400 MB
 *   once inflated, 1.6 GB as RGBA. Built from 20 copies of one full-flushed raw deflate block
 *   (a full flush resets the compressor, so the copies concatenate into one valid stream), an
 *   empty final block and the Adler-32 of the zeros, computed by formula.
 * - `pngHeaderOnly`: signature + IHDR with the given dimensions and nothing else.
 * - `jpegWithDims`: a real JPEG whose SOF0 frame header is rewritten to absurd dimensions.
 */
import zlib from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function ihdr(width: number, height: number, colorType = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(width, 0);
  d.writeUInt32BE(height, 4);
  d[8] = 8;
  d[9] = colorType;
  d[10] = 0;
  d[11] = 0;
  d[12] = 0;
  return chunk('IHDR', d);
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngHeaderOnly(width: number, height: number): Buffer {
  return Buffer.concat([SIGNATURE, ihdr(width, height)]);
}

export function pngBomb(side = 20000): Buffer {
  const rowBytes = side + 1; // filter byte + grey pixels
  const copies = 20;
  if (side % copies !== 0) throw new Error('side must be a multiple of 20');
  const piece = zlib.deflateRawSync(Buffer.alloc(rowBytes * (side / copies)), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const total = rowBytes * side;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) | 1) >>> 0, 0);
  const stream = Buffer.concat([Buffer.from([0x78, 0xda]), ...Array.from({ length: copies }, () => piece), Buffer.from([0x03, 0x00]), adler]);
  return Buffer.concat([SIGNATURE, ihdr(side, side), chunk('IDAT', stream), chunk('IEND', Buffer.alloc(0))]);
}

/** `jpeg` with its first SOF0/SOF2 frame header saying width x height. */
export function jpegWithDims(jpeg: Buffer, width: number, height: number): Buffer {
  const b = Buffer.from(jpeg);
  for (let i = 2; i + 9 < b.length; ) {
    const marker = b[i + 1] as number;
    const len = b.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
    i += 2 + len;
  }
  throw new Error('no SOF0/SOF2 in the JPEG');
}
