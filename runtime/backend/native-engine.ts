/**
 * onnxruntime-node sessions, one worker thread per model (see worker-engine.ts for the layout and
 * why `unload` terminates the worker).
 *
 * Errors: the constructor throws EDGE_ERR_BACKEND_UNAVAILABLE where onnxruntime-node has no binary
 * (32-bit ARM); the rest as InferenceEngine.
 */
import { EdgeError } from '../errors.js';
import { nativeAvailable } from './native-binary.js';
import { WorkerEngine, type EngineOptions } from './worker-engine.js';

export class NativeEngine extends WorkerEngine {
  constructor(options: EngineOptions = {}) {
    if (!nativeAvailable()) {
      throw new EdgeError('EDGE_ERR_BACKEND_UNAVAILABLE', `onnxruntime-node has no binary for ${process.platform}/${process.arch}`, { details: { platform: process.platform, arch: process.arch } });
    }
    super('native', options);
  }
}
