/**
 * The outbox's on-disk log format (issue 12): append-only segment files `<id, 16 digits>.log`,
 * each a sequence of records
 *
 *   u32 LE body length | u32 LE CRC-32 of (type, seq, body) | u8 type | f64 LE seq | body
 *
 * type PUT (1): body = `serialize(message)` (outbox-file.ts) for answer `seq`.
 * type ACK (2): body = n x f64 LE seqs that are gone (acknowledged by the broker or evicted); the
 *   record's own seq field is n.
 * A later PUT of the same seq (a relocated message) replaces the earlier one; an ACK removes the seq
 * whichever segment its PUT is in. Segments are read in id order.
 *
 * Torn tails: a power cut can leave the last write of a segment short or with garbage (never
 * fsynced). `decodeLog` stops at the first record whose length runs past the end or whose CRC does
 * not match, and reports how many bytes were valid; the reader truncates the file there.
 * Pure: no I/O. Contract: `decodeLog` never throws.
 */
import * as zlib from 'node:zlib';

export const LOG_NAME = /^(\d{16})\.log$/;
export const logName = (id: number): string => `${String(id).padStart(16, '0')}.log`;

export const PUT = 1;
export const ACK = 2;
export const RECORD_HEADER_BYTES = 17;

let table: Uint32Array | undefined;
/** CRC-32 (IEEE) in JS, for Node 20 releases before zlib.crc32 (20.15). */
function jsCrc32(buf: Uint8Array, value = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = (table[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A namespace import: a named import of a missing builtin export would fail at link time.
const zlibCrc32 = (zlib as { crc32?: (b: Uint8Array, value?: number) => number }).crc32;
const crc32: (b: Uint8Array, value?: number) => number = zlibCrc32 ?? jsCrc32;

function record(type: number, seq: number, body: Uint8Array): Buffer {
  const head = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  head.writeUInt32LE(body.byteLength, 0);
  head.writeUInt8(type, 8);
  head.writeDoubleLE(seq, 9);
  head.writeUInt32LE(crc32(body, crc32(head.subarray(8))), 4);
  return Buffer.concat([head, body]);
}

/** A PUT record: `bytes` are serialize(message). */
export function encodePut(seq: number, bytes: Uint8Array): Buffer {
  return record(PUT, seq, bytes);
}

/** One ACK record for all of `seqs` (empty buffer when none). */
export function encodeAck(seqs: readonly number[]): Buffer {
  if (seqs.length === 0) return Buffer.alloc(0);
  const body = Buffer.allocUnsafe(8 * seqs.length);
  seqs.forEach((s, i) => body.writeDoubleLE(s, 8 * i));
  return record(ACK, seqs.length, body);
}

export type LogRecord = { type: typeof PUT; seq: number; bytes: Buffer } | { type: typeof ACK; seqs: number[] };

/** The valid records of a segment, in order, and the length of the valid prefix (the rest is a torn tail). */
export function decodeLog(buf: Buffer): { records: LogRecord[]; validBytes: number } {
  const records: LogRecord[] = [];
  let at = 0;
  while (at + RECORD_HEADER_BYTES <= buf.byteLength) {
    const len = buf.readUInt32LE(at);
    const end = at + RECORD_HEADER_BYTES + len;
    if (end > buf.byteLength) break;
    const crc = buf.readUInt32LE(at + 4);
    if (crc32(buf.subarray(at + 8, end)) !== crc) break;
    const type = buf.readUInt8(at + 8);
    const seq = buf.readDoubleLE(at + 9);
    const body = buf.subarray(at + RECORD_HEADER_BYTES, end);
    if (type === PUT && Number.isSafeInteger(seq)) records.push({ type: PUT, seq, bytes: body });
    else if (type === ACK && len === 8 * seq) {
      const seqs: number[] = [];
      for (let i = 0; i < seq; i++) seqs.push(body.readDoubleLE(8 * i));
      records.push({ type: ACK, seqs });
    } else break;
    at = end;
  }
  return { records, validBytes: at };
}
