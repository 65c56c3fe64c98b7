/**
 * Issue 12, service half: the model lifecycle with real onnxruntime workers (continued from
 * model-lifecycle.test.ts, split to keep each file short): waiting for a reload is bounded, and a
 * reload keeps every model whose planned variant did not change (item 7).
 */
import t from 'tap';
import { ModelRuntime } from '../runtime/service/model-runtime.js';
import { digits, sample, setup } from './helpers/lifecycle-runtime.js';

t.test('requests that wait for a reload are bounded by the queue limit and by loadWaitMs', async (t) => {
  const { rt, engine } = await setup(t, { settings: { digits: { queueLimit: 2 } }, loadWaitMs: 30_000, crashPolicy: { firstDelayMs: 400, maxDelayMs: 400, maxCrashes: 3, windowMs: 60_000 } });
  engine.crashForTest(rt.sessionKey('digits')!);
  while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  const waiting = [rt.infer('digits', 'a', sample(0)), rt.infer('digits', 'b', sample(1))];
  await t.rejects(rt.infer('digits', 'c', sample(2)), { code: 'EDGE_ERR_OVERLOADED' }, 'a third waiter is over the queue limit');
  t.equal((await Promise.all(waiting)).length, 2, 'the two waiters are answered');
  const short = await setup(t, { loadWaitMs: 20, crashPolicy: { firstDelayMs: 400, maxDelayMs: 400, maxCrashes: 3, windowMs: 60_000 } });
  short.engine.crashForTest(short.rt.sessionKey('digits')!);
  while (digits(short.rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  await t.rejects(short.rt.infer('digits', 'late', sample(0)), { code: 'EDGE_ERR_MODEL_UNAVAILABLE' }, 'past loadWaitMs it is answered unavailable');
});

t.test('a reload with nothing changed keeps the loaded session and variant', async (t) => {
  const { rt, options, setCurrent } = await setup(t);
  const before = digits(rt);
  const key = rt.sessionKey('digits');
  let current = rt;
  for (let i = 0; i < 3; i++) {
    const fresh = new ModelRuntime(options);
    await fresh.start({ adoptFrom: current });
    setCurrent(fresh);
    await current.close(1000);
    current = fresh;
    t.equal(digits(fresh).variant, before.variant, `reload ${i + 1}: same variant`);
    t.equal(fresh.sessionKey('digits'), key, `reload ${i + 1}: same session, not reloaded`);
    t.notOk(digits(fresh).error, 'no refusal');
    await fresh.infer('digits', `r${i}`, sample(i));
  }
  t.teardown(() => current.close(0));
});
