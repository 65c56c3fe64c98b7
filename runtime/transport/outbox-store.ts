/**
 * The outbox's on-disk layer (runtime/transport/outbox.ts owns one): lists the directory, loads
 * the message and segment files left from a previous run, writes a commit group (segment, `.msg`
 * files, directory fsync) and deletes files, keeping the live count of every segment. File formats
 * are in outbox-file.ts. All I/O is async: no synchronous file system call runs on the event loop.
 * Contract: `list` and `unlinkMessage` reject with the fs error; `writeGroup` reports failures in
 * its result; the other methods log or ignore failures and never reject.
 */
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { decodeSegment, deserialize, encodeSegment, fileName, NAME, SEGMENT, segmentName, segmentTmpName, serialize, tmpName } from './outbox-file.js';
import type { OutgoingMessage } from './types.js';

export type FsyncPolicy = 'always' | 'never';

/** How `loadFiles` hands found messages to their owner; called one after another, never concurrently. */
export interface LoadTarget {
  /** Called once, before the other hooks: every seq below `next` may be taken by a file. */
  reserve(next: number): void;
  /**
   * The seq to load the file of `found` under: `found` itself, a fresh seq (`found` is taken by a
   * memory-only message; the file is renamed to it), or undefined to skip it (already loaded).
   */
  seqFor(found: number): number | undefined;
  /** Takes the loaded message; `segment` holds its durable bytes (its live count already includes it). */
  insert(seq: number, message: OutgoingMessage, segment: number | undefined): Promise<void>;
}

export interface GroupResult {
  /** Per item: its `.msg` file was renamed into place. */
  renamed: boolean[];
  /** The segment the renamed items refer to, undefined when none was written or kept. */
  segment: number | undefined;
  /** The first failure, undefined when the group is durable. */
  error: unknown;
}

export class OutboxStore {
  readonly #dir: string;
  readonly #fsync: FsyncPolicy;
  readonly #log: Logger;
  /** Live (on-disk, not removed) messages per segment; a segment is deleted when it reaches 0. */
  readonly #segLive = new Map<number, number>();

  constructor(dir: string, fsync: FsyncPolicy, log: Logger) {
    this.#dir = dir;
    this.#fsync = fsync;
    this.#log = log;
  }

