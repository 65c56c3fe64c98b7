/**
 * Clock jumps (issue 6: NTP stepping the wall clock on a Pi without an RTC). Latency figures, the
 * queue's timing and the outbox's order and ages come from the injected MONOTONIC clock; the wall
 * clock (Date.now) jumping back an hour or forward a day in the middle must change none of them.
 * Date.now is replaced for the duration of each test so a regression to wall time shows up.
 */
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelQueue } from '../runtime/scheduler/model-queue.js';
import { Outbox } from '../runtime/transport/outbox.js';
import type { NamedTensors } from '../runtime/tensor.js';

/** Replaces Date.now with a wall clock the test steps; restored at teardown. */
function jumpingWallClock(t: { teardown(f: () => void): void }): { jump(ms: number): void } {
  const real = Date.now;
  let offset = 0;
  Date.now = () => real() + offset;
  t.teardown(() => {
    Date.now = real;
  });
  return {
    jump: (ms) => {
      offset += ms;
    },
  };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

t.test('queue and inference latencies come from the monotonic clock while the wall clock jumps', async (t) => {
  const wall = jumpingWallClock(t);
  let mono = 5_000;
  const jumps = [-HOUR, +DAY, -DAY];
  let runs = 0;
  const engine = {
    async run(_key: string, inputs: NamedTensors) {
      // Each run takes 7 ms of monotonic time, during which the wall clock is stepped.
      await new Promise((r) => setImmediate(r));
      mono += 7;
      wall.jump(jumps[runs++ % jumps.length] as number);
      return { outputs: { y: inputs['x'] as NamedTensors[string] }, inferenceMs: 7 };
    },
  };
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 10, clock: () => mono });
  const x = (): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 1], data: new Float32Array([1]) } });
  const results = await Promise.all([q.submit(x(), 1), q.submit(x(), 1), q.submit(x(), 1)]);
  t.same(
    results.map((r) => r.queueMs),
    [0, 7, 14],
    'queue times are monotonic differences (never negative, never a day)',
  );
  t.same(
    results.map((r) => r.serviceMs),
    [7, 7, 7],
    'service times too',
  );
  t.equal(runs, 3);
});

t.test('outbox order and ages ignore wall-clock jumps and file times', async (t) => {
  const wall = jumpingWallClock(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-clock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let mono = 100;
  const box = await Outbox.open({ dir, fsync: 'never', nowMs: () => mono });
  for (let i = 1; i <= 4; i++) {
    await box.enqueue({ topic: `t/${i}`, payload: Buffer.from([i]) });
    wall.jump(i % 2 === 0 ? -DAY : HOUR);
    mono += 10;
  }
  t.equal(box.stats().oldestAgeMs, 40, 'the oldest age is monotonic');
  // Files written while the wall clock was stepped back carry older mtimes: make them disagree with
  // the order outright, then reopen (as after a crash): the order is the sequence, not the mtime.
  const files = readdirSync(dir).sort();
  files.forEach((n, i) => {
    const s = 2_000_000_000 - i * 86_400;
    utimesSync(path.join(dir, n), s, s);
  });
  const again = await Outbox.open({ dir, fsync: 'never', nowMs: () => mono });
  const order: string[] = [];
  for (let e = again.takeNext(); e !== undefined; e = again.takeNext()) order.push(e.message.topic);
  t.same(order, ['t/1', 't/2', 't/3', 't/4'], 'FIFO by sequence number');
  mono += 5;
  t.equal(again.stats().oldestAgeMs, 5, 'ages after a reopen count from the load, on the monotonic clock');
});
