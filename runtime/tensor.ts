/**
 * Plain tensors as they cross layers (transport -> scheduler -> backend and back). No onnxruntime
 * types here: only backend/ converts to and from `ort.Tensor`.
 *
 * Contract: `data.length === product(dims)`; dims are non-negative integers; data is owned by
 * whoever holds the Tensor (the backend may transfer its buffer to a worker; callers must not
 * reuse a tensor after handing it to `run`).
 */

export const TENSOR_DTYPES = ['float32', 'int64', 'int32', 'int8', 'uint8'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

export interface TensorDataFor {
  float32: Float32Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
}
export type TensorData = TensorDataFor[TensorDtype];

export interface Tensor {
  readonly dtype: TensorDtype;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

export type NamedTensors = Record<string, Tensor>;

export const BYTES_PER_ELEMENT: Readonly<Record<TensorDtype, number>> = { float32: 4, int64: 8, int32: 4, int8: 1, uint8: 1 };

export function isTensorDtype(s: unknown): s is TensorDtype {
  return typeof s === 'string' && (TENSOR_DTYPES as readonly string[]).includes(s);
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Allocates a zeroed typed array of `length` elements for `dtype`. */
export function allocate(dtype: TensorDtype, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int8':
      return new Int8Array(length);
    case 'uint8':
      return new Uint8Array(length);
  }
}

/** A typed-array view over `bytes` (copied when misaligned for the element size). */
export function viewBytes(dtype: TensorDtype, bytes: Uint8Array): TensorData {
  const size = BYTES_PER_ELEMENT[dtype];
  // Copy when misaligned. Not bytes.slice(): on a Node Buffer that is a view at the same offset.
  const buf = bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
  const length = buf.byteLength / size;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf.buffer, buf.byteOffset, length);
    case 'int64':
      return new BigInt64Array(buf.buffer, buf.byteOffset, length);
    case 'int32':
      return new Int32Array(buf.buffer, buf.byteOffset, length);
    case 'int8':
      return new Int8Array(buf.buffer, buf.byteOffset, length);
    case 'uint8':
      return new Uint8Array(buf.buffer, buf.byteOffset, length);
  }
}
