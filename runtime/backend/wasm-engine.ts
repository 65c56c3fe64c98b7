/**
 * onnxruntime-web (WASM) sessions in Node, for platforms without an onnxruntime-node binary
 * (32-bit ARM). Same layout as native: one worker thread per model, so inference never blocks
 * the main event loop.
 *
 * The .wasm/.mjs files are loaded from node_modules/onnxruntime-web/dist via a file:// URL, never
 * from the network. One WASM thread per session (see worker/ort-module.ts). The optimized-model
 * cache is not used under WASM (ORT-web would write it to its in-memory file system), so
 * `fromCache` is always false.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EdgeError } from '../errors.js';
import { WorkerEngine, type EngineOptions } from './worker-engine.js';

/** file:// URL of onnxruntime-web's dist/ folder, ending with "/". Throws EDGE_ERR_BACKEND_UNAVAILABLE if absent. */
export function wasmDistUrl(): string {
  try {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
    return pathToFileURL(dist + '/').href;
  } catch (e) {
    throw new EdgeError('EDGE_ERR_BACKEND_UNAVAILABLE', 'onnxruntime-web is not installed', { cause: e });
  }
}

export class WasmEngine extends WorkerEngine {
  constructor(options: EngineOptions = {}) {
    super('wasm', options, wasmDistUrl());
  }
}
