/**
 * A durable, bounded, ordered queue of answers waiting for the broker (issue 3 "Nothing lost").
 *
 * Storage: one file per message in `dir`, named `<seq, 16 digits>.msg`: a 4-byte little-endian
 * header length, a JSON header {topic, properties} (correlationData base64), then the payload bytes.
 * Written as `<seq>.tmp`, then renamed, so a crash never leaves a half message under a `.msg` name.
 *
 * fsync policy: with `fsync: 'always'` (default) `enqueue` resolves only after the file and the
 * directory entry are fsynced, so an acknowledged request survives a power cut. `'never'` leaves
 * it to the kernel (tests, tmpfs, wear-sensitive SD cards that accept losing the last seconds).
 *
 * Publish-ahead: `enqueue` lists the message AT ONCE (synchronously, when not degraded), so
 * `takeNext` can hand it to the broker while its group is still being written: the answer's
 * latency does not include the fsync (measured: fsync p50 0.8 ms, p99 over 100 ms on this VM's
 * disk under load). `enqueue` still resolves only when the message is durable OR gone: a message
 * acknowledged (or evicted) before its group starts writing is never written at all (no disk
 * wear for answers the broker took within one commit); one acknowledged while its group is being
 * written is deleted once that write has finished.
 *
 * Group commit: enqueues that arrive while a commit is running wait and form the next group (at
 * most GROUP_MAX messages). With 'always', a group's bytes are first written to ONE segment file
 * `<first seq>.seg` (see outbox-file.ts; written as .seg.tmp, fsynced, renamed); then its `.msg`
 * files are written and renamed concurrently WITHOUT a per-file fsync; then the directory is
 * fsynced ONCE; only then does every enqueue of the group resolve. The `.msg` files say which
 * messages are live; at open a segment's copy of a message wins over its (possibly torn) `.msg`
 * file. A segment is deleted when its last live message's file is (ack or eviction), and at open
 * when no `.msg` refers to it. Groups commit one after another, so seq order is kept. All I/O is
 * async (in outbox-store.ts): no synchronous file system call runs on the event loop.
 * Removal (`ack`) is not fsynced: a message resurrected by a crash is re-sent, a duplicate, which
 * the contract allows (answers are matched by id).
 *
 * Bounds: at most `maxMessages` messages and `maxBytes` bytes; a new message that does not fit
 * evicts the OLDEST ones (counted in `dropped`). Messages on disk at `open` are loaded in order and
 * re-published.
 *
 * Degraded mode: when the directory cannot be created, read or written (read-only, disk full,
 * permissions: ENOSPC, EROFS, EACCES... at open or on any later write), the outbox keeps working in
 * memory with the same bounds, logs EDGE_ERR_OUTBOX_DEGRADED (error level, once per episode) and
 * reports `degraded: true`. Every `retryMs` (monotonic, checked on enqueue and by `retryDisk()`) it
 * tries the disk again: on success it writes the memory-only messages to disk, logs
 * `outbox.recovered` and reports `degraded: false` again.
 *
 * Invariant (files vs depth): a message's file is deleted BEFORE the message leaves `depth`, so
 * `depth === 0` means no `.msg` file of this outbox is left (a message is counted before its file
 * is written, so the converse holds only once `enqueue` resolved).
 * Contract: no method throws or rejects.
 */
