/**
 * The floor of ANY worker-thread design, for section 1: a minimal worker holding one raw
 * onnxruntime-node session; the main thread posts the input (transferred) and awaits the output
 * (transferred back). No queue, no protocol, no validation: what is left is the two thread
 * wake-ups and onnxruntime's own run on another thread.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sessionOptions, TOOL_SESSION } from '../runtime/backend/session-options.js';
import type { NamedTensors } from '../runtime/tensor.js';

const ORT = createRequire(import.meta.url).resolve('onnxruntime-node');

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
ort.InferenceSession.create(workerData.file, workerData.options).then((s) => {
  parentPort.on('message', async (inputs) => {
    const feeds = {};
    for (const [k, t] of Object.entries(inputs)) feeds[k] = new ort.Tensor(t.dtype, t.data, t.dims);
    const out = await s.run(feeds);
    const first = out[s.outputNames[0]];
    parentPort.postMessage(first.data, [first.data.buffer]);
  });
  parentPort.postMessage('ready');
});`;

export interface BareWorker {
  run(inputs: NamedTensors): Promise<unknown>;
  close(): Promise<void>;
}

export async function startBareWorker(file: string): Promise<BareWorker> {
  const w = new Worker(SOURCE, { eval: true, workerData: { ort: ORT, file, options: sessionOptions({ ...TOOL_SESSION, backend: 'native' }) } });
  await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return {
    run: (inputs) =>
      new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage(
          inputs,
          Object.values(inputs).map((t) => t.data.buffer as ArrayBuffer),
        );
      }),
    close: async () => {
      await w.terminate();
    },
  };
}
