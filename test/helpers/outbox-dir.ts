/**
 * Reads an outbox directory the way a restart would, without changing it: which messages are live
 * in its log (PUT records not cancelled by an ACK, outbox-log-file.ts), how many segment files it
 * has and how many bytes of torn tail they carry. For tests and benches; synchronous.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize } from '../../runtime/transport/outbox-file.js';
import { ACK, decodeLog, LOG_NAME } from '../../runtime/transport/outbox-log-file.js';
import type { OutgoingMessage } from '../../runtime/transport/types.js';

export interface OutboxDir {
  /** Live messages by ascending seq. */
  live: { seq: number; message: OutgoingMessage }[];
  /** Seqs of every PUT record in the log, in file order (a seq twice: written twice). */
  puts: number[];
  /** `.log` segment files. */
  segments: number;
  /** Bytes after the last valid record, summed over the segments (a torn tail). */
  tornBytes: number;
  /** Files that are not segments (the log writes nothing else). */
  others: string[];
}

export function inspectOutboxDir(dir: string): OutboxDir {
  const out: OutboxDir = { live: [], puts: [], segments: 0, tornBytes: 0, others: [] };
  try {
    if (!statSync(dir).isDirectory()) return out;
  } catch {
    return out;
  }
  const names = readdirSync(dir).sort();
  const bodies = new Map<number, Buffer>();
  for (const n of names) {
    if (!LOG_NAME.test(n)) {
      out.others.push(n);
      continue;
    }
    out.segments++;
    const buf = readFileSync(join(dir, n));
    const { records, validBytes } = decodeLog(buf);
    out.tornBytes += buf.byteLength - validBytes;
    for (const r of records) {
      if (r.type === ACK) for (const s of r.seqs) bodies.delete(s);
      else {
        bodies.set(r.seq, r.bytes);
        out.puts.push(r.seq);
      }
    }
  }
  out.live = [...bodies].sort((a, b) => a[0] - b[0]).map(([seq, b]) => ({ seq, message: deserialize(b) }));
  return out;
}

/** Live messages in an outbox dir's log (0 when it does not exist). */
export function liveInOutbox(dir: string): number {
  return inspectOutboxDir(dir).live.length;
}
