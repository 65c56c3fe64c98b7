/**
 * The outbox's on-disk layer (runtime/transport/outbox.ts owns one): an append-only segment log
 * (format in outbox-log-file.ts). Each call of `append` is ONE write() of its ack and put records
 * at the end of the active segment, then (fsync 'always' and when it carries puts) ONE fdatasync;
 * a new segment's directory entry is fsynced once, with its first write. Nothing is ever rewritten
 * in place: acknowledgements are ACK records (written, not fsynced: one lost in a crash only means
 * a duplicate answer, which the contract allows).
 *
 * Segments: the active one takes appends until it holds `segmentBytes`, then a new one is started
 * at the next append. A segment is deleted when none of its puts is live any more AND every older
 * segment is gone (so an ACK record is never deleted while the PUT it cancels still exists). When
 * more than MAX_SEGMENTS exist because an old one is pinned by a message that is not acknowledged,
 * `pinned()` names its live seqs: the owner re-appends them (same seq), which frees the segment.
 *
 * Open (`load`): reads every segment in id order, applies PUT / ACK, truncates a torn tail at the
 * last valid record (logged `outbox.torn_tail`), deletes segments with nothing live, and migrates
 * the per-message files of the layout before issue 12 (`.msg` / `.seg`, outbox-legacy.ts) into a
 * new segment before deleting them. A run never appends to a segment of an earlier run.
 * Each append opens the segment and closes it again: no descriptor is held between writes.
 * Contract: `load` and `ensureDir` reject with the fs error; `append` reports its failure in its
 * result (the segment is cut back to its size before the write, when possible, and no longer
 * appended to); nothing else rejects. One append at a time (the owner serialises them).
 */
