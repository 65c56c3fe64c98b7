/**
 * Section 1: the same model and input through edge-infer's in-process path (ModelQueue in front of
 * the worker-thread NativeEngine) vs raw InferenceSession.run on this thread (DirectSession), and
 * vs a bare worker holding a raw session (bare-worker.ts: the floor of any worker design), and vs
 * the same edge path with the shared-memory ring off (every run by postMessage, as before issue 16).
 * Blocks of iterations alternate between the paths (in an order that rotates every round) so
 * machine noise hits all of them alike.
 */
import { performance } from 'node:perf_hooks';
import { openDirectSession } from '../runtime/backend/direct-session.js';
import type { NativeEngine } from '../runtime/backend/native-engine.js';
import type { SessionSpec } from '../runtime/backend/types.js';
import { ModelQueue } from '../runtime/scheduler/model-queue.js';
import type { NamedTensors, Tensor } from '../runtime/tensor.js';
import { startBareWorker } from './bare-worker.js';
import { median, quantile } from './stats.js';

export const SESSION: SessionSpec = { intraOpThreads: 1, graphOptimization: 'all', memArena: true, memPattern: true };

export interface OverheadCase {
  name: string;
  file: string;
  input: () => NamedTensors;
}

export interface OverheadRow {
  model: string;
  rawP50Ms: number;
  rawP90Ms: number;
  rawP10Ms: number;
  edgeP10Ms: number;
  /** p10 over p10: less sensitive to CPU contention from other processes than the median. */
  ratioP10: number;
  edgeP50Ms: number;
  edgeP90Ms: number;
  /** Median edge-infer latency over median raw latency. */
  ratio: number;
  /** edge p50 - raw p50, ms. */
  addedMs: number;
  /** Median of the bare worker (raw session in a minimal worker, transferred tensors), ms. */
  bareWorkerP50Ms: number;
  /** Bare worker median over raw median: what any worker-thread design costs here. */
  bareRatio: number;
  /** Edge median over bare-worker median: what edge-infer adds on top of that floor. */
  edgeOverBare: number;
  /** Median of the same ModelQueue + engine path with the shared-memory ring off (every run by postMessage), ms. */
  postedP50Ms: number;
  /** Edge (ring) median over the postMessage-only median: what the ring buys (issue 16). */
  edgeOverPosted: number;
  samples: number;
}

async function timeBlock(n: number, once: (i: number) => Promise<unknown>, into: number[] | null): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await once(i);
    if (into !== null) into.push(performance.now() - t0);
  }
}

function copies(fixed: NamedTensors): NamedTensors {
  return Object.fromEntries(Object.entries(fixed).map(([k, t]) => [k, { ...t, dims: [...t.dims], data: t.data.slice() } as Tensor]));
}

/**
 * `pathMs`: wall time to spend on each path. Blocks last ~5 ms (at least 3 calls) and alternate, so
 * both paths see the same moments of contention from other processes.
 */
export async function measureOverhead(c: OverheadCase, engine: NativeEngine, pathMs: number, postedEngine: NativeEngine): Promise<OverheadRow> {
  const direct = await openDirectSession(c.file, SESSION);
  const bare = await startBareWorker(c.file);
  await engine.load({ key: c.name, file: c.file, session: SESSION });
  await postedEngine.load({ key: c.name, file: c.file, session: SESSION });
  const queue = new ModelQueue({ engine, key: c.name, queueLimit: 4 });
  const postedQueue = new ModelQueue({ engine: postedEngine, key: c.name, queueLimit: 4 });
  const fixed = c.input();
  const rows = Object.values(fixed)[0]?.dims[0] ?? 1;
  const raw: number[] = [];
  const edge: number[] = [];
  const bareXs: number[] = [];
  const posted: number[] = [];
  const probe: number[] = [];
  await timeBlock(20, () => direct.run(fixed), probe);
  const perCall = Math.max(median(probe), 0.01);
  const block = Math.max(3, Math.min(100, Math.round(5 / perCall)));
  const rounds = Math.max(10, Math.round(pathMs / (block * perCall)));
  const warm = Array.from({ length: block }, () => copies(fixed));
  await timeBlock(block, (i) => queue.submit(warm[i] as NamedTensors, rows), null);
  const warmPosted = Array.from({ length: block }, () => copies(fixed));
  await timeBlock(block, (i) => postedQueue.submit(warmPosted[i] as NamedTensors, rows), null);
  // Inputs are transferred or copied to the worker, so each call gets its own copy, made outside the timing.
  const paths: (() => Promise<void>)[] = [
    () => timeBlock(block, () => direct.run(fixed), raw),
    () => {
      const pre = Array.from({ length: block }, () => copies(fixed));
      return timeBlock(block, (i) => queue.submit(pre[i] as NamedTensors, rows), edge);
    },
    () => {
      const pre = Array.from({ length: block }, () => copies(fixed));
      return timeBlock(block, (i) => bare.run(pre[i] as NamedTensors), bareXs);
    },
    () => {
      const pre = Array.from({ length: block }, () => copies(fixed));
      return timeBlock(block, (i) => postedQueue.submit(pre[i] as NamedTensors, rows), posted);
    },
  ];
  // The order rotates every round, so no path always runs right after the same other one (the
  // previous path's session evicts this one's weights from the caches).
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < paths.length; k++) await (paths[(r + k) % paths.length] as () => Promise<void>)();
  }
  await queue.drain(1000);
  await postedQueue.drain(1000);
  await engine.unload(c.name);
  await postedEngine.unload(c.name);
  await direct.release();
  await bare.close();
  const rawP50 = median(raw);
  const edgeP50 = median(edge);
  const bareP50 = median(bareXs);
  return {
    model: c.name,
    rawP50Ms: rawP50,
    rawP90Ms: quantile(raw, 0.9),
    rawP10Ms: quantile(raw, 0.1),
    edgeP10Ms: quantile(edge, 0.1),
    ratioP10: quantile(edge, 0.1) / quantile(raw, 0.1),
    edgeP50Ms: edgeP50,
    edgeP90Ms: quantile(edge, 0.9),
    ratio: edgeP50 / rawP50,
    addedMs: edgeP50 - rawP50,
    samples: raw.length,
    bareWorkerP50Ms: bareP50,
    bareRatio: bareP50 / rawP50,
    edgeOverBare: edgeP50 / bareP50,
    postedP50Ms: median(posted),
    edgeOverPosted: edgeP50 / median(posted),
  };
}

/**
 * Median raw session.run latency (this thread) of `file` at batch 1, for the MQTT overhead
 * subtraction. With `gapMs` > 0 the runs are spaced like requests at that rate: on this VM a run
 * after a 5 ms idle gap takes 3-5x a back-to-back one (digits student-int8: 0.19 vs 0.057 ms;
 * caches and idle CPU states), and the service's runs at 200 req/s are spaced that way too.
 */
export async function rawP50(file: string, input: NamedTensors, n: number, intraOpThreads: number, gapMs = 0): Promise<number> {
  const direct = await openDirectSession(file, { ...SESSION, intraOpThreads });
  const xs: number[] = [];
  await timeBlock(50, () => direct.run(input), null);
  const spaced = (): Promise<unknown> => (gapMs > 0 ? new Promise((r) => setTimeout(r, gapMs)).then(() => undefined) : Promise.resolve());
  for (let i = 0; i < n; i++) {
    await spaced();
    const t0 = performance.now();
    await direct.run(input);
    xs.push(performance.now() - t0);
  }
  await direct.release();
  return median(xs);
}
