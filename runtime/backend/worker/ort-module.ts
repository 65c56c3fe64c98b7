/**
 * Loads the onnxruntime build a worker runs: onnxruntime-node (native) or onnxruntime-web (WASM).
 * Both expose the onnxruntime-common API, so the worker code is shared.
 *
 * WASM: the .wasm/.mjs files come from node_modules/onnxruntime-web/dist (a file:// URL in
 * `wasmPathsUrl`), never from the network. numThreads is 1: ORT-web's threaded build needs its
 * own nested workers and SharedArrayBuffer wiring that Node does not give it the browser way, and
 * the engine already runs each model on its own worker thread. proxy stays off (no extra worker).
 */
import type * as OrtApi from 'onnxruntime-common';
import type { WorkerBoot } from './protocol.js';

export type Ort = typeof OrtApi;

export async function loadOrt(boot: WorkerBoot): Promise<Ort> {
  if (boot.kind === 'native') {
    return (await import('onnxruntime-node')) as unknown as Ort;
  }
  const web = (await import('onnxruntime-web')) as unknown as Ort;
  web.env.wasm.numThreads = 1;
  web.env.wasm.proxy = false;
  if (boot.wasmPathsUrl !== undefined) web.env.wasm.wasmPaths = boot.wasmPathsUrl;
  return web;
}

export function ortVersion(ort: Ort, boot: WorkerBoot): string {
  const v = ort.env.versions;
  return `${boot.kind}-${(boot.kind === 'native' ? v.node : v.web) ?? v.common}`;
}
