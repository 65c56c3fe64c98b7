/**
 * The outbox's in-memory records (runtime/transport/outbox.ts owns them) and its stats. Pure.
 */
import type { OutgoingMessage } from './types.js';

export interface OutboxEntry {
  readonly seq: number;
  readonly message: OutgoingMessage;
}

export interface OutboxStats {
  /** Messages waiting, including those handed to the client and not yet acknowledged. */
  depth: number;
  bytes: number;
  inFlight: number;
  /** Messages listed whose group commit has not finished yet (not durable yet, see "Publish-ahead"). */
  writing: number;
  /** Messages evicted because the outbox was full, since open. */
  dropped: number;
  degraded: boolean;
  /** Age of the oldest waiting message (monotonic; since load for messages found at open), 0 when empty. */
  oldestAgeMs: number;
}

export interface Entry extends OutboxEntry {
  seq: number;
  readonly bytes: number;
  readonly enqueuedMs: number;
  inFlight: boolean;
  /** A live PUT record of it is in the log. */
  onDisk: boolean;
  /** Acknowledged or evicted: its ACK is being written; not handed out again, not counted as room. */
  removing: boolean;
  /** Being re-appended to free an old segment (outbox-log.ts `pinned`). */
  relocating: boolean;
  /** Settles when the group commit holding this entry has finished (onDisk then final); undefined when none. */
  written: Promise<void> | undefined;
}

/** Most messages committed by one group (bounds one write's size). */
export const GROUP_MAX = 256;

export interface Pending {
  readonly entry: Entry;
  /** ok: its PUT record is written (durable per the fsync policy). */
  readonly done: (ok: boolean) => void;
}

/** The stats of `entries` (sorted by seq, `removing` ones included in depth). */
export function statsOf(entries: readonly Entry[], o: { bytes: number; dropped: number; degraded: boolean; nowMs: number }): OutboxStats {
  let first: Entry | undefined;
  let inFlight = 0;
  let depth = 0;
  let writing = 0;
  for (const e of entries) {
    depth++;
    if (e.written !== undefined) writing++;
    if (e.removing) continue;
    first ??= e;
    if (e.inFlight) inFlight++;
  }
  return { depth, bytes: o.bytes, inFlight, writing, dropped: o.dropped, degraded: o.degraded, oldestAgeMs: first === undefined ? 0 : Math.max(0, o.nowMs - first.enqueuedMs) };
}

/** Inserts `e` into `entries`, keeping them sorted by seq (a new seq is the largest: scans from the end). */
export function insertBySeq(entries: Entry[], e: Entry): void {
  let i = entries.length;
  while (i > 0 && (entries[i - 1] as Entry).seq > e.seq) i--;
  entries.splice(i, 0, e);
}

/** The index of the entry with `seq` in `entries` (sorted by seq), -1 when none. Binary search. */
export function findBySeq(entries: readonly Entry[], seq: number): number {
  let lo = 0;
  let hi = entries.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = (entries[mid] as Entry).seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
