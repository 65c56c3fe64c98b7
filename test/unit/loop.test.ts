import t from 'tap';
import { startLoop } from '../../runtime/loop.js';
import { FakeTimers } from '../helpers/fake-timers.js';

/** A promise with its resolver, to hold a tick open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

t.test('ticks once per interval, first after one interval unless immediate', async (t) => {
  const timers = new FakeTimers();
  let n = 0;
  const loop = startLoop({ intervalMs: 100, tick: () => void (n += 1), timers });
  await timers.advance(99);
  t.equal(n, 0, 'no tick before the first interval');
  await timers.advance(1);
  t.equal(n, 1);
  await timers.advance(300);
  t.equal(n, 4);
  t.equal(loop.ticks, 4);
  await loop.stop();

  const eager = startLoop({ intervalMs: 100, tick: () => void (n += 1), timers, immediate: true });
  await timers.advance(0);
  t.equal(eager.ticks, 1, 'immediate runs a tick right away');
  await eager.stop();
});

t.test('a slow tick never overlaps the next; the interval counts from its end and missed ticks are not made up', async (t) => {
  const timers = new FakeTimers();
  let active = 0;
  let maxActive = 0;
  const starts: number[] = [];
  const slow = gate();
  let first = true;
  const loop = startLoop({
    intervalMs: 100,
    timers,
    tick: async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      starts.push(timers.now);
      if (first) {
        first = false;
        await slow.promise;
      }
      active -= 1;
    },
  });
  await timers.advance(100);
  t.same(starts, [100]);
  await timers.advance(1000);
  t.same(starts, [100], 'nothing else starts while the first tick runs, however long');
  t.equal(timers.pending, 0, 'no timer is pending during a tick');
  slow.open();
  await timers.advance(0);
  await timers.advance(100);
  t.same(starts, [100, 1200], 'the next tick comes one interval after the slow one ended, with no catch-up burst');
  t.equal(maxActive, 1);
  await loop.stop();
});

t.test('a tick that throws or rejects is reported and the loop goes on', async (t) => {
  const timers = new FakeTimers();
  const errors: unknown[] = [];
  let n = 0;
  const loop = startLoop({
    intervalMs: 10,
    timers,
    onError: (e) => errors.push(e),
    tick: async () => {
      n += 1;
      if (n === 1) throw new Error('sync-ish');
      if (n === 2) return Promise.reject(new Error('async'));
    },
  });
  await timers.advance(30);
  t.equal(n, 3, 'the loop kept ticking after two failures');
  t.same(
    errors.map((e) => (e as Error).message),
    ['sync-ish', 'async'],
  );
  await loop.stop();

  const quiet = startLoop({
    intervalMs: 10,
    timers,
    tick: () => {
      throw new Error('no reporter');
    },
    onError: () => {
      throw new Error('reporter throws too');
    },
  });
  await timers.advance(30);
  t.equal(quiet.ticks, 3, 'a throwing reporter does not stop the loop');
  await quiet.stop();
});

t.test('stop() waits for the tick in progress, is idempotent, and no tick starts after it', async (t) => {
  const timers = new FakeTimers();
  const g = gate();
  let finished = 0;
  const loop = startLoop({
    intervalMs: 10,
    timers,
    tick: async () => {
      await g.promise;
      finished += 1;
    },
  });
  await timers.advance(10);
  let stopped = false;
  const s1 = loop.stop().then(() => (stopped = true));
  const s2 = loop.stop();
  await timers.advance(0);
  t.equal(stopped, false, 'stop() has not resolved while the tick runs');
  g.open();
  await Promise.all([s1, s2]);
  t.equal(finished, 1, 'the tick in progress finished before stop() resolved');
  t.equal(timers.pending, 0, 'nothing is scheduled after stop');
  await timers.advance(100);
  await loop.tickNow();
  t.equal(loop.ticks, 1, 'neither the schedule nor tickNow starts a tick after stop');
  await loop.stop();
});

t.test('tickNow runs after a tick in progress and leaves the schedule alone', async (t) => {
  const timers = new FakeTimers();
  const order: string[] = [];
  const g = gate();
  let n = 0;
  const loop = startLoop({
    intervalMs: 50,
    timers,
    tick: async () => {
      n += 1;
      const me = n;
      order.push(`start ${me}`);
      if (me === 1) await g.promise;
      order.push(`end ${me}`);
    },
  });
  await timers.advance(50);
  const now = loop.tickNow();
  await timers.advance(0);
  t.same(order, ['start 1'], 'tickNow waits for the tick in progress');
  g.open();
  await now;
  t.same(order, ['start 1', 'end 1', 'start 2', 'end 2']);
  await timers.advance(50);
  t.equal(n, 3, 'the schedule went on one interval after the scheduled tick');
  await loop.stop();
});

t.test('rejects a non-positive or non-finite interval', async (t) => {
  for (const intervalMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) t.throws(() => startLoop({ intervalMs, tick: () => undefined }), RangeError);
});

t.test("real timers are unref'd: a pending tick does not keep the process alive", async (t) => {
  const { unrefTimers } = await import('../../runtime/timers.js');
  const handle = unrefTimers.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
  t.equal(handle.hasRef(), false);
  unrefTimers.clearTimeout(handle);
});