import { mkdir, open, readdir, readFile, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { deserialize, serialize } from './outbox-file.js';
import { ACK, decodeLog, encodeAck, encodePut, LOG_NAME, logName } from './outbox-log-file.js';
import { readLegacy } from './outbox-legacy.js';
import type { OutgoingMessage } from './types.js';

export type FsyncPolicy = 'always' | 'never';

/** More segments than this and the oldest one's live messages are re-appended (see `pinned`). */
const MAX_SEGMENTS = 4;

interface Segment {
  readonly id: number;
  /** Bytes of valid records. */
  size: number;
  /** Puts in it whose seq is live and last written here. */
  live: number;
}

export interface LoadedLog {
  /** Live messages, by ascending seq. */
  messages: { seq: number; message: OutgoingMessage }[];
  /** Above every seq found on disk (acknowledged ones included). */
  nextSeq: number;
}

export class OutboxLog {
  readonly #dir: string;
  readonly #fsync: FsyncPolicy;
  readonly #log: Logger;
  readonly #segmentBytes: number;
  /** Oldest first; the last one takes appends when `#active`. */
  readonly #segments: Segment[] = [];
  /** Live seq -> the segment holding its last PUT. */
  readonly #where = new Map<number, Segment>();
  #active = false;
  #nextId = 1;
  #dirSyncDue = false;

  constructor(dir: string, fsync: FsyncPolicy, log: Logger, segmentBytes: number) {
    this.#dir = dir;
    this.#fsync = fsync;
    this.#log = log;
    this.#segmentBytes = segmentBytes;
  }

  /** Creates the directory and reads what earlier runs left (see the header). Rejects on failure. */
  async load(): Promise<LoadedLog> {
    await mkdir(this.#dir, { recursive: true });
    const names = await readdir(this.#dir);
    const ids = names
      .map((n) => LOG_NAME.exec(n)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const bodies = new Map<number, Buffer>();
    let maxSeq = 0;
    for (const id of ids) {
      this.#nextId = Math.max(this.#nextId, id + 1);
      const file = join(this.#dir, logName(id));
      const buf = await readFile(file);
      const { records, validBytes } = decodeLog(buf);
      if (validBytes < buf.byteLength) {
        this.#log.warn('outbox.torn_tail', { file, keptBytes: validBytes, discardedBytes: buf.byteLength - validBytes });
        await truncate(file, validBytes).catch((e: unknown) => this.#log.warn('outbox.truncate_failed', { file, reason: e instanceof Error ? e.message : String(e) }));
      }
      const seg: Segment = { id, size: validBytes, live: 0 };
      this.#segments.push(seg);
      for (const r of records) {
        if (r.type === ACK) {
          for (const s of r.seqs) {
            this.#forget(s);
            bodies.delete(s);
          }
          continue;
        }
        maxSeq = Math.max(maxSeq, r.seq);
        this.#place(r.seq, seg);
        bodies.set(r.seq, r.bytes);
      }
    }
    const messages: LoadedLog['messages'] = [];
    for (const [seq, bytes] of [...bodies].sort((a, b) => a[0] - b[0])) {
      try {
        messages.push({ seq, message: deserialize(bytes) });
      } catch (e) {
        // A valid CRC over an undecodable body: written by something else. Dropped, said once.
        this.#log.warn('outbox.corrupt_message', { dir: this.#dir, seq, reason: e instanceof Error ? e.message : String(e) });
        this.#forget(seq);
      }
    }
    const legacy = await readLegacy(this.#dir, names, this.#log);
    if (legacy.messages.length > 0) {
      const base = maxSeq;
      const moved = legacy.messages.map((m, k) => ({ seq: base + k + 1, message: m }));
      const err = await this.append(moved, []);
      if (err !== undefined) throw err;
      messages.push(...moved);
      maxSeq = base + moved.length;
      this.#log.info('outbox.migrated', { dir: this.#dir, messages: moved.length });
    }
    for (const f of legacy.files) await unlink(join(this.#dir, f)).catch(() => undefined);
    await this.#collect();
    return { messages, nextSeq: maxSeq + 1 };
  }

  /** Creates the directory when it is missing (after a degraded episode). Rejects on failure. */
  async ensureDir(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
  }

  #forget(seq: number): void {
    const seg = this.#where.get(seq);
    if (seg === undefined) return;
    seg.live--;
    this.#where.delete(seq);
  }

  #place(seq: number, seg: Segment): void {
    this.#forget(seq);
    seg.live++;
    this.#where.set(seq, seg);
  }

  /**
   * ONE write of `acks` (one ACK record) then `puts` (PUT records) at the end of the active
   * segment; with fsync 'always' and puts, then one fdatasync (and the directory's fsync when the
   * segment is new). The segment is opened for each append and closed after it (no descriptor is
   * held between writes, so a file system can be remounted read-only under a running service, and
   * a segment deleted from under us fails the open instead of swallowing writes).
   * Resolves undefined on success, or the error (nothing of this call counts then; acks stay the
   * caller's to retry). Never rejects.
   */
  async append(puts: readonly { seq: number; message: OutgoingMessage }[], acks: readonly number[]): Promise<unknown> {
    if (puts.length === 0 && acks.length === 0) return undefined;
    const last = this.#segments.at(-1);
    const fresh = !this.#active || last === undefined || last.size >= this.#segmentBytes;
    const seg: Segment = fresh ? { id: this.#nextId++, size: 0, live: 0 } : last;
    const at = seg.size;
    let fh: FileHandle | undefined;
    try {
      const buf = Buffer.concat([encodeAck(acks), ...puts.map((p) => encodePut(p.seq, serialize(p.message)))]);
      fh = await open(join(this.#dir, logName(seg.id)), fresh ? 'wx' : 'r+');
      if (fresh) {
        this.#segments.push(seg);
        this.#active = true;
        this.#dirSyncDue = true;
      }
      for (let off = 0; off < buf.byteLength; ) {
        const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off, at + off);
        off += bytesWritten;
      }
      if (this.#fsync === 'always' && puts.length > 0) {
        await fh.datasync();
        if (this.#dirSyncDue) {
          await this.#syncDir();
          this.#dirSyncDue = false;
        }
      }
      seg.size = at + buf.byteLength;
    } catch (e) {
      // Cut the torn write off (fails on a read-only file system: then `load` does it) and start a
      // new segment at the next append.
      await fh?.truncate(at).catch(() => undefined);
      this.#active = false;
      return e;
    } finally {
      await fh?.close().catch(() => undefined);
    }
    for (const s of acks) this.#forget(s);
    for (const p of puts) this.#place(p.seq, seg);
    await this.#collect();
    return undefined;
  }

  async #syncDir(): Promise<void> {
    const d = await open(this.#dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  /** Deletes the oldest segments while nothing in them is live (the active one only once it is full). */
  async #collect(): Promise<void> {
    for (let seg = this.#segments[0]; seg !== undefined && seg.live === 0; seg = this.#segments[0]) {
      const active = this.#active && seg === this.#segments.at(-1);
      if (active && seg.size < this.#segmentBytes) return;
      if (active) this.#active = false;
      this.#segments.shift();
      await unlink(join(this.#dir, logName(seg.id))).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') this.#log.warn('outbox.unlink_failed', { file: join(this.#dir, logName(seg.id)), reason: e.message });
      });
    }
  }

  /**
   * Counts `seqs` as gone before their ACK record can be written (degraded: the disk is full or
   * read-only) and deletes the segments that frees, oldest first, so a full disk gets its space
   * back once the broker took what was on it. The caller still writes the ACK records later (a
   * segment that could not be deleted would otherwise resurrect them). Never rejects.
   */
  async forgetNow(seqs: readonly number[]): Promise<void> {
    for (const s of seqs) this.#forget(s);
    await this.#collect();
  }

  /** Live seqs of the oldest segment when there are more than MAX_SEGMENTS (to re-append), else []. */
  pinned(): number[] {
    const oldest = this.#segments[0];
    if (this.#segments.length <= MAX_SEGMENTS || oldest === undefined) return [];
    const out: number[] = [];
    for (const [seq, seg] of this.#where) if (seg === oldest) out.push(seq);
    return out;
  }

  /** Closes the active segment; deletes it when nothing in it or before it is live. Never rejects. */
  async close(): Promise<void> {
    const last = this.#segments.at(-1);
    this.#active = false;
    if (last !== undefined && this.#segments.every((s) => s.live === 0)) {
      for (const s of this.#segments.splice(0)) await unlink(join(this.#dir, logName(s.id))).catch(() => undefined);
    }
  }
}
