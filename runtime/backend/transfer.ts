/**
 * Transfer lists for tensors crossing a thread boundary.
 *
 * Contract: `transferable(tensors)` returns the buffers to move. A tensor whose typed array is a
 * view on part of a larger buffer (a pooled Node Buffer, a slice) is first replaced by a tight
 * copy, because transferring would detach the whole buffer and cloning would copy all of it.
 * Tensors passed here must not be used by the caller afterwards (see runtime/tensor.ts).
 */
import { EdgeError } from '../errors.js';
import { elementCount, type NamedTensors, type Tensor, type TensorData } from '../tensor.js';

function tight(data: TensorData): TensorData {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (whole && data.buffer instanceof ArrayBuffer) return data;
  return data.slice() as TensorData;
}

/** Throws EDGE_ERR_BAD_TENSOR when a tensor's data does not match its dims (or was detached by an earlier run). */
export function checkTensor(name: string, t: Tensor): void {
  // A detached buffer (a tensor already handed to another run) reads as length 0.
  if (t.data.length !== elementCount(t.dims)) {
    throw new EdgeError('EDGE_ERR_BAD_TENSOR', `tensor "${name}" holds ${t.data.length} values, its dims [${t.dims.join(', ')}] need ${elementCount(t.dims)} (was it already passed to another run?)`, { details: { name } });
  }
}

/** Rewrites `tensors` in place so each owns a whole ArrayBuffer, and returns those buffers. */
export function prepareTransfer(tensors: NamedTensors): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  const seen = new Set<ArrayBuffer>();
  for (const [name, t] of Object.entries(tensors)) {
    checkTensor(name, t);
    let data = tight(t.data);
    if (seen.has(data.buffer as ArrayBuffer)) data = data.slice() as TensorData;
    const moved: Tensor = { dtype: t.dtype, dims: [...t.dims], data };
    tensors[name] = moved;
    seen.add(data.buffer as ArrayBuffer);
    list.push(data.buffer as ArrayBuffer);
  }
  return list;
}
