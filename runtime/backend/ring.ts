/**
 * The shared-memory hop between an engine (main thread) and one session worker (issue 16): a
 * SharedArrayBuffer with a small header and SLOTS fixed-size slots. Both sides import this file;
 * it holds the layout and the tensor codec, no policy.
 *
 * Layout (Int32 words, then the slots' bytes from DATA_OFFSET):
 *   [DOORBELL] bumped by the main thread after every write meant for the worker (a request in a
 *              slot, or a control message posted on the port); the worker `Atomics.wait`s on it.
 *   [CTRL]     count of messages the main thread has posted on the port, bumped BEFORE each post:
 *              while it differs from what the worker has handled, the worker stays in its event
 *              loop (so load / unload / ping / crash always get through; worker/ring-server.ts).
 *   per slot s, at SLOT_WORDS + s * 4: [STATE, SEQ, ID, -]
 *     STATE FREE -> REQ (main wrote a request) -> DONE | FAIL | POSTED (worker wrote the answer,
 *     or sent it by postMessage because it did not fit) -> FREE (main read it).
 *     The worker notifies STATE when it leaves REQ; the main thread waits with Atomics.waitAsync.
 *     SEQ orders requests (the worker takes the lowest REQ first); ID is the request id.
 *
 * Message in a slot: f64 number (inferenceMs in a reply), u32 tensor count, u16 head length, head
 * (UTF-8: the session name in a request, "code\nmessage" in a failure), then per tensor u16 name
 * length, name, u8 dtype code, u8 rank, u32 dims; then each tensor's bytes, 8-aligned.
 * Only edge-infer's own dtypes (runtime/tensor.ts) are encoded; anything else does not fit.
 */
import { EdgeError } from '../errors.js';
import { BYTES_PER_ELEMENT, TENSOR_DTYPES, elementCount, type NamedTensors, type TensorData, type TensorDtype } from '../tensor.js';

/** Slots per worker: one model's queue keeps 1 run in flight by default; the shared WASM runtime serves several models. */
export const SLOTS = 4;
export const DOORBELL = 0;
export const CTRL = 1;
const SLOT_WORDS = 4;
/** Slot states (the STATE word). */
export const SlotState = { FREE: 0, REQ: 1, DONE: 2, FAIL: 3, POSTED: 4 } as const;
const DATA_OFFSET = (SLOT_WORDS + SLOTS * 4) * 4;

export const stateIndex = (slot: number): number => SLOT_WORDS + slot * 4;
export const seqIndex = (slot: number): number => SLOT_WORDS + slot * 4 + 1;
export const idIndex = (slot: number): number => SLOT_WORDS + slot * 4 + 2;

/** A ring's views. `slotBytes` is each slot's payload capacity. */
export interface Ring {
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly bytes: Buffer;
  readonly view: DataView;
  readonly slotBytes: number;
}

/** Allocates a ring whose slots carry up to `slotBytes` each (rounded up to 8). */
export function createRing(slotBytes: number): SharedArrayBuffer {
  checkSlotBytes(slotBytes);
  return new SharedArrayBuffer(DATA_OFFSET + SLOTS * align8(slotBytes));
}

/** Throws EDGE_ERR_CONFIG_INVALID unless `slotBytes` is 0 (ring off) or an integer from 64 to 64 MB. */
export function checkSlotBytes(slotBytes: number): void {
  if (slotBytes === 0 || (Number.isInteger(slotBytes) && slotBytes >= 64 && slotBytes <= 64 * 1024 * 1024)) return;
  throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `ringSlotBytes must be 0 (ring off) or an integer from 64 to 67108864, got ${slotBytes}`, { details: { ringSlotBytes: slotBytes } });
}

/** Throws EDGE_ERR_CONFIG_INVALID unless `ms` is a number >= 0 (Infinity allowed). */
export function checkRingMaxRunMs(ms: number): void {
  if (typeof ms === 'number' && ms >= 0) return;
  throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `ringMaxRunMs must be a number >= 0 (Infinity: always the ring), got ${ms}`, { details: { ringMaxRunMs: ms } });
}

