/**
 * The floor of a main-thread <-> worker round trip, two ways, side by side: postMessage echo with a
 * transferred 256-byte buffer (what WorkerHost does per run) vs a SharedArrayBuffer flag with
 * Atomics.notify to a worker blocked in Atomics.wait and Atomics.waitAsync back on the main thread
 * (the proposed channel). Only the wake-ups: no tensors, no session.
 */
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { median } from './stats.js';

/** Atomics.waitAsync (ES2024; in Node 20) is not in the ES2022 lib this project compiles against. */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

export async function hopFloors(n: number): Promise<{ postMessageMs: number; atomicsMs: number }> {
  const w = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m, [m.b]));", { eval: true });
  const once = (): Promise<unknown> =>
    new Promise((r) => {
      w.once('message', r);
      const b = new ArrayBuffer(256);
      w.postMessage({ b }, [b]);
    });
  const pm: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t = performance.now();
    await once();
    if (i >= 200) pm.push(performance.now() - t);
  }
  await w.terminate();
  const sab = new SharedArrayBuffer(8);
  const flag = new Int32Array(sab);
  const w2 = new Worker(
    `const { workerData } = require('node:worker_threads'); const f = new Int32Array(workerData);
    for (;;) { Atomics.wait(f, 0, 0); if (Atomics.load(f, 0) === 2) break; Atomics.store(f, 0, 0); Atomics.store(f, 1, 1); Atomics.notify(f, 1); }`,
    { eval: true, workerData: sab },
  );
  const once2 = async (): Promise<void> => {
    Atomics.store(flag, 1, 0);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    const r = waitAsync(flag, 1, 0);
    if (r.async) await r.value;
  };
  const ab: number[] = [];
  for (let i = 0; i < n + 200; i++) {
    const t = performance.now();
    await once2();
    if (i >= 200) ab.push(performance.now() - t);
  }
  Atomics.store(flag, 0, 2);
  Atomics.notify(flag, 0);
  await w2.terminate();
  return { postMessageMs: median(pm), atomicsMs: median(ab) };
}
