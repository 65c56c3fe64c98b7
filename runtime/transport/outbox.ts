/**
 * A durable, bounded, ordered queue of answers waiting for the broker (issue 3 "Nothing lost").
 *
 * Storage (issue 12): an append-only segment log in `dir` (outbox-log.ts, format in
 * outbox-log-file.ts). Each answer is written ONCE, as a PUT record; its removal is a small ACK
 * record. Group commit: enqueues that arrive while a write is running wait and form the next
 * group (at most GROUP_MAX messages), written with ONE write() and, with `fsync: 'always'`
 * (default), ONE fdatasync; only then does every enqueue of the group resolve, so an acknowledged
 * request survives a power cut. `'never'` leaves the flush to the kernel (tests, tmpfs,
 * wear-sensitive SD cards that accept losing the last seconds). Groups are written one after
 * another, so seq order is kept. A torn last write (power cut mid-write) is cut off at open.
 * All I/O is async: no synchronous file system call runs on the event loop.
 *
 * Publish-ahead: `enqueue` lists the message AT ONCE (synchronously, when not degraded), so
 * `takeNext` can hand it to the broker while its group is still being written: the answer's
 * latency does not include the fsync. `enqueue` still resolves only when the message is durable
 * OR gone: a message acknowledged (or evicted) before its group starts writing is never written
 * at all (no disk wear for answers the broker took within one commit).
 *
 * Removal (`ack`, eviction): an ACK record, written with the next group (or alone when no group
 * is waiting), never fsynced: a message resurrected by a crash is re-sent, a duplicate, which the
 * contract allows (answers are matched by id). While degraded, ACK records wait for the disk.
 *
 * Bounds: at most `maxMessages` messages and `maxBytes` bytes; a new message that does not fit
 * evicts the OLDEST ones (counted in `dropped`). Messages on disk at `open` are loaded in order and
 * re-published.
 *
 * Degraded mode: when the directory cannot be created, read or written (read-only, disk full,
 * permissions: ENOSPC, EROFS, EACCES... at open or on any later write), the outbox keeps working in
 * memory with the same bounds, logs EDGE_ERR_OUTBOX_DEGRADED (error level, once per episode) and
 * reports `degraded: true`. Every `retryMs` (monotonic, checked on enqueue and by `retryDisk()`) it
 * tries the disk again: on success it writes the memory-only messages and the waiting ACK records,
 * logs `outbox.recovered` and reports `degraded: false` again.
 *
 * Invariant (disk vs depth): unless degraded, a message's ACK record is written BEFORE the message
 * leaves `depth`, so `depth === 0` means no live message of this outbox is left in the log (a
 * message is counted before its PUT is written, so the converse holds only once `enqueue` resolved).
 * Contract: no method throws or rejects.
 */
import { EdgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { sizeOf } from './outbox-file.js';
import { OutboxLog, type FsyncPolicy } from './outbox-log.js';
import type { OutgoingMessage } from './types.js';
import { findBySeq, GROUP_MAX, insertBySeq, statsOf, type Entry, type OutboxEntry, type OutboxStats, type Pending } from './outbox-entries.js';
import { withDefaults, type OutboxOptions } from './outbox-options.js';

export type { FsyncPolicy } from './outbox-log.js';
export type { OutboxEntry, OutboxStats } from './outbox-entries.js';
export type { OutboxOptions } from './outbox-options.js';

export class Outbox {
  readonly #dir: string;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  readonly #retryMs: number;
  readonly #fsync: FsyncPolicy;
  readonly #segmentBytes: number;
  /** Sorted by seq; includes entries whose ACK is being written (`removing`). */
  readonly #entries: Entry[] = [];
  /** Bytes and count of entries not `removing`. */
  #bytes = 0;
  #live = 0;
  #nextSeq = 1;
  #dropped = 0;
  #degraded = false;
  #degradedAtMs = 0;
  /** The log was read at open (false when open failed: what is on disk is merged in later). */
  #loaded = false;
  #retrying: Promise<void> | undefined;
  /** Enqueues (and relocations) waiting for the next group commit. */
  #pending: Pending[] = [];
  /** Seqs whose ACK record is still to be written, and who waits for that. */
  #acks: number[] = [];
  #ackWaiters: (() => void)[] = [];
  /** The running commit loop; undefined when idle. */
  #loop: Promise<void> | undefined;
  #running = false;
  /** The log; owned by this outbox. Replaced when an open that failed is retried. */
  #disk: OutboxLog;

  private constructor(options: OutboxOptions) {
    const o = withDefaults(options);
    this.#dir = o.dir;
    this.#maxMessages = o.maxMessages;
    this.#maxBytes = o.maxBytes;
    this.#log = o.log;
    this.#nowMs = o.nowMs;
    this.#retryMs = o.retryMs;
    this.#fsync = o.fsync;
    this.#segmentBytes = o.segmentBytes;
    this.#disk = this.#newDisk();
  }

  #newDisk(): OutboxLog {
    return new OutboxLog(this.#dir, this.#fsync, this.#log, this.#segmentBytes);
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

  #entry(seq: number, message: OutgoingMessage, onDisk: boolean): Entry {
    return { seq, message, bytes: sizeOf(message), enqueuedMs: this.#nowMs(), inFlight: false, onDisk, removing: false, relocating: false, written: undefined };
  }

  async #load(): Promise<void> {
    let loaded;
    try {
      loaded = await this.#disk.load();
    } catch (e) {
      this.#disk = this.#newDisk();
      this.#degrade(e, 'open');
      return;
    }
    this.#loaded = true;
    this.#nextSeq = loaded.nextSeq;
    await Promise.all(loaded.messages.map((m) => this.#insert(this.#entry(m.seq, m.message, true))));
    if (this.#live > 0) this.#log.info('outbox.loaded', { dir: this.#dir, messages: this.#live, bytes: this.#bytes });
  }

  /**
   * Lists and counts `e` at once, then evicts the oldest live entries (possibly `e` itself when it
   * is the oldest) until the bounds hold again, keeping at least one; resolves once their ACKs are
   * written. Synchronous up to that wait, so concurrent inserts cannot overshoot the bounds.
   */
  async #insert(e: Entry): Promise<void> {
    insertBySeq(this.#entries, e);
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

  /** Writes the entry's ACK record (if it is in the log; after its group's write), then drops it from the list. */
  async #finishRemoving(e: Entry): Promise<void> {
    if (e.written !== undefined) await e.written;
    if (e.onDisk) await this.#recordAck(e.seq);
    const i = findBySeq(this.#entries, e.seq);
    if (i >= 0 && this.#entries[i] === e) this.#entries.splice(i, 1);
  }

  /** Queues an ACK record; resolves once written, or at once when degraded (it waits for the disk). */
  #recordAck(seq: number): Promise<void> {
    this.#acks.push(seq);
    if (this.#degraded) return this.#disk.forgetNow([seq]);
    const p = new Promise<void>((resolve) => this.#ackWaiters.push(resolve));
    this.#kick();
    return p;
  }

  /** Starts the commit loop unless it runs. `#running` is cleared synchronously when the loop finds nothing left, so no push is missed. */
  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = this.#commitLoop();
    this.#loop = loop;
    void loop.finally(() => {
      if (this.#loop === loop) this.#loop = undefined;
    });
  }

  /** Writes pending groups and ACKs one write at a time until none is left; one runner at a time. */
  async #commitLoop(): Promise<void> {
    for (;;) {
      if (this.#degraded) {
        this.#running = false;
        for (const p of this.#pending.splice(0)) p.done(false);
        for (const w of this.#ackWaiters.splice(0)) w();
        return;
      }
      const group: Pending[] = [];
      for (const p of this.#pending.splice(0, GROUP_MAX)) {
        // Acknowledged or evicted before its write began: nothing to make durable.
        if (p.entry.removing) p.done(false);
        else group.push(p);
      }
      if (group.length === 0 && this.#acks.length === 0) {
        if (this.#pending.length > 0) continue;
        this.#running = false;
        return;
      }
      const acks = this.#acks.splice(0);
      const waiters = this.#ackWaiters.splice(0);
      const error = await this.#disk.append(
        group.map((p) => p.entry),
        acks,
      );
      if (error !== undefined) {
        this.#acks.unshift(...acks);
        this.#degrade(error, 'write');
      }
      for (const p of group) p.done(error === undefined);
      for (const w of waiters) w();
      if (error === undefined) this.#relocatePinned();
    }
  }

  /** Re-appends the live messages of a segment that pins the log (outbox-log.ts `pinned`). */
  #relocatePinned(): void {
    for (const seq of this.#disk.pinned()) {
      const i = findBySeq(this.#entries, seq);
      const e = i >= 0 ? (this.#entries[i] as Entry) : undefined;
      if (e === undefined || e.removing || e.relocating || e.written !== undefined) continue;
      e.relocating = true;
      this.#pending.push({
        entry: e,
        done: () => {
          e.relocating = false;
        },
      });
    }
  }

  /**
   * When degraded and `retryMs` has passed since the last failure (or `force`), tries the disk:
   * merges what is in the log (when open had failed), writes the memory-only messages and the
   * waiting ACK records, and clears `degraded` on success. Never rejects.
   */
  async retryDisk(force = false): Promise<void> {
    if (!this.#degraded) return;
    if (!force && this.#nowMs() - this.#degradedAtMs < this.#retryMs) return;
    if (this.#retrying !== undefined) return this.#retrying;
    this.#retrying = this.#tryRecover().finally(() => {
      this.#retrying = undefined;
    });
    return this.#retrying;
  }

  async #tryRecover(): Promise<void> {
    try {
      if (this.#loaded) await this.#disk.ensureDir();
      else await this.#mergeLog();
      // Entries still in a group commit (not degraded yet when it began) are that commit's to write.
      const todo = this.#entries.filter((e) => !e.onDisk && !e.removing && e.written === undefined);
      const acks = this.#acks.splice(0);
      const error = await this.#disk.append(todo, acks);
      if (error !== undefined) {
        this.#acks.unshift(...acks);
        throw error;
      }
      for (const e of todo) {
        // Acknowledged while this write ran: it is in the log now, so it needs its ACK record.
        if (e.removing) this.#acks.push(e.seq);
        else e.onDisk = true;
      }
    } catch (e) {
      this.#degradedAtMs = this.#nowMs();
      this.#log.warn('outbox.still_degraded', { dir: this.#dir, reason: e instanceof Error ? e.message : String(e) });
      return;
    }
    this.#degraded = false;
    if (this.#acks.length > 0) this.#kick();
    this.#log.info('outbox.recovered', { dir: this.#dir, messages: this.#live });
  }

  /** After an open that failed: reads the log; a found message whose seq a memory-only one took is re-appended under a fresh seq (ACK of the old). */
  async #mergeLog(): Promise<void> {
    const disk = this.#newDisk();
    const loaded = await disk.load();
    this.#disk = disk;
    this.#loaded = true;
    const taken = new Set(this.#entries.map((e) => e.seq));
    this.#nextSeq = Math.max(this.#nextSeq, loaded.nextSeq);
    for (const m of loaded.messages) {
      if (!taken.has(m.seq)) {
        await this.#insert(this.#entry(m.seq, m.message, true));
        continue;
      }
      this.#acks.push(m.seq);
      await this.#insert(this.#entry(this.#nextSeq++, m.message, false));
    }
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
    const e = this.#entry(this.#nextSeq++, message, false);
    if (!this.#degraded) {
      e.written = new Promise<void>((resolve) => {
        this.#pending.push({
          entry: e,
          done: (ok) => {
            e.onDisk = ok;
            e.written = undefined;
            resolve();
          },
        });
      });
    }
    const written = e.written;
    const evicted = this.#insert(e);
    if (written !== undefined) this.#kick();
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

  /**
   * The broker acknowledged `seq`: forget it. Its ACK record is written before it leaves `depth`
   * (see the invariant above). Unknown seqs (evicted, already acknowledged) are ignored.
   */
  async ack(seq: number): Promise<void> {
    const i = findBySeq(this.#entries, seq);
    if (i < 0) return;
    const e = this.#entries[i] as Entry;
    if (e.removing) return;
    this.#startRemoving(e);
    await this.#finishRemoving(e);
  }

  /** Puts an in-flight message back in line (the publish failed); it keeps its place by seq. */
  release(seq: number): void {
    const i = findBySeq(this.#entries, seq);
    if (i >= 0) (this.#entries[i] as Entry).inFlight = false;
  }

  /** Every in-flight message back in line (the client that held them is gone). */
  releaseAll(): void {
    for (const e of this.#entries) e.inFlight = false;
  }

  /**
   * Waits for the writes under way, then closes the log (deleting its files when nothing in them is
   * live). Messages still queued stay on disk for the next open. Use the outbox no more. Never rejects.
   */
  async close(): Promise<void> {
    while (this.#loop !== undefined) await this.#loop;
    await this.#disk.close();
  }

  stats(): OutboxStats {
    return statsOf(this.#entries, { bytes: this.#bytes, dropped: this.#dropped, degraded: this.#degraded, nowMs: this.#nowMs() });
  }
}
