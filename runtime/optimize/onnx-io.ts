/**
 * Reads and writes ONNX ModelProto files with protobufjs (schema in onnx-schema.ts).
 *
 * Contract:
 * - readOnnx throws EdgeError EDGE_ERR_ONNX_PARSE for anything that is not a well-formed ONNX model:
 *   bad wire data, truncation, no graph, or a tensor whose declared dims do not match its data (a
 *   hostile file claiming a huge tensor is refused before anything is allocated for it).
 * - The returned model's byte fields are views into `bytes`: the caller must not mutate `bytes`
 *   while the model is in use.
 * - writeOnnx(readOnnx(b)) decodes to an object deep-equal to readOnnx(b) (lossless round trip).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type protobuf from 'protobufjs';
import { EdgeError } from '../errors.js';
import { DATA_TYPE_BITS, DataType, onnxRoot } from './onnx-schema.js';
import type { AttributeProto, GraphProto, OnnxModel, TensorProto } from './onnx-types.js';

const CONVERSION: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: false, arrays: true, objects: false, oneofs: false };

function modelType(): protobuf.Type {
  return onnxRoot().lookupType('onnx.ModelProto');
}

function parseError(message: string, details: Record<string, unknown> = {}, cause?: unknown): EdgeError {
  return new EdgeError('EDGE_ERR_ONNX_PARSE', message, cause === undefined ? { details } : { details, cause });
}

/** Number of elements `dims` declares; throws EDGE_ERR_ONNX_PARSE on negative or non-integer dims. */
function declaredCount(t: TensorProto): number {
  let n = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw parseError(`tensor "${t.name ?? ''}" has an invalid dimension ${d}`, { tensor: t.name });
    n *= d;
  }
  return n;
}

function checkTensor(t: TensorProto, fileBytes: number): void {
  const count = declaredCount(t);
  if (t.dataLocation === 1) return; // external data: sizes are checked when (if) the data is read
  const dataType = t.dataType ?? 0;
  const bits = DATA_TYPE_BITS[dataType];
  if (bits === undefined) throw parseError(`tensor "${t.name ?? ''}" has unknown data_type ${dataType}`, { tensor: t.name });
  const bytes = Math.ceil((count * bits) / 8);
  if (bytes > fileBytes) {
    throw parseError(`tensor "${t.name ?? ''}" declares ${bytes} bytes, more than the whole file (${fileBytes})`, { tensor: t.name, declaredBytes: bytes, fileBytes });
  }
  if (t.rawData !== undefined) {
    if (dataType !== DataType.STRING && t.rawData.byteLength !== bytes) {
      throw parseError(`tensor "${t.name ?? ''}" raw_data holds ${t.rawData.byteLength} bytes but its dims declare ${bytes}`, { tensor: t.name });
    }
    return;
  }
  const held = t.floatData.length + t.int32Data.length + t.stringData.length + t.int64Data.length + t.doubleData.length + t.uint64Data.length;
  const complex = dataType === DataType.COMPLEX64 || dataType === DataType.COMPLEX128;
  const packed4 = bits === 4 && t.int32Data.length === Math.ceil(count / 2);
  if (held !== (complex ? 2 * count : count) && !packed4) {
    throw parseError(`tensor "${t.name ?? ''}" holds ${held} values but its dims declare ${count}`, { tensor: t.name });
  }
}

function checkAttribute(a: AttributeProto, fileBytes: number, depth: number): void {
  if (a.t) checkTensor(a.t, fileBytes);
  for (const t of a.tensors) checkTensor(t, fileBytes);
  if (a.g) checkGraph(a.g, fileBytes, depth + 1);
  for (const g of a.graphs) checkGraph(g, fileBytes, depth + 1);
}

function checkGraph(g: GraphProto, fileBytes: number, depth: number): void {
  if (depth > 64) throw parseError('subgraphs nest deeper than 64 levels');
  for (const t of g.initializer) checkTensor(t, fileBytes);
  for (const n of g.node) for (const a of n.attribute) checkAttribute(a, fileBytes, depth);
}

/** Decodes an ONNX model. Throws EDGE_ERR_ONNX_PARSE (see the module contract). */
export function readOnnx(bytes: Uint8Array): OnnxModel {
  const type = modelType();
  let model: OnnxModel;
  try {
    const message = type.decode(bytes);
    model = type.toObject(message, CONVERSION) as unknown as OnnxModel;
  } catch (e) {
    throw parseError(`not an ONNX protobuf: ${e instanceof Error ? e.message : String(e)}`, { bytes: bytes.byteLength }, e);
  }
  if (model.graph === undefined || model.irVersion === undefined || model.irVersion <= 0) {
    throw parseError('not an ONNX model: no graph or no ir_version', { bytes: bytes.byteLength });
  }
  checkGraph(model.graph, bytes.byteLength, 0);
  return model;
}

/** Encodes a model to ONNX protobuf bytes. Throws EDGE_ERR_ONNX_PARSE if the object does not fit the schema. */
export function writeOnnx(model: OnnxModel): Uint8Array {
  const type = modelType();
  const invalid = type.verify(model);
  if (invalid !== null) throw parseError(`model object does not fit the ONNX schema: ${invalid}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Reads a model file. Throws EDGE_ERR_FILE_MISSING when absent, EDGE_ERR_ONNX_PARSE when unreadable. */
export async function readOnnxFile(path: string): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new EdgeError('EDGE_ERR_FILE_MISSING', `cannot read ${path}`, { details: { path }, cause: e });
  }
  try {
    return readOnnx(bytes);
  } catch (e) {
    if (e instanceof EdgeError) throw new EdgeError(e.code, `${path}: ${e.message}`, { details: { ...e.details, path }, cause: e });
    throw e;
  }
}

/** Writes a model file; resolves to the bytes written. */
export async function writeOnnxFile(path: string, model: OnnxModel): Promise<Uint8Array> {
  const bytes = writeOnnx(model);
  await writeFile(path, bytes);
  return bytes;
}
