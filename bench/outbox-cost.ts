/**
 * Section 7: what the durable outbox costs per answer, side by side: `fsync: 'always'` (the
 * service's setting) vs `'never'`, on the state dir's file system (a temp dir here).
 * Sequential enqueue + ack latency, and answers/s with 64 enqueues in flight, with this thread's
 * event-loop delay while they run, and the bytes this process handed to write() and sent to the
 * storage layer per answer (/proc/self/io wchar and write_bytes - cancelled_write_bytes: page
 * granular, what an SD card sees) during the 64-in-flight run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Outbox, type FsyncPolicy } from '../runtime/transport/outbox.js';
import { fmt, median, printTable, quantile } from './stats.js';

export interface OutboxCost {
  fsync: FsyncPolicy;
  enqueueP50Ms: number;
  enqueueP99Ms: number;
  concurrentPerS: number;
  eventLoopMaxMs: number;
  writeCallBytesPerAnswer: number;
  diskBytesPerAnswer: number;
}

/** This process's I/O counters (/proc/self/io): bytes handed to write() and bytes sent to the storage layer (minus cancelled). */
function ioCounters(): { wchar: number; disk: number } {
  const f = readFileSync('/proc/self/io', 'utf8');
  const get = (k: string): number => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(f)?.[1] ?? 0);
  return { wchar: get('wchar'), disk: get('write_bytes') - get('cancelled_write_bytes') };
}

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
  const io0 = ioCounters();
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
  const io1 = ioCounters();
  return { fsync, enqueueP50Ms: median(lat), enqueueP99Ms: quantile(lat, 0.99), concurrentPerS: perS, eventLoopMaxMs: h.max / 1e6, writeCallBytesPerAnswer: (io1.wchar - io0.wchar) / done, diskBytesPerAnswer: (io1.disk - io0.disk) / done };
}

async function one(fsync: FsyncPolicy, n: number): Promise<OutboxCost> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-outbox-'));
  try {
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
  for (const f of ['never', 'always', 'never', 'always'] as const) rows.push(await one(f, n / 2));
  const merged = (['always', 'never'] as const).map((f) => {
    const a = rows.filter((r) => r.fsync === f);
    const avg = (k: keyof Omit<OutboxCost, 'fsync'>): number => a.reduce((s, r) => s + r[k], 0) / a.length;
    return { fsync: f, enqueueP50Ms: avg('enqueueP50Ms'), enqueueP99Ms: Math.max(...a.map((r) => r.enqueueP99Ms)), concurrentPerS: avg('concurrentPerS'), eventLoopMaxMs: Math.max(...a.map((r) => r.eventLoopMaxMs)), writeCallBytesPerAnswer: avg('writeCallBytesPerAnswer'), diskBytesPerAnswer: avg('diskBytesPerAnswer') };
  });
  printTable(
    '7. Durable outbox per answer: Outbox (append-only segment log, group commit: one write [+ one fdatasync] per group), temp dir',
    ['fsync', 'enqueue p50 ms', 'enqueue p99 ms', 'answers/s (64 in flight)', 'loop max ms', 'write() B/answer', 'disk B/answer'],
    merged.map((r) => [r.fsync, fmt(r.enqueueP50Ms), fmt(r.enqueueP99Ms), fmt(r.concurrentPerS, 0), fmt(r.eventLoopMaxMs, 1), fmt(r.writeCallBytesPerAnswer, 0), fmt(r.diskBytesPerAnswer, 0)]),
  );
  return merged;
}

// `node dist/bench/outbox-cost.js [--quick]`: section 7 alone.
if (process.argv[1]?.endsWith('outbox-cost.js')) await measureOutbox(process.argv.includes('--quick'));
