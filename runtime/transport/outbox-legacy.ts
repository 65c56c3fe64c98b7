/**
 * Reads the outbox layout used before issue 12 (one `<seq>.msg` file per answer, plus `<seq>.seg`
 * group segments whose copy of a message wins over its possibly torn `.msg` file; formats in
 * outbox-file.ts), so answers left by an older version are migrated into the log at open, not lost.
 * Contract: never rejects; an unreadable file is logged (`outbox.corrupt_message`) and skipped.
 * Every legacy name found (including `.tmp` leftovers) is returned in `files` for the caller to
 * delete once the messages are safe in the log.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { decodeSegment, deserialize, NAME, SEGMENT } from './outbox-file.js';
import type { OutgoingMessage } from './types.js';

export async function readLegacy(dir: string, names: readonly string[], log: Logger): Promise<{ messages: OutgoingMessage[]; files: string[] }> {
  const seqs: number[] = [];
  const durable = new Map<number, Buffer>();
  const files: string[] = [];
  for (const n of names) {
    const m = NAME.exec(n)?.[1];
    const g = SEGMENT.exec(n)?.[1];
    if (m !== undefined) seqs.push(Number(m));
    if (g !== undefined) {
      try {
        for (const [seq, bytes] of decodeSegment(await readFile(join(dir, n)))) durable.set(seq, bytes);
      } catch (e) {
        log.warn('outbox.corrupt_segment', { file: join(dir, n), reason: e instanceof Error ? e.message : String(e) });
      }
    }
    if (m !== undefined || g !== undefined || n.endsWith('.tmp')) files.push(n);
  }
  const messages: OutgoingMessage[] = [];
  for (const seq of seqs.sort((a, b) => a - b)) {
    const file = join(dir, `${String(seq).padStart(16, '0')}.msg`);
    try {
      messages.push(deserialize(durable.get(seq) ?? (await readFile(file))));
    } catch (e) {
      log.warn('outbox.corrupt_message', { file, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return { messages, files };
}
