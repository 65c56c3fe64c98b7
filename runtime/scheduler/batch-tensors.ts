/**
 * Concatenating requests along dim 0 and splitting a batched result back by rows.
 *
 * Contract: `concatRows` expects parts with the same input names, dtypes and dims after dim 0
 * (the queue only batches requests with equal `signature`); a single part is returned as is
 * (no copy). `splitRows` copies each output slice so every request owns its buffers; it throws
 * EDGE_ERR_INFERENCE_FAILED when an output is not batched along dim 0.
 */
import { EdgeError } from '../errors.js';
import { allocate, elementCount, type NamedTensors, type Tensor, type TensorData } from '../tensor.js';

/** Batching key of a request: input names, dtypes and dims after dim 0. */
export function signature(inputs: NamedTensors): string {
  return Object.keys(inputs)
    .sort()
    .map((name) => {
      const t = inputs[name] as Tensor;
      return `${name}:${t.dtype}:${t.dims.slice(1).join('x')}`;
    })
    .join('|');
}

function setAt(target: TensorData, source: TensorData, offset: number): void {
  (target as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }).set(source as ArrayLike<number | bigint>, offset);
}

export function concatRows(parts: readonly NamedTensors[]): NamedTensors {
  const first = parts[0];
  if (first === undefined) return {};
  if (parts.length === 1) return first;
  const merged: NamedTensors = {};
  for (const [name, t0] of Object.entries(first)) {
    const rows = parts.reduce((n, p) => n + ((p[name] as Tensor).dims[0] ?? 0), 0);
    const dims = [rows, ...t0.dims.slice(1)];
    const data = allocate(t0.dtype, elementCount(dims));
    let offset = 0;
    for (const p of parts) {
      const t = p[name] as Tensor;
      setAt(data, t.data, offset);
      offset += t.data.length;
    }
    merged[name] = { dtype: t0.dtype, dims, data };
  }
  return merged;
}

export function splitRows(outputs: NamedTensors, rowsPerPart: readonly number[]): NamedTensors[] {
  if (rowsPerPart.length === 1) return [outputs];
  const total = rowsPerPart.reduce((a, b) => a + b, 0);
  const parts: NamedTensors[] = rowsPerPart.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) {
      throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `output "${name}" has dims [${t.dims.join(',')}], not batched along dim 0 (${total} rows); turn batching off for this model`);
    }
    const rowSize = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    rowsPerPart.forEach((rows, i) => {
      const data = t.data.slice(row * rowSize, (row + rows) * rowSize) as TensorData;
      (parts[i] as NamedTensors)[name] = { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data };
      row += rows;
    });
  }
  return parts;
}
