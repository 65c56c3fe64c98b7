/**
 * The main thread's side of the shared-memory hop (ring.ts, issue 16). It never blocks: it waits
 * for an answer with `Atomics.waitAsync` (a promise), so the event loop keeps running.
 *
 * Contract:
 * - `freeSlotFor` finds a slot for a run, or -1 when the inputs do not fit a slot (too large, or a
 *   dtype the ring does not carry) or every slot is busy: the caller then uses postMessage.
 *   Exactly one `onAnswer` call follows `send`, unless `close()` came first (the host then settles
 *   the request itself: crash or terminate).
 * - Every port message to the worker must be wrapped in `beforePost()` / `afterPost()`, so a worker
 *   blocked on the ring wakes and handles it (ring-server.ts).
 * - Inputs are copied into the slot (the caller's buffers are left as they were; the engine's
 *   contract still says they must not be reused). Outputs are copied out into arrays the caller owns.
 */
import { CTRL, DOORBELL, SLOTS, SlotState, fits, idIndex, openRing, readMessage, seqIndex, stateIndex, writeMessage, type Ring } from './ring.js';
import type { NamedTensors } from '../tensor.js';

/** Atomics.waitAsync (ES2024; in Node >= 16) is not in the ES2022 lib this project compiles against. */
type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export type RingAnswer =
  | { kind: 'done'; outputs: NamedTensors; inferenceMs: number }
  | { kind: 'fail'; code: string; message: string }
  /** The outputs did not fit: they come as a `ran` port message with the same id. */
  | { kind: 'posted' };

export class RingClient {
  readonly #ring: Ring;
  readonly #onAnswer: (id: number, answer: RingAnswer) => void;
  #seq = 0;
  #closed = false;

  constructor(sab: SharedArrayBuffer, onAnswer: (id: number, answer: RingAnswer) => void) {
    this.#ring = openRing(sab);
    this.#onAnswer = onAnswer;
  }

  get slotBytes(): number {
    return this.#ring.slotBytes;
  }

  beforePost(): void {
    Atomics.add(this.#ring.i32, CTRL, 1);
  }

  afterPost(): void {
    this.#bell();
  }

  /** A free slot that `inputs` (for `session`) fit, or -1: the caller then uses postMessage. */
  freeSlotFor(session: string, inputs: NamedTensors): number {
    if (this.#closed || !fits(this.#ring, session, inputs)) return -1;
    for (let s = 0; s < SLOTS; s++) if (Atomics.load(this.#ring.i32, stateIndex(s)) === SlotState.FREE) return s;
    return -1;
  }

  /**
   * Writes request `id` into `slot` (from `freeSlotFor`, in the same tick) and rings the worker.
   * The answer may be read before this returns: register `id` first. Inputs must be checked by the caller.
   */
  send(slot: number, id: number, session: string, inputs: NamedTensors): void {
    const { i32 } = this.#ring;
    writeMessage(this.#ring, slot, session, inputs);
    Atomics.store(i32, idIndex(slot), id);
    Atomics.store(i32, seqIndex(slot), (this.#seq = (this.#seq + 1) | 0));
    Atomics.store(i32, stateIndex(slot), SlotState.REQ);
    this.#bell();
    this.#watch(slot);
  }

  /** Stops watching: pending slot waits are woken and answer nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (let s = 0; s < SLOTS; s++) Atomics.notify(this.#ring.i32, stateIndex(s));
  }

  #bell(): void {
    Atomics.add(this.#ring.i32, DOORBELL, 1);
    Atomics.notify(this.#ring.i32, DOORBELL);
  }

  #watch(slot: number): void {
    if (this.#closed) return;
    const { i32 } = this.#ring;
    const state = Atomics.load(i32, stateIndex(slot));
    if (state === SlotState.REQ) {
      const w = waitAsync(i32, stateIndex(slot), SlotState.REQ);
      if (w.async) void (w.value as Promise<string>).then(() => this.#watch(slot));
      else this.#watch(slot);
      return;
    }
    const id = Atomics.load(i32, idIndex(slot));
    let answer: RingAnswer;
    if (state === SlotState.DONE) {
      const m = readMessage(this.#ring, slot, true);
      answer = { kind: 'done', outputs: m.tensors, inferenceMs: m.num };
    } else if (state === SlotState.FAIL) {
      const head = readMessage(this.#ring, slot, true).head;
      const nl = head.indexOf('\n');
      answer = { kind: 'fail', code: head.slice(0, nl), message: head.slice(nl + 1) };
    } else {
      answer = { kind: 'posted' };
    }
    Atomics.store(i32, stateIndex(slot), SlotState.FREE);
    this.#onAnswer(id, answer);
  }
}
