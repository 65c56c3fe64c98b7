/**
 * How one outbox message is stored: a 4-byte little-endian header length, a JSON header {topic,
 * properties} (correlationData base64), then the payload bytes. The body of a log PUT record
 * (outbox-log-file.ts), and the content of the per-message `<seq, 16 digits>.msg` files of the
 * layout before issue 12 (read only, to migrate: outbox-legacy.ts). Pure: no I/O.
 * Contract: `deserialize` throws a plain Error on a malformed buffer (the caller discards it).
 */
import type { OutgoingMessage, PublishProperties } from './types.js';

interface StoredHeader {
  topic: string;
  properties?: { contentType?: string; correlationData?: string; userProperties?: Record<string, string> };
}

export const NAME = /^(\d{16})\.msg$/;

export function sizeOf(m: OutgoingMessage): number {
  return m.payload.byteLength + Buffer.byteLength(m.topic) + 64;
}

export function serialize(m: OutgoingMessage): Buffer {
  const header: StoredHeader = { topic: m.topic };
  const p = m.properties;
  if (p !== undefined) {
    header.properties = {};
    if (p.contentType !== undefined) header.properties.contentType = p.contentType;
    if (p.correlationData !== undefined) header.properties.correlationData = Buffer.from(p.correlationData).toString('base64');
    if (p.userProperties !== undefined) header.properties.userProperties = p.userProperties;
  }
  const head = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.byteLength);
  return Buffer.concat([len, head, m.payload]);
}

export function deserialize(buf: Buffer): OutgoingMessage {
  const len = buf.readUInt32LE(0);
  if (4 + len > buf.byteLength) throw new Error('header longer than file');
  const header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as StoredHeader;
  if (typeof header.topic !== 'string') throw new Error('no topic');
  const msg: OutgoingMessage = { topic: header.topic, payload: buf.subarray(4 + len) };
  if (header.properties !== undefined) {
    const p: PublishProperties = {};
    if (header.properties.contentType !== undefined) p.contentType = header.properties.contentType;
    if (header.properties.correlationData !== undefined) p.correlationData = Buffer.from(header.properties.correlationData, 'base64');
    if (header.properties.userProperties !== undefined) p.userProperties = header.properties.userProperties;
    msg.properties = p;
  }
  return msg;
}

/**
 * Legacy segment file `<first seq, 16 digits>.seg`: the serialized messages of one commit group,
 * each as a 4-byte LE length, an 8-byte LE seq (float64), then `serialize` bytes.
 */
export const SEGMENT = /^(\d{16})\.seg$/;

/** The records of a segment by seq; a truncated tail record is ignored. Never throws. */
export function decodeSegment(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = 0;
  while (at + 12 <= buf.byteLength) {
    const len = buf.readUInt32LE(at);
    const seq = buf.readDoubleLE(at + 4);
    if (at + 12 + len > buf.byteLength || !Number.isSafeInteger(seq)) break;
    out.set(seq, buf.subarray(at + 12, at + 12 + len));
    at += 12 + len;
  }
  return out;
}