  /** Creates the directory and lists its message seqs (sorted) and segments; deletes `.tmp` leftovers. Rejects on failure. */
  async list(): Promise<{ seqs: number[]; segments: number[] }> {
    await mkdir(this.#dir, { recursive: true });
    const names = await readdir(this.#dir);
    const seqs: number[] = [];
    const segments: number[] = [];
    for (const n of names) {
      const m = NAME.exec(n);
      const g = SEGMENT.exec(n);
      if (m?.[1] !== undefined) seqs.push(Number(m[1]));
      else if (g?.[1] !== undefined) segments.push(Number(g[1]));
      else if (n.endsWith('.tmp')) await unlink(join(this.#dir, n)).catch(() => undefined);
    }
    return { seqs: seqs.sort((a, b) => a - b), segments };
  }

  /** The durable bytes of every message in `segments` (not yet known to this store), by seq. */
  async #readSegments(segments: readonly number[]): Promise<Map<number, { segment: number; bytes: Buffer }>> {
    const out = new Map<number, { segment: number; bytes: Buffer }>();
    for (const segment of segments) {
      if (this.#segLive.has(segment)) continue;
      try {
        for (const [seq, bytes] of decodeSegment(await readFile(join(this.#dir, segmentName(segment))))) out.set(seq, { segment, bytes });
      } catch (e) {
        this.#log.warn('outbox.corrupt_segment', { file: join(this.#dir, segmentName(segment)), reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return out;
  }

  /** Deletes the listed segments no live message refers to (all acknowledged before a restart). */
  async #dropDeadSegments(segments: readonly number[]): Promise<void> {
    for (const segment of segments) {
      if (!this.#segLive.has(segment)) await unlink(join(this.#dir, segmentName(segment))).catch(() => undefined);
    }
  }

  /** One live message of `segment` is gone (its `.msg` already deleted); deletes the segment at 0. Never rejects. */
  async releaseSegment(segment: number | undefined): Promise<void> {
    if (segment === undefined) return;
    const left = (this.#segLive.get(segment) ?? 1) - 1;
    if (left > 0) {
      this.#segLive.set(segment, left);
      return;
    }
    this.#segLive.delete(segment);
    await unlink(join(this.#dir, segmentName(segment))).catch(() => undefined);
  }

  /** Deletes the `.msg` file of `seq` (not fsynced). Rejects with the fs error (ENOENT included). */
  async unlinkMessage(seq: number): Promise<void> {
    await unlink(join(this.#dir, fileName(seq)));
  }

  /**
   * Loads the files named by `seqs` (sorted) into `target`, in order; a segment's copy of a
   * message wins over its `.msg` file. Unreadable files are logged and deleted; segments no loaded
   * message refers to are deleted at the end. Never rejects.
   */
  async loadFiles(seqs: readonly number[], segments: readonly number[], target: LoadTarget): Promise<void> {
    const durable = await this.#readSegments(segments);
    const maxSeg = Math.max(0, ...durable.keys());
    target.reserve(Math.max((seqs.at(-1) ?? 0) + 1, maxSeg + 1));
    for (const found of seqs) {
      const seq = target.seqFor(found);
      if (seq === undefined) continue;
      if (seq !== found) {
        try {
          await rename(join(this.#dir, fileName(found)), join(this.#dir, fileName(seq)));
        } catch (e) {
          this.#log.warn('outbox.corrupt_message', { file: join(this.#dir, fileName(found)), reason: e instanceof Error ? e.message : String(e) });
          continue;
        }
      }
      const path = join(this.#dir, fileName(seq));
      try {
        // A segment's copy wins: the .msg file's own bytes were not fsynced.
        const rec = durable.get(found);
        const message = deserialize(rec?.bytes ?? await readFile(path));
        if (rec !== undefined) this.#segLive.set(rec.segment, (this.#segLive.get(rec.segment) ?? 0) + 1);
        await target.insert(seq, message, rec?.segment);
      } catch (e) {
        this.#log.warn('outbox.corrupt_message', { file: path, reason: e instanceof Error ? e.message : String(e) });
        await unlink(path).catch(() => undefined);
      }
    }
    await this.#dropDeadSegments(segments);
  }

  /** Writes `bytes` to `tmpPath` (fsynced when `sync`) and renames it to `name`; no directory fsync. */
  async #writeFile(name: string, tmpPath: string, bytes: Buffer, sync: boolean): Promise<void> {
    const tmp = join(this.#dir, tmpPath);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(bytes);
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.#dir, name));
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /** Makes the renames in `dir` durable (policy 'always'): one async directory fsync. Rejects on failure. */
  async #syncDir(): Promise<void> {
    if (this.#fsync !== 'always') return;
    const d = await open(this.#dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  /**
   * Makes a group durable. With fsync 'always': ONE segment file with all their bytes (written,
   * fsynced, renamed), then their `.msg` files (not fsynced: the segment holds the bytes) written
   * concurrently, then ONE directory fsync. `segmented: false` (recovery, rare: no doubled space
   * needed on a disk that just ran full): each `.msg` fsynced instead. With 'never': the `.msg`
   * files only. The segment's live count is the number of renamed items. Never rejects.
   */
  async writeGroup(items: readonly { seq: number; message: OutgoingMessage }[], segmented: boolean): Promise<GroupResult> {
    const first = items[0];
    if (first === undefined) return { renamed: [], segment: undefined, error: undefined };
    const bytes = items.map((it) => serialize(it.message));
    let segment: number | undefined;
    if (this.#fsync === 'always' && segmented) {
      try {
        await this.#writeFile(segmentName(first.seq), segmentTmpName(first.seq), encodeSegment(items.map((it, k) => ({ seq: it.seq, bytes: bytes[k] as Buffer }))), true);
        segment = first.seq;
      } catch (e) {
        return { renamed: items.map(() => false), segment: undefined, error: e };
      }
    }
    const results = await Promise.allSettled(items.map((it, k) => this.#writeFile(fileName(it.seq), tmpName(it.seq), bytes[k] as Buffer, this.#fsync === 'always' && !segmented)));
    const renamed = results.map((r) => r.status === 'fulfilled');
    let error: unknown;
    for (const r of results) if (r.status === 'rejected') { error ??= r.reason; }
    const live = renamed.filter(Boolean).length;
    if (segment !== undefined) {
      if (live > 0) this.#segLive.set(segment, live);
      else {
        await unlink(join(this.#dir, segmentName(segment))).catch(() => undefined);
        segment = undefined;
      }
    }
    if (error === undefined) {
      try {
        await this.#syncDir();
      } catch (e) {
        error = e;
      }
    }
    return { renamed, segment, error };
  }
}
