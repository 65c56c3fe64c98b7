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
 * Removal (`ack`) is not fsynced: a message resurrected by a crash is re-sent, a duplicate, which
 * the contract allows (answers are matched by id).
 *
 * Bounds: at most `maxMessages` messages and `maxBytes` bytes; a new message that does not fit
 * evicts the OLDEST ones (counted in `dropped`). Messages on disk at `open` are loaded in order and
 * re-published.
 *
 * Degraded mode: when the directory cannot be created, read or written (read-only, disk full,
 * permissions), the outbox keeps working in memory with the same bounds, logs
 * EDGE_ERR_OUTBOX_DEGRADED once and reports `degraded: true`. Contract: no method throws or rejects.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { EdgeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { OutgoingMessage, PublishProperties } from './types.js';

export type FsyncPolicy = 'always' | 'never';

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
  /** Monotonic milliseconds (ages). Default performance.now. */
  nowMs?: () => number;
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
}

interface StoredHeader {
  topic: string;
  properties?: { contentType?: string; correlationData?: string; userProperties?: Record<string, string> };
}

const NAME = /^(\d{16})\.msg$/;
const fileName = (seq: number): string => `${String(seq).padStart(16, '0')}.msg`;

function sizeOf(m: OutgoingMessage): number {
  return m.payload.byteLength + Buffer.byteLength(m.topic) + 64;
}

function serialize(m: OutgoingMessage): Buffer {
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

function deserialize(buf: Buffer): OutgoingMessage {
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

export class Outbox {
  readonly #dir: string;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #fsync: FsyncPolicy;
  readonly #log: Logger;
  readonly #nowMs: () => number;
  /** Sorted by seq. */
  readonly #entries: Entry[] = [];
  #bytes = 0;
  #nextSeq = 1;
  #dropped = 0;
  #degraded = false;

  private constructor(options: OutboxOptions) {
    this.#dir = options.dir;
    this.#maxMessages = options.maxMessages ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#fsync = options.fsync ?? 'always';
    this.#log = options.log ?? silentLogger;
    this.#nowMs = options.nowMs ?? (() => performance.now());
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
    if (this.#degraded) return;
    this.#degraded = true;
    const err = new EdgeError('EDGE_ERR_OUTBOX_DEGRADED', `outbox directory ${this.#dir} is not usable (${op}: ${cause instanceof Error ? cause.message : String(cause)}); keeping answers in memory only`, { details: { dir: this.#dir, op } });
    this.#log.error('outbox.degraded', { error: err });
  }

  async #load(): Promise<void> {
    let names: string[];
    try {
      await mkdir(this.#dir, { recursive: true });
      names = await readdir(this.#dir);
    } catch (e) {
      this.#degrade(e, 'open');
      return;
    }
    const seqs: number[] = [];
    for (const n of names) {
      const m = NAME.exec(n);
      if (m?.[1] !== undefined) seqs.push(Number(m[1]));
      else if (n.endsWith('.tmp')) await unlink(join(this.#dir, n)).catch(() => undefined);
    }
    seqs.sort((a, b) => a - b);
    for (const seq of seqs) {
      const path = join(this.#dir, fileName(seq));
      try {
        const message = deserialize(await readFile(path));
        this.#insert({ seq, message, bytes: sizeOf(message), enqueuedMs: this.#nowMs(), inFlight: false, onDisk: true });
      } catch (e) {
        this.#log.warn('outbox.corrupt_message', { file: path, reason: e instanceof Error ? e.message : String(e) });
        await unlink(path).catch(() => undefined);
      }
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
    }
    if (this.#entries.length > 0) this.#log.info('outbox.loaded', { dir: this.#dir, messages: this.#entries.length, bytes: this.#bytes });
  }

  #insert(e: Entry): void {
    this.#makeRoom(e.bytes);
    let i = this.#entries.length;
    while (i > 0 && (this.#entries[i - 1] as Entry).seq > e.seq) i--;
    this.#entries.splice(i, 0, e);
    this.#bytes += e.bytes;
  }

  #makeRoom(bytes: number): void {
    while (this.#entries.length > 0 && (this.#entries.length + 1 > this.#maxMessages || this.#bytes + bytes > this.#maxBytes)) {
      const oldest = this.#entries.shift() as Entry;
      this.#bytes -= oldest.bytes;
      this.#dropped++;
      if (oldest.onDisk) void unlink(join(this.#dir, fileName(oldest.seq))).catch(() => undefined);
      this.#log.warn('outbox.dropped_oldest', { seq: oldest.seq, topic: oldest.message.topic, dropped: this.#dropped });
    }
  }

  async #writeFile(seq: number, m: OutgoingMessage): Promise<void> {
    const tmp = join(this.#dir, `${String(seq).padStart(16, '0')}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(serialize(m));
      if (this.#fsync === 'always') await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.#dir, fileName(seq)));
    if (this.#fsync === 'always') {
      const fd = openSync(this.#dir, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
    }
  }

  /**
   * Queues `message`; resolves once it is durable (on disk per the fsync policy, or in memory when
   * degraded). Never rejects. Ownership of `message` passes to the outbox.
   */
  async enqueue(message: OutgoingMessage): Promise<void> {
    const seq = this.#nextSeq++;
    let onDisk = false;
    if (!this.#degraded) {
      try {
        await this.#writeFile(seq, message);
        onDisk = true;
      } catch (e) {
        this.#degrade(e, 'write');
        await unlink(join(this.#dir, `${String(seq).padStart(16, '0')}.tmp`)).catch(() => undefined);
      }
    }
    this.#insert({ seq, message, bytes: sizeOf(message), enqueuedMs: this.#nowMs(), inFlight: false, onDisk });
  }

  /** The oldest message not yet handed out, now marked in flight; undefined when none. */
  takeNext(): OutboxEntry | undefined {
    for (const e of this.#entries) {
      if (!e.inFlight) {
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

  /** The broker acknowledged `seq`: forget it (and delete its file). Unknown seqs (evicted) are ignored. */
  async ack(seq: number): Promise<void> {
    const i = this.#find(seq);
    if (i < 0) return;
    const [e] = this.#entries.splice(i, 1) as [Entry];
    this.#bytes -= e.bytes;
    if (e.onDisk) {
      await unlink(join(this.#dir, fileName(seq))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.#log.warn('outbox.unlink_failed', { seq, reason: err.message });
      });
    }
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
    const first = this.#entries[0];
    return {
      depth: this.#entries.length,
      bytes: this.#bytes,
      inFlight: this.#entries.reduce((n, e) => n + (e.inFlight ? 1 : 0), 0),
      dropped: this.#dropped,
      degraded: this.#degraded,
      oldestAgeMs: first === undefined ? 0 : Math.max(0, this.#nowMs() - first.enqueuedMs),
    };
  }
}
