/**
 * Backend choice: "auto" is native where onnxruntime-node has a binary for this platform, WASM
 * otherwise; "native" where there is none throws EDGE_ERR_BACKEND_UNAVAILABLE.
 */
import type { BackendKind, BackendPref } from '../config/types.js';
import { EdgeError } from '../errors.js';
import { nativeAvailable, type PlatformProbe } from './native-binary.js';
import { NativeEngine } from './native-engine.js';
import { WasmEngine } from './wasm-engine.js';
import type { EngineOptions } from './worker-engine.js';

export { nativeAvailable } from './native-binary.js';
export type { PlatformProbe } from './native-binary.js';

/** The backend `pref` resolves to on this platform. Throws EDGE_ERR_BACKEND_UNAVAILABLE for native without a binary. */
export function resolveBackend(pref: BackendPref, probe?: PlatformProbe): BackendKind {
  const native = nativeAvailable(probe);
  if (pref === 'wasm') return 'wasm';
  if (pref === 'native' && !native) {
    const p = probe ?? { platform: process.platform, arch: process.arch };
    throw new EdgeError('EDGE_ERR_BACKEND_UNAVAILABLE', `onnxruntime-node has no binary for ${p.platform}/${p.arch}`, { details: { platform: p.platform, arch: p.arch } });
  }
  return native ? 'native' : 'wasm';
}

export function createEngine(pref: BackendPref, options: EngineOptions = {}): NativeEngine | WasmEngine {
  return resolveBackend(pref) === 'native' ? new NativeEngine(options) : new WasmEngine(options);
}
