/**
 * The worker's side of the shared-memory hop (ring.ts, issue 16): while the worker has nothing to
 * do it blocks in `Atomics.wait` on the ring's doorbell instead of its event loop, so a request in
 * a slot is picked up with one futex wake-up (bench 1b: about half a postMessage round trip).
 *
 * Contract:
 * - The worker blocks only when no port message is pending or being handled: the main thread
 *   counts its posts in CTRL before posting and rings the doorbell after, so `messageArrived()` /
 *   `messageDone()` around each port message keep the worker in its event loop until every posted
 *   message has been handled and finished (load, unload, ping, crash and postMessage runs always
 *   get through; a load's async session creation is never starved by a blocked thread).
 * - Ring requests run one at a time in SEQ order; each answer goes into its own slot (DONE), or a
 *   failure (FAIL, "code\nmessage"), or, when the outputs do not fit the slot, by postMessage as a
 *   normal `ran` reply before the slot is marked POSTED. The slot's STATE is notified after.
 * - No timeout on the wait: `Worker.terminate()` interrupts `Atomics.wait` (checked: ~5 ms), and
 *   process exit ends the worker the same way, so a blocked worker never keeps anything alive.
 */
import { DOORBELL, CTRL, SLOTS, SlotState, fits, idIndex, openRing, readMessage, seqIndex, stateIndex, writeFailure, writeMessage, type Ring } from '../ring.js';
import type { NamedTensors } from '../../tensor.js';
import type { FromWorker, RunReply, WorkerFailure } from './protocol.js';

export type RunFn = (session: string, inputs: NamedTensors) => Promise<{ reply: RunReply; transfer: ArrayBuffer[] }>;
export type FailureOf = (e: unknown) => WorkerFailure;
export type Post = (msg: FromWorker, transfer: ArrayBuffer[]) => void;

export class RingServer {
  readonly #ring: Ring;
  readonly #run: RunFn;
  readonly #failure: FailureOf;
  readonly #post: Post;
  /** Port messages handled so far (compared with the main thread's CTRL count). */
  #handled = 0;
  /** Port messages whose work has not finished yet. */
  #busy = 0;
  #pumping = false;

  constructor(sab: SharedArrayBuffer, run: RunFn, failure: FailureOf, post: Post) {
    this.#ring = openRing(sab);
    this.#run = run;
    this.#failure = failure;
    this.#post = post;
  }

  /** Call first thing in the port's message handler. */
  messageArrived(): void {
    this.#handled++;
    this.#busy++;
  }

  /** Call when that message's work is finished (answered): the worker may block again. */
  messageDone(): void {
    this.#busy--;
    this.arm();
  }

  /** Starts the pump when nothing else needs the event loop. */
  arm(): void {
    if (this.#pumping || !this.#idle()) return;
    this.#pumping = true;
    void this.#pump();
  }

  #idle(): boolean {
    return this.#busy === 0 && Atomics.load(this.#ring.i32, CTRL) === this.#handled;
  }

  async #pump(): Promise<void> {
    const { i32 } = this.#ring;
    for (;;) {
      const bell = Atomics.load(i32, DOORBELL);
      if (!this.#idle()) break;
      const slot = this.#oldestRequest();
      if (slot >= 0) {
        await this.#serve(slot);
        continue;
      }
      Atomics.wait(i32, DOORBELL, bell);
    }
    this.#pumping = false;
  }

  #oldestRequest(): number {
    const { i32 } = this.#ring;
    let best = -1;
    let bestSeq = 0;
    for (let s = 0; s < SLOTS; s++) {
      if (Atomics.load(i32, stateIndex(s)) !== SlotState.REQ) continue;
      const seq = Atomics.load(i32, seqIndex(s));
      // SEQ wraps at 2^31: compare by difference.
      if (best < 0 || ((seq - bestSeq) | 0) < 0) {
        best = s;
        bestSeq = seq;
      }
    }
    return best;
  }

  async #serve(slot: number): Promise<void> {
    const ring = this.#ring;
    let state: number;
    try {
      // Copied out: onnxruntime-node refuses typed arrays on a SharedArrayBuffer ("Invalid argument").
      const req = readMessage(ring, slot, true);
      const { reply, transfer } = await this.#run(req.head, req.tensors);
      if (fits(ring, '', reply.outputs)) {
        writeMessage(ring, slot, '', reply.outputs, reply.inferenceMs);
        state = SlotState.DONE;
      } else {
        this.#post({ type: 'ran', id: Atomics.load(ring.i32, idIndex(slot)), reply, ring: true }, transfer);
        state = SlotState.POSTED;
      }
    } catch (e) {
      const f = this.#failure(e);
      writeFailure(ring, slot, f.code, f.message);
      state = SlotState.FAIL;
    }
    Atomics.store(ring.i32, stateIndex(slot), state);
    Atomics.notify(ring.i32, stateIndex(slot));
  }
}
