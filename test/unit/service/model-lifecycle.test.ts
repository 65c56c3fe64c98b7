import t from 'tap';
import { ModelLifecycle } from '../../../runtime/service/model-lifecycle.js';

t.test("allows the table's transitions and refuses the others with EDGE_ERR_INTERNAL", async (t) => {
  const l = new ModelLifecycle('m');
  t.equal(l.state, 'loading');
  l.to('ready');
  l.to('swapping');
  l.to('ready');
  t.throws(() => l.to('unavailable'), { code: 'EDGE_ERR_INTERNAL' }, 'ready cannot become unavailable without unloading');
  l.to('unloading');
  t.throws(() => l.to('ready'), { code: 'EDGE_ERR_INTERNAL' });
  l.to('unavailable');
  t.equal(l.state, 'unavailable');
});

t.test('onIdle resolves once no transition is in progress; whenServing resolves on ready, settle or deadline', async (t) => {
  const l = new ModelLifecycle('m');
  let idle = false;
  const p = l.onIdle().then(() => {
    idle = true;
  });
  const serving = l.whenServing(5000);
  await Promise.resolve();
  t.equal(idle, false, 'loading is not idle');
  l.to('ready');
  await p;
  t.equal(idle, true);
  t.equal(await serving, true);
  l.crashed(0);
  t.equal(l.state, 'restarting');
  t.equal(await l.whenServing(20), false, 'the deadline passes while restarting');
  const failed = l.whenServing(5000);
  l.to('failed');
  t.equal(await failed, false, 'settling without serving resolves false at once');
});

t.test('crash policy: backoff doubles, the third crash in the window gives up, old crashes age out', async (t) => {
  const policy = { firstDelayMs: 100, maxDelayMs: 300, maxCrashes: 3, windowMs: 1000 };
  const l = new ModelLifecycle('m', 'ready');
  t.same(l.crashed(0, policy), { delayMs: 100, giveUp: false });
  l.to('ready');
  t.same(l.crashed(10, policy), { delayMs: 200, giveUp: false });
  l.to('ready');
  t.same(l.crashed(20, policy), { delayMs: 300, giveUp: true }, 'capped at maxDelayMs; third crash gives up');
  l.to('ready');
  t.same(l.crashed(5000, policy), { delayMs: 100, giveUp: false }, 'crashes older than the window no longer count');
  t.equal(l.restarts, 4);
  l.to('ready');
  l.variantChanged();
  t.same(l.crashed(5001, policy), { delayMs: 100, giveUp: false }, 'a new variant starts with a clean record');
});
