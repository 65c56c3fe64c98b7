/**
 * Issue 12, service half: the model lifecycle with real onnxruntime workers. A crashed worker is
 * reloaded with backoff and counted (item 2), requests sent while it reloads wait and are answered
 * (item 15), repeated crashes fall back to the plan's next variant, and a reload keeps every model
 * whose planned variant did not change (item 7).
 */
import t from 'tap';
import { digits, sample, setup } from './helpers/lifecycle-runtime.js';

t.test('a crashed worker is reloaded, counted, and requests sent meanwhile wait and are answered', async (t) => {
  const { rt, engine } = await setup(t);
  const variant = digits(rt).variant;
  t.equal(digits(rt).state, 'ready');
  await rt.infer('digits', 'a', sample(0));
  engine.crashForTest(rt.sessionKey('digits')!);
  // The crash is reported asynchronously; wait until the lifecycle saw it.
  while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  t.equal(digits(rt).state, 'restarting');
  const during = await Promise.all([0, 1, 2, 3, 4].map((i) => rt.infer('digits', `w${i}`, sample(i))));
  t.equal(during.length, 5, 'the five requests sent while it restarted were answered with results');
  t.equal(digits(rt).state, 'ready');
  t.equal(digits(rt).variant, variant, 'the same variant came back');
  t.equal(digits(rt).restarts, 1);
  t.equal(rt.telemetry().find((m) => m.model === 'digits')?.restarts, 1, 'telemetry counts the restart');
});

t.test("repeated crashes of a variant fall back to the plan's next variant", async (t) => {
  const { rt, engine } = await setup(t);
  const first = digits(rt).variant;
  for (let i = 0; i < 3; i++) {
    while (digits(rt).state !== 'ready') await new Promise((r) => setTimeout(r, 5));
    engine.crashForTest(rt.sessionKey('digits')!);
    while (digits(rt).state === 'ready') await new Promise((r) => setTimeout(r, 5));
  }
  await rt.infer('digits', 'after', sample(0));
  t.equal(digits(rt).state, 'ready');
  t.not(digits(rt).variant, first, `fell back from ${first} to ${digits(rt).variant}`);
  t.equal(digits(rt).restarts, 3);
  const why = rt.plan.models.find((m) => m.model === 'digits')?.rejected.find((r) => r.variant === first);
  t.match(why?.detail, /^EDGE_ERR_WORKER_CRASHED/, 'the plan says why');
});