import { performance } from 'node:perf_hooks';
import { EdgeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { sizeOf } from './outbox-file.js';
import { OutboxStore, type FsyncPolicy } from './outbox-store.js';
import type { OutgoingMessage } from './types.js';

export type { FsyncPolicy } from './outbox-store.js';

export interface OutboxOptions {
  /** Directory for message files (created). Usually `<stateDir>/outbox`. */
  dir: string;
  /** Most messages kept. Default 10000. */
  maxMessages?: number;
  /** Most payload + topic bytes kept. Default 32 MiB. */
  maxBytes?: number;
  /** Default 'always'. */
  fsync?: FsyncPolicy;
  log?: Logger;
  /** Monotonic milliseconds (ages, disk retry). Default performance.now. */
  nowMs?: () => number;
  /** When degraded, how often to try the disk again, ms. Default 30000. */
  retryMs?: number;
}

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

interface Entry extends OutboxEntry {
  readonly bytes: number;
  readonly enqueuedMs: number;
  inFlight: boolean;
  onDisk: boolean;
  /** The segment holding its durable bytes (fsync 'always'), undefined for a plain `.msg` file. */
  segment: number | undefined;
  /** Acknowledged or evicted: its file is being deleted; not handed out again, not counted as room. */
  removing: boolean;
  /** Settles when the group commit holding this entry has finished (onDisk/segment then final); undefined when none. */
  written: Promise<void> | undefined;
}

/** Most messages committed by one group (bounds open file handles per commit). */
const GROUP_MAX = 256;

interface Pending {
  readonly seq: number;
  readonly message: OutgoingMessage;
  readonly entry: Entry;
  /** true: the message's file is renamed into place (durable per the fsync policy when the group succeeded). */
  readonly done: (onDisk: boolean, segment: number | undefined) => void;
}

export class Outbox {
  readonly #dir: string;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #retryMs: number;
  /** Sorted by seq; includes entries whose file is being deleted (`removing`). */
  readonly #entries: Entry[] = [];
  /** Bytes and count of entries not `removing`. */
  #bytes = 0;
  #live = 0;
  #nextSeq = 1;
  #dropped = 0;
  #degraded = false;
  #degradedAtMs = 0;
  /** The directory was listed at open (false when open failed: files found later are merged in). */
  #loaded = false;
  #retrying: Promise<void> | undefined;
  /** Enqueues waiting for the next group commit. */
  #pending: Pending[] = [];
  #committing = false;
  /** The files; owned by this outbox. */
  readonly #store: OutboxStore;

  private constructor(options: OutboxOptions) {
    this.#dir = options.dir;
    this.#maxMessages = options.maxMessages ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#log = options.log ?? silentLogger;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#retryMs = options.retryMs ?? 30_000;
    this.#store = new OutboxStore(this.#dir, options.fsync ?? 'always', this.#log);
  }

  /** Opens (creating) the directory and loads the messages left from a previous run. Never rejects. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const box = new Outbox(options);
    await box.#load();
    return box;
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  get dir(): string {
    return this.#dir;
  }

  #degrade(cause: unknown, op: string): void {
    this.#degradedAtMs = this.#nowMs();
    if (this.#degraded) return;
    this.#degraded = true;
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const err = new EdgeError('EDGE_ERR_OUTBOX_DEGRADED', `outbox directory ${this.#dir} is not usable (${op}: ${cause instanceof Error ? cause.message : String(cause)}); keeping answers in memory only, retrying the disk every ${this.#retryMs} ms`, { details: { dir: this.#dir, op, errno: code ?? null } });
    this.#log.error('outbox.degraded', { error: err });
  }

  /** Loads the files named by `seqs` (sorted) that are not already entries (see OutboxStore.loadFiles). */
  async #loadFiles(seqs: readonly number[], segments: readonly number[]): Promise<void> {
    await this.#store.loadFiles(seqs, segments, {
      reserve: (next) => { this.#nextSeq = Math.max(this.#nextSeq, next); },
      // A file whose seq is taken by a memory-only entry (files found after a failed open) gets a fresh seq.
      seqFor: (found) => {
        const j = this.#find(found);
        if (j < 0) return found;
        return (this.#entries[j] as Entry).onDisk ? undefined : this.#nextSeq++;
      },
      insert: (seq, message, segment) => this.#insert({ seq, message, bytes: sizeOf(message), enqueuedMs: this.#nowMs(), inFlight: false, onDisk: true, segment, removing: false, written: undefined }),
    });
  }

  async #load(): Promise<void> {
    let listed: { seqs: number[]; segments: number[] };
    try {
      listed = await this.#store.list();
    } catch (e) {
      this.#degrade(e, 'open');
      return;
    }
    this.#loaded = true;
    await this.#loadFiles(listed.seqs, listed.segments);
    if (this.#live > 0) this.#log.info('outbox.loaded', { dir: this.#dir, messages: this.#live, bytes: this.#bytes });
  }

  /**
   * Lists and counts `e` at once, then evicts the oldest live entries (possibly `e` itself when it
   * is the oldest) until the bounds hold again, keeping at least one; resolves once their files are
   * deleted. Synchronous up to the deletes, so concurrent inserts cannot overshoot the bounds.
   */
  async #insert(e: Entry): Promise<void> {
    let i = this.#entries.length;
    while (i > 0 && (this.#entries[i - 1] as Entry).seq > e.seq) i--;
    this.#entries.splice(i, 0, e);
    this.#bytes += e.bytes;
    this.#live++;
    const victims: Entry[] = [];
    for (const v of this.#entries) {
      if (this.#live <= 1 || (this.#live <= this.#maxMessages && this.#bytes <= this.#maxBytes)) break;
      if (v.removing) continue;
      this.#startRemoving(v);
      this.#dropped++;
      victims.push(v);
      this.#log.warn('outbox.dropped_oldest', { seq: v.seq, topic: v.message.topic, dropped: this.#dropped });
    }
    await Promise.all(victims.map((v) => this.#finishRemoving(v)));
  }

  #startRemoving(e: Entry): void {
    e.removing = true;
    this.#bytes -= e.bytes;
    this.#live--;
  }

  /** Deletes the entry's file (if any; after its group's write has finished), then drops it from the list. */
  async #finishRemoving(e: Entry): Promise<void> {
    if (e.written !== undefined) await e.written;
    if (e.onDisk) {
      await this.#store.unlinkMessage(e.seq).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.#log.warn('outbox.unlink_failed', { seq: e.seq, reason: err.message });
      });
      await this.#store.releaseSegment(e.segment);
    }
    const i = this.#find(e.seq);
    if (i >= 0) this.#entries.splice(i, 1);
  }


  /** Commits pending enqueues group by group until none is left; one runner at a time. */
  async #commitLoop(): Promise<void> {
    this.#committing = true;
    while (this.#pending.length > 0) {
      const taken = this.#pending.splice(0, GROUP_MAX);
      // Acknowledged or evicted before its write began: nothing to make durable.
      const group: Pending[] = [];
      for (const p of taken) {
        if (p.entry.removing || this.#degraded) p.done(false, undefined);
        else group.push(p);
      }
      if (group.length === 0) continue;
      const { renamed, segment, error } = await this.#store.writeGroup(group, true);
      if (error !== undefined) this.#degrade(error, 'write');
      group.forEach((p, k) => p.done(renamed[k] === true, renamed[k] === true ? segment : undefined));
    }
    this.#committing = false;
  }

  /**
   * When degraded and `retryMs` has passed since the last failure (or `force`), tries the disk:
   * merges files left from before (when open had failed), writes the memory-only messages, and
   * clears `degraded` on success. Never rejects.
   */
  async retryDisk(force = false): Promise<void> {
    if (!this.#degraded) return;
    if (!force && this.#nowMs() - this.#degradedAtMs < this.#retryMs) return;
    if (this.#retrying !== undefined) return this.#retrying;
    this.#retrying = this.#tryRecover().finally(() => { this.#retrying = undefined; });
    return this.#retrying;
  }

  async #tryRecover(): Promise<void> {
    try {
      const listed = await this.#store.list();
      if (!this.#loaded) {
        await this.#loadFiles(listed.seqs, listed.segments);
        this.#loaded = true;
      }
      // Entries still in a group commit (not degraded yet when it began) are that commit's to write.
      const todo = this.#entries.filter((e) => !e.onDisk && !e.removing && e.written === undefined);
      const { renamed, segment, error } = await this.#store.writeGroup(todo, false);
      const gone: Promise<void>[] = [];
      todo.forEach((e, k) => {
        if (renamed[k] !== true) return;
        if (e.removing) {
          gone.push(this.#store.unlinkMessage(e.seq).catch(() => undefined).then(() => this.#store.releaseSegment(segment)));
        } else {
          e.onDisk = true;
          e.segment = segment;
        }
      });
      await Promise.all(gone);
      if (error !== undefined) throw error;
    } catch (e) {
      this.#degradedAtMs = this.#nowMs();
      this.#log.warn('outbox.still_degraded', { dir: this.#dir, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.#degraded = false;
    this.#log.info('outbox.recovered', { dir: this.#dir, messages: this.#live });
  }

  /**
   * Queues `message`. When the outbox is not degraded the message is listed before this returns
   * (`takeNext` can hand it out at once, see "Publish-ahead"); when degraded, after a disk retry.
   * Resolves once it is durable (its group committed: on disk per the fsync policy, or in memory
   * when degraded) or gone (acknowledged or evicted before that). Never rejects. Ownership of
   * `message` passes to the outbox.
   */
  enqueue(message: OutgoingMessage): Promise<void> {
    if (this.#degraded) return this.retryDisk().then(() => this.#enqueueNow(message));
    return this.#enqueueNow(message);
  }

  #enqueueNow(message: OutgoingMessage): Promise<void> {
    const e: Entry = { seq: this.#nextSeq++, message, bytes: sizeOf(message), enqueuedMs: this.#nowMs(), inFlight: false, onDisk: false, segment: undefined, removing: false, written: undefined };
    if (!this.#degraded) {
      e.written = new Promise<void>((resolve) => {
        this.#pending.push({
          seq: e.seq, message, entry: e,
          done: (d, g) => { e.onDisk = d; e.segment = g; e.written = undefined; resolve(); },
        });
      });
    }
    const written = e.written;
    const evicted = this.#insert(e);
    if (written !== undefined && !this.#committing) void this.#commitLoop();
    return written === undefined ? evicted : Promise.all([written, evicted]).then(() => undefined);
  }

  /** The oldest message not yet handed out, now marked in flight; undefined when none. */
  takeNext(): OutboxEntry | undefined {
    for (const e of this.#entries) {
      if (!e.inFlight && !e.removing) {
        e.inFlight = true;
        return e;
      }
    }
    return undefined;
  }

  #find(seq: number): number {
    let lo = 0;
    let hi = this.#entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = (this.#entries[mid] as Entry).seq;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  /**
   * The broker acknowledged `seq`: forget it. Its file is deleted before it leaves `depth` (see the
   * invariant above). Unknown seqs (evicted, already acknowledged) are ignored.
   */
  async ack(seq: number): Promise<void> {
    const i = this.#find(seq);
    if (i < 0) return;
    const e = this.#entries[i] as Entry;
    if (e.removing) return;
    this.#startRemoving(e);
    await this.#finishRemoving(e);
  }

  /** Puts an in-flight message back in line (the publish failed); it keeps its place by seq. */
  release(seq: number): void {
    const i = this.#find(seq);
    if (i >= 0) (this.#entries[i] as Entry).inFlight = false;
  }

  /** Every in-flight message back in line (the client that held them is gone). */
  releaseAll(): void {
    for (const e of this.#entries) e.inFlight = false;
  }

  stats(): OutboxStats {
    let first: Entry | undefined;
    let inFlight = 0;
    let depth = 0;
    let writing = 0;
    for (const e of this.#entries) {
      depth++;
      if (e.written !== undefined) writing++;
      if (e.removing) continue;
      first ??= e;
      if (e.inFlight) inFlight++;
    }
    return {
      depth,
      bytes: this.#bytes,
      inFlight,
      writing,
      dropped: this.#dropped,
      degraded: this.#degraded,
      oldestAgeMs: first === undefined ? 0 : Math.max(0, this.#nowMs() - first.enqueuedMs),
    };
  }
}
