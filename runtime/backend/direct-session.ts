/**
 * A session on the calling thread, kept open: the "raw onnxruntime" baseline for benchmarks and a
 * building block for tools. It BLOCKS the event loop during run (session.run is synchronous
 * native code); the service never uses it.
 *
 * Errors: open -> EDGE_ERR_MODEL_INVALID | EDGE_ERR_LOAD_FAILED; run -> EDGE_ERR_INFERENCE_FAILED.
 * Ownership: inputs are wrapped, not copied, and not modified; outputs are owned by the caller.
 */
import type * as OrtApi from 'onnxruntime-common';
import * as ortNode from 'onnxruntime-node';
import { EdgeError } from '../errors.js';
import type { NamedTensors } from '../tensor.js';
import { errorMessage, loadErrorCode } from './ort-errors.js';
import { runSession } from './run-once.js';
import { sessionOptions } from './session-options.js';
import type { SessionSpec } from './types.js';

const ort = ortNode as unknown as typeof OrtApi;

export interface DirectSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(inputs: NamedTensors): Promise<NamedTensors>;
  release(): Promise<void>;
}

/** Opens `model` (path or bytes) with onnxruntime-node on this thread, with the engine's session options. */
export async function openDirectSession(model: string | Uint8Array, spec: SessionSpec): Promise<DirectSession> {
  let session: OrtApi.InferenceSession;
  const options = sessionOptions({ backend: 'native', ...spec });
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (e) {
    const message = errorMessage(e);
    throw new EdgeError(loadErrorCode(message), message);
  }
  return { inputNames: session.inputNames, outputNames: session.outputNames, run: (inputs) => runSession(session, ort, inputs), release: () => session.release() };
}
