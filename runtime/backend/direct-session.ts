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
import { isTensorDtype, type NamedTensors, type TensorData } from '../tensor.js';
import { errorMessage, loadErrorCode } from './ort-errors.js';
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
  const options: OrtApi.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: spec.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: spec.graphOptimization,
    enableCpuMemArena: spec.memArena,
    enableMemPattern: spec.memPattern,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (e) {
    const message = errorMessage(e);
    throw new EdgeError(loadErrorCode(message), message);
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(inputs) {
      const feeds: Record<string, OrtApi.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, [...t.dims]);
      let out: OrtApi.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(feeds);
      } catch (e) {
        throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', errorMessage(e));
      }
      const result: NamedTensors = {};
      for (const [name, v] of Object.entries(out)) {
        const t = v as OrtApi.Tensor;
        if (!isTensorDtype(t.type)) throw new EdgeError('EDGE_ERR_INFERENCE_FAILED', `output "${name}" has unsupported dtype ${t.type}`);
        result[name] = { dtype: t.type, dims: [...t.dims], data: t.data as TensorData };
      }
      return result;
    },
    release: () => session.release(),
  };
}
