import t from 'tap';
import type { InferenceEngine, RunResult } from '../../../runtime/backend/types.js';
import { silentLogger } from '../../../runtime/log.js';
import { ModelQueue } from '../../../runtime/scheduler/model-queue.js';
import { retire } from '../../../runtime/service/slot-load.js';
import type { NamedTensors } from '../../../runtime/tensor.js';
import { FakeTimers } from '../../helpers/fake-timers.js';

/** An engine whose runs finish when the test says; records unloads. */
class HeldEngine implements Pick<InferenceEngine, 'run' | 'unload'> {
  finishers: (() => void)[] = [];
  unloaded: string[] = [];
  run(_key: string, inputs: NamedTensors): Promise<RunResult> {
    return new Promise((resolve) => this.finishers.push(() => resolve({ outputs: inputs, inferenceMs: 1 })));
  }
  async unload(key: string): Promise<void> {
    this.unloaded.push(key);
  }
}

const row = (v: number): NamedTensors => ({ x: { dtype: 'float32', dims: [1, 1], data: new Float32Array([v]) } });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('ModelQueue.onIdle sets no timer and resolves in the turn the last in-flight run settles', async (t) => {
  const timers = new FakeTimers();
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'm', queueLimit: 4, timers });
  await q.onIdle();
  t.pass('an idle queue resolves at once');
  const answers = [q.submit(row(1), 1), q.submit(row(2), 1)];
  let idle = false;
  const waiting = q.onIdle().then(() => (idle = true));
  t.equal(timers.pending, 0, 'waiting for idle schedules no timer (no polling)');
  engine.finishers[0]?.();
  await answers[0];
  await flush();
  t.equal(idle, false, 'not idle while the queued request runs');
  engine.finishers[1]?.();
  await answers[1];
  await flush();
  t.equal(idle, true, 'idle right when the last run settled, with no time advanced');
  t.equal(timers.now, 0);
  await waiting;
});

t.test('a swap retires the old queue as soon as its in-flight work finishes, not at the drain timeout', async (t) => {
  const engine = new HeldEngine();
  const q = new ModelQueue({ engine, key: 'old', queueLimit: 4 });
  const inFlight = q.submit(row(3), 1);
  const queued = q.submit(row(4), 1);
  const started = performance.now();
  let retired = false;
  const done = retire({ engine, log: silentLogger, monotonic: () => performance.now() }, q, 'old', 60_000).then(() => (retired = true));
  await flush();
  t.equal(retired, false, 'retire waits for the in-flight request');
  t.same(engine.unloaded, []);
  engine.finishers[0]?.();
  await flush();
  t.equal(retired, false, 'and for the request queued before the swap');
  engine.finishers[1]?.();
  await done;
  t.same(engine.unloaded, ['old'], 'the old session is unloaded once its queue is idle');
  t.ok(performance.now() - started < 5_000, 'it did not wait for the 60 s drain timeout');
  t.same([(await inFlight).outputs.x?.data[0], (await queued).outputs.x?.data[0]], [3, 4], 'both requests were answered by the old variant');
});
