/**
 * A prototype of the outbox fix proposed for runtime/transport/outbox.ts (NOT used by the service):
 * group commit. Answers queued while a commit is running form the next group; a group is written
 * as ONE segment file (length-prefixed messages) with one fsync, one rename and one ASYNC directory
 * fsync, then every enqueue in it resolves. A segment is deleted when all its messages are acked.
 * Same durability as fsync 'always' (an enqueue resolves only once its bytes and directory entry
 * are on disk), with fsyncs per group instead of per answer and no synchronous I/O on the event loop.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

interface Waiting { bytes: Buffer; resolve: (ref: { segment: number }) => void; reject: (e: unknown) => void }

export class GroupCommitLog {
  readonly #dir: string;
  #pending: Waiting[] = [];
  #committing = false;
  #seq = 1;
  readonly #live = new Map<number, number>();

  constructor(dir: string) { this.#dir = dir; }

  /** Resolves once `bytes` is durable; the ref is what `ack` takes. */
  enqueue(bytes: Buffer): Promise<{ segment: number }> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ bytes, resolve, reject });
      if (!this.#committing) void this.#commit();
    });
  }

  async ack(ref: { segment: number }): Promise<void> {
    const left = (this.#live.get(ref.segment) ?? 1) - 1;
    if (left > 0) { this.#live.set(ref.segment, left); return; }
    this.#live.delete(ref.segment);
    await unlink(join(this.#dir, `${ref.segment}.seg`)).catch(() => undefined);
  }

  async #commit(): Promise<void> {
    this.#committing = true;
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      const segment = this.#seq++;
      try {
        const parts: Buffer[] = [];
        for (const w of group) {
          const len = Buffer.alloc(4);
          len.writeUInt32LE(w.bytes.byteLength);
          parts.push(len, w.bytes);
        }
        const tmp = join(this.#dir, `${segment}.tmp`);
        const fh = await open(tmp, 'w');
        try { await fh.writeFile(Buffer.concat(parts)); await fh.sync(); } finally { await fh.close(); }
        await rename(tmp, join(this.#dir, `${segment}.seg`));
        const d = await open(this.#dir, 'r');
        try { await d.sync(); } finally { await d.close(); }
        this.#live.set(segment, group.length);
        for (const w of group) w.resolve({ segment });
      } catch (e) {
        for (const w of group) w.reject(e);
      }
    }
    this.#committing = false;
  }
}
