import type { WasmMemoryFigures } from './types.js';

export const WASM_REFERENCE: WasmMemoryFigures = { measuredOn: 'placeholder', runtimeMB: 0, variants: [], fallback: { baseMB: 0, perFileMB: 1 } };
