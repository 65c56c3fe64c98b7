/**
 * Maps onnxruntime error messages (node and web builds) to edge-infer codes.
 *
 * EDGE_ERR_MODEL_INVALID: the bytes are not a model ORT can accept at all (protobuf parse
 * failure, empty data, ONNX checker "invalid model", ORT status INVALID_PROTOBUF (7) /
 * INVALID_GRAPH (10), unknown operator). Anything else at load is EDGE_ERR_LOAD_FAILED.
 */
import type { ErrorCode } from '../errors.js';

const INVALID_MODEL = [
  // A protobuf whose tensors claim more data than the file holds (hostile or corrupt).
  /ShapeInferenceError|ValidateEmbeddedTensorProtoDataSizeAndShape/,
  /protobuf parsing failed/i,
  /INVALID_PROTOBUF/,
  /INVALID_GRAPH/,
  /ERROR_CODE: (7|10),/,
  /invalid model/i,
  /Model data pointer is null/i,
  /No graph was found/i,
  /No Op registered/i,
  /Unsupported model IR version/i,
];

export function loadErrorCode(message: string): ErrorCode {
  return INVALID_MODEL.some((re) => re.test(message)) ? 'EDGE_ERR_MODEL_INVALID' : 'EDGE_ERR_LOAD_FAILED';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
