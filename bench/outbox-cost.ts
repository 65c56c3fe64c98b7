/**
 * Section 7: what the durable outbox costs per answer, side by side: `fsync: 'always'` (the
 * service's setting) vs `'never'`, on the state dir's file system (a temp dir here).
 * Sequential enqueue + ack latency, and answers/s with 64 enqueues in flight, with this thread's
 * event-loop delay while they run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Outbox, type FsyncPolicy } from '../runtime/transport/outbox.js';
import { GroupCommitLog } from './group-commit.js';
import { fmt, median, printTable, quantile } from './stats.js';

export interface OutboxCost { fsync: FsyncPolicy | 'group-commit prototype'; enqueueP50Ms: number; enqueueP99Ms: number; concurrentPerS: number; eventLoopMaxMs: number }

const payload = Buffer.from(JSON.stringify({ id: 'r1', model: 'digits', variant: 'student-int8', outputs: { logits: { dtype: 'float32', shape: [1, 10], data: [-10.43, -4.89, 2.27, 14.56, -3.1, 0.5, -7.2, 1.1, 0.2, -2.2] } }, latencyMs: { queue: 0.01, inference: 0.05, total: 0.3 } }));

/**
 * Sequential latency of `enqueue` (then `settle`, untimed) n times, then answers/s with 64
 * enqueue + settle loops in flight and this thread's event-loop delay meanwhile.
 */
async function measure<T>(fsync: OutboxCost['fsync'], n: number, enqueue: () => Promise<T>, settle: (t: T) => Promise<void>): Promise<OutboxCost> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const ref = await enqueue();
    lat.push(performance.now() - t0);
    await settle(ref);
  }
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  let done = 0;
  const worker = async (): Promise<void> => {
    while (done < n * 2) {
      done++;
      await settle(await enqueue());
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const perS = done / ((performance.now() - t0) / 1000);
  h.disable();
  return { fsync, enqueueP50Ms: median(lat), enqueueP99Ms: quantile(lat, 0.99), concurrentPerS: perS, eventLoopMaxMs: h.max / 1e6 };
}

async function one(fsync: FsyncPolicy | 'group-commit prototype', n: number): Promise<OutboxCost> {
  const dir = mkdtempSync(join(tmpdir(), fsync === 'group-commit prototype' ? 'edge-gc-' : 'edge-outbox-'));
  try {
    if (fsync === 'group-commit prototype') {
      const log = new GroupCommitLog(dir);
      return await measure(fsync, n, () => log.enqueue(payload), (ref) => log.ack(ref));
    }
    const box = await Outbox.open({ dir, fsync, maxMessages: 100_000 });
    // The broker's part: take the oldest waiting answer and acknowledge it.
    const ackOne = async (): Promise<void> => {
      const e = box.takeNext();
      if (e !== undefined) await box.ack(e.seq);
    };
    return await measure(fsync, n, () => box.enqueue({ topic: 'edge/bench/replies/x', payload, properties: { contentType: 'application/json' } }), ackOne);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureOutbox(quick: boolean): Promise<OutboxCost[]> {
  const n = quick ? 300 : 1000;
  const rows: OutboxCost[] = [];
  for (const f of ['never', 'always', 'group-commit prototype', 'never', 'always', 'group-commit prototype'] as const) rows.push(await one(f, n / 2));
  const merged = (['always', 'group-commit prototype', 'never'] as const).map((f) => {
    const a = rows.filter((r) => r.fsync === f);
    const avg = (k: keyof Omit<OutboxCost, 'fsync'>): number => a.reduce((s, r) => s + r[k], 0) / a.length;
    return { fsync: f, enqueueP50Ms: avg('enqueueP50Ms'), enqueueP99Ms: Math.max(...a.map((r) => r.enqueueP99Ms)), concurrentPerS: avg('concurrentPerS'), eventLoopMaxMs: Math.max(...a.map((r) => r.eventLoopMaxMs)) };
  });
  printTable('7. Durable outbox per answer: Outbox (write + rename [+ file fsync + sync directory fsync]) vs the group-commit prototype (bench/group-commit.ts), temp dir', ['fsync', 'enqueue p50 ms', 'enqueue p99 ms', 'answers/s (64 in flight)', 'loop max ms'],
    merged.map((r) => [r.fsync, fmt(r.enqueueP50Ms), fmt(r.enqueueP99Ms), fmt(r.concurrentPerS, 0), fmt(r.eventLoopMaxMs, 1)]));
  return merged;
}
