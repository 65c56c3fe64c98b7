/**
 * TensorProto helpers: decode initializers to typed arrays, build new initializers (always as
 * little-endian raw_data, the form ORT reads fastest).
 *
 * Contract: decoders return fresh arrays owned by the caller. They throw EDGE_ERR_ONNX_PARSE for
 * external-data tensors (not supported) and EDGE_ERR_QUANTIZE_UNSUPPORTED for data types they
 * cannot convert.
 */
import { EdgeError } from '../errors.js';
import { DATA_TYPE_BITS, DataType } from './onnx-schema.js';
import type { TensorProto } from './onnx-types.js';

/** A TensorProto with every repeated field empty. */
export function emptyTensor(name: string, dataType: number, dims: readonly number[]): TensorProto {
  return { name, dataType, dims: [...dims], floatData: [], int32Data: [], stringData: [], int64Data: [], doubleData: [], uint64Data: [], externalData: [], metadataProps: [] };
}

export function tensorElementCount(t: TensorProto): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** Bytes the tensor's data takes (external data included). */
export function tensorByteSize(t: TensorProto): number {
  const bits = DATA_TYPE_BITS[t.dataType ?? 0] ?? 0;
  if (t.dataType === DataType.STRING) return t.stringData.reduce((a, s) => a + s.byteLength, 0);
  return Math.ceil((tensorElementCount(t) * bits) / 8);
}

function rawCopy(t: TensorProto): ArrayBuffer {
  const raw = t.rawData as Uint8Array;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return copy.buffer;
}

function checkInline(t: TensorProto): void {
  if (t.dataLocation === 1) {
    throw new EdgeError('EDGE_ERR_ONNX_PARSE', `tensor "${t.name ?? ''}" keeps its data in an external file, which is not supported`, { details: { tensor: t.name } });
  }
}

/** The tensor's values as float32 (FLOAT, DOUBLE, and integer types convert). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  checkInline(t);
  const n = tensorElementCount(t);
  const dt = t.dataType ?? 0;
  if (t.rawData !== undefined) {
    const buf = rawCopy(t);
    switch (dt) {
      case DataType.FLOAT:
        return new Float32Array(buf);
      case DataType.DOUBLE:
        return Float32Array.from(new Float64Array(buf));
      case DataType.INT8:
        return Float32Array.from(new Int8Array(buf));
      case DataType.UINT8:
        return Float32Array.from(new Uint8Array(buf));
      case DataType.INT32:
        return Float32Array.from(new Int32Array(buf));
      case DataType.INT64:
        return Float32Array.from(new BigInt64Array(buf), (v) => Number(v));
      default:
        break;
    }
  } else {
    switch (dt) {
      case DataType.FLOAT:
        return Float32Array.from(t.floatData);
      case DataType.DOUBLE:
        return Float32Array.from(t.doubleData);
      case DataType.INT8:
      case DataType.UINT8:
      case DataType.INT32:
      case DataType.INT16:
      case DataType.UINT16:
        return Float32Array.from(t.int32Data);
      case DataType.INT64:
        return Float32Array.from(t.int64Data);
      default:
        break;
    }
  }
  throw new EdgeError('EDGE_ERR_QUANTIZE_UNSUPPORTED', `tensor "${t.name ?? ''}" has data_type ${dt}, which cannot be read as float (${n} elements)`, { details: { tensor: t.name, dataType: dt } });
}

/** The tensor's values as numbers (INT64 / INT32 shape constants; float types too). */
export function tensorToNumbers(t: TensorProto): number[] {
  checkInline(t);
  if (t.dataType === DataType.INT64) {
    if (t.rawData !== undefined) return Array.from(new BigInt64Array(rawCopy(t)), (v) => Number(v));
    return [...t.int64Data];
  }
  return Array.from(tensorToFloat32(t));
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function makeFloatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  return { ...emptyTensor(name, DataType.FLOAT, dims), rawData: bytesOf(data) };
}

export function makeInt8Tensor(name: string, dims: readonly number[], data: Int8Array): TensorProto {
  return { ...emptyTensor(name, DataType.INT8, dims), rawData: bytesOf(data) };
}

export function makeUint8Tensor(name: string, dims: readonly number[], data: Uint8Array): TensorProto {
  return { ...emptyTensor(name, DataType.UINT8, dims), rawData: bytesOf(data) };
}

export function makeInt64Tensor(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  return { ...emptyTensor(name, DataType.INT64, dims), rawData: bytesOf(BigInt64Array.from(data, (v) => BigInt(v))) };
}

/** Row-major transpose of a [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}
