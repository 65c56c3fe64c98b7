/**
 * Loads the onnxruntime build a worker runs: onnxruntime-node (native) or onnxruntime-web (WASM).
 * Both expose the onnxruntime-common API, so the worker code is shared.
 *
 * WASM: the .wasm/.mjs files come from node_modules/onnxruntime-web/dist (a file:// URL in
 * `wasmPathsUrl`), never from the network. numThreads is `boot.wasmThreads` (default 1): more
 * starts ORT-web's own pthread workers (a worker isolate each) inside the runtime; issue 18
 * measured 1 vs 2 vs 4 (bench/wasm-memory.ts) and the engine keeps 1 (README, "WASM memory").
 * proxy stays off (no extra worker).
 */
import type * as OrtApi from 'onnxruntime-common';
import type { WorkerBoot } from './protocol.js';

export type Ort = typeof OrtApi;

export async function loadOrt(boot: WorkerBoot): Promise<Ort> {
  if (boot.kind === 'native') {
    return (await import('onnxruntime-node')) as unknown as Ort;
  }
  const web = (await import('onnxruntime-web')) as unknown as Ort;
  web.env.wasm.numThreads = boot.wasmThreads ?? 1;
  web.env.wasm.proxy = false;
  if (boot.wasmPathsUrl !== undefined) web.env.wasm.wasmPaths = boot.wasmPathsUrl;
  return web;
}

export function ortVersion(ort: Ort, boot: WorkerBoot): string {
  const v = ort.env.versions;
  return `${boot.kind}-${(boot.kind === 'native' ? v.node : v.web) ?? v.common}`;
}