/** Views on a ring made by `createRing` (either thread). */
export function openRing(sab: SharedArrayBuffer): Ring {
  return { sab, i32: new Int32Array(sab, 0, DATA_OFFSET / 4), bytes: Buffer.from(sab), view: new DataView(sab), slotBytes: (sab.byteLength - DATA_OFFSET) / SLOTS };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

const slotBase = (ring: Ring, slot: number): number => DATA_OFFSET + slot * ring.slotBytes;

const MAX_STRING = 0xffff;

/** Bytes the message would take in a slot, or -1 when the ring cannot carry it (a dtype not in runtime/tensor.ts, a name over 64 KB, rank over 255). */
export function messageBytes(head: string, tensors: NamedTensors): number {
  const headBytes = Buffer.byteLength(head);
  if (headBytes > MAX_STRING) return -1;
  let meta = 14 + headBytes;
  let data = 0;
  for (const name in tensors) {
    const t = tensors[name] as NamedTensors[string];
    const nameBytes = Buffer.byteLength(name);
    // Lengths and ranks are stored in u16 / u8 words, dims in u32.
    if (!TENSOR_DTYPES.includes(t.dtype) || nameBytes > MAX_STRING || t.dims.length > 255 || t.dims.some((d) => d > 0xffffffff)) return -1;
    meta += 4 + nameBytes + 4 * t.dims.length;
    data += align8(t.data.byteLength);
  }
  return align8(meta) + data;
}

/** True when `tensors` with `head` fit one slot of `ring`. */
export function fits(ring: Ring, head: string, tensors: NamedTensors): boolean {
  const n = messageBytes(head, tensors);
  return n >= 0 && n <= ring.slotBytes;
}

/** Writes a message into `slot`. Precondition: `fits(ring, head, tensors)`. */
export function writeMessage(ring: Ring, slot: number, head: string, tensors: NamedTensors, num = 0): void {
  const base = slotBase(ring, slot);
  const { view, bytes } = ring;
  view.setFloat64(base, num, true);
  let n = 0;
  for (const _ in tensors) n++;
  view.setUint32(base + 8, n, true);
  let at = base + 14;
  const headLen = bytes.write(head, at, 'utf8');
  view.setUint16(base + 12, headLen, true);
  at += headLen;
  for (const name in tensors) {
    const t = tensors[name] as NamedTensors[string];
    const len = bytes.write(name, at + 2, 'utf8');
    view.setUint16(at, len, true);
    at += 2 + len;
    view.setUint8(at, TENSOR_DTYPES.indexOf(t.dtype));
    view.setUint8(at + 1, t.dims.length);
    at += 2;
    for (const d of t.dims) {
      view.setUint32(at, d, true);
      at += 4;
    }
  }
  at = base + align8(at - base);
  for (const name in tensors) {
    const d = (tensors[name] as NamedTensors[string]).data;
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += align8(d.byteLength);
  }
}

export interface Message {
  head: string;
  num: number;
  tensors: NamedTensors;
}

/**
 * Reads the message in `slot`. `copy` false gives typed arrays that are views on the slot (valid
 * only until the slot is written again; onnxruntime-node refuses them as inputs); true gives
 * arrays on their own ArrayBuffers, owned by the caller.
 */
export function readMessage(ring: Ring, slot: number, copy: boolean): Message {
  const base = slotBase(ring, slot);
  const { view, bytes } = ring;
  const num = view.getFloat64(base, true);
  const n = view.getUint32(base + 8, true);
  const headLen = view.getUint16(base + 12, true);
  let at = base + 14;
  const head = bytes.toString('utf8', at, at + headLen);
  at += headLen;
  const metas: { name: string; dtype: TensorDtype; dims: number[] }[] = [];
  for (let i = 0; i < n; i++) {
    const len = view.getUint16(at, true);
    const name = bytes.toString('utf8', at + 2, at + 2 + len);
    at += 2 + len;
    const dtype = TENSOR_DTYPES[view.getUint8(at)] as TensorDtype;
    const rank = view.getUint8(at + 1);
    at += 2;
    const dims: number[] = [];
    for (let k = 0; k < rank; k++) {
      dims.push(view.getUint32(at, true));
      at += 4;
    }
    metas.push({ name, dtype, dims });
  }
  at = base + align8(at - base);
  const tensors: NamedTensors = {};
  for (const m of metas) {
    const count = elementCount(m.dims);
    const data = typedView(m.dtype, ring.sab, at, count);
    tensors[m.name] = { dtype: m.dtype, dims: m.dims, data: copy ? (data.slice() as TensorData) : data };
    at += align8(count * BYTES_PER_ELEMENT[m.dtype]);
  }
  return { head, num, tensors };
}

function typedView(dtype: TensorDtype, sab: SharedArrayBuffer, offset: number, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(sab, offset, length);
    case 'int64':
      return new BigInt64Array(sab, offset, length);
    case 'int32':
      return new Int32Array(sab, offset, length);
    case 'int8':
      return new Int8Array(sab, offset, length);
    case 'uint8':
      return new Uint8Array(sab, offset, length);
  }
}

/** Writes a failure ("code\nmessage", the message cut to fit; a slot holds at least 64 bytes) into `slot`. */
export function writeFailure(ring: Ring, slot: number, code: string, message: string): void {
  let head = `${code}\n${message}`;
  const room = Math.min(ring.slotBytes - 14, MAX_STRING);
  if (Buffer.byteLength(head) > room)
    head = Buffer.from(head)
      .subarray(0, Math.max(0, room - 4))
      .toString('utf8');
  writeMessage(ring, slot, head, {});
}
