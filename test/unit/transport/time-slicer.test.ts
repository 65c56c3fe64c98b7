import t from 'tap';
import { TimeSlicer } from '../../../runtime/transport/time-slicer.js';

const immediate = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('jobs run at once while the slice lasts, later ones wait for the next turn of the loop, in order', async (t) => {
  let now = 0;
  const slicer = new TimeSlicer({ sliceMs: 4, nowMs: () => now });
  const ran: number[] = [];
  // Each job "takes" 1 ms of the clock.
  for (let i = 0; i < 10; i++)
    slicer.run(() => {
      ran.push(i);
      now += 1;
    });
  t.same(ran, [0, 1, 2, 3], 'the first jobs ran synchronously until 4 ms were spent');
  t.equal(slicer.pending, 6);
  await immediate();
  t.same(ran, [0, 1, 2, 3, 4, 5, 6, 7], 'the next slice ran four more (its own 4 ms)');
  slicer.run(() => ran.push(99));
  t.same(ran.at(-1), 7, 'a new job queues behind the waiting ones');
  await immediate();
  await immediate();
  t.same(ran, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);
  t.equal(slicer.pending, 0);
});

t.test('a timer due during a long burst fires between slices', async (t) => {
  const slicer = new TimeSlicer({ sliceMs: 2 });
  const events: string[] = [];
  let fired = false;
  setTimeout(() => {
    fired = true;
    events.push('timer');
  }, 0);
  const busy = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      /* work */
    }
  };
  for (let i = 0; i < 20; i++)
    slicer.run(() => {
      busy(1);
      events.push(`job${i}`);
    });
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (slicer.pending === 0) resolve();
      else setImmediate(check);
    };
    check();
  });
  t.ok(fired);
  const at = events.indexOf('timer');
  t.ok(at > 0 && at < events.length - 1, `the timer ran between jobs (position ${at} of ${events.length})`);
  t.same(
    events.filter((e) => e !== 'timer'),
    Array.from({ length: 20 }, (_, i) => `job${i}`),
    'jobs kept their order',
  );
});

t.test('a job that throws is reported and the others still run', async (t) => {
  const errors: unknown[] = [];
  const slicer = new TimeSlicer({ onError: (e) => errors.push(e) });
  const ran: number[] = [];
  slicer.run(() => {
    throw new Error('boom');
  });
  slicer.run(() => ran.push(1));
  t.equal(errors.length, 1);
  t.same(ran, [1]);
});
