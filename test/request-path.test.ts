/**
 * Issue 16: the lean request path. Model facts are asked of the handler once per model (not per
 * request) and again after the handler reports a change; the real runtime reports a variant swap;
 * exactly one answer per request still holds with the cache. Real mosquitto, real onnxruntime.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttService } from '../runtime/transport/mqtt-service.js';
import { sendRequest } from '../runtime/transport/client.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { FakeHandler } from './helpers/fake-handler.js';
import { setup, sample } from './helpers/lifecycle-runtime.js';
import { RuntimeSwitch } from '../runtime/service/runtime-switch.js';

const PREFIX = 'edge/facts-dev';

t.test("the transport asks a model's facts once, and again only after the handler reports a change", async (t) => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'edge-facts-'));
  const handler = new FakeHandler();
  const svc = await MqttService.start({ url: broker.url, clientId: `svc-facts-${process.pid}`, prefix: PREFIX, handler, outbox: { dir: join(dir, 'outbox'), fsync: 'never' }, reconnect: { minMs: 50, maxMs: 500 } });
  t.teardown(async () => {
    await svc.stop({ drainTimeoutMs: 1000 });
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  t.ok(await svc.waitConnected(5000), 'connected');
  const ask = (i: number, model = 'sum') => sendRequest({ url: broker.url, prefix: PREFIX, model, body: { id: `r${i}`, input: [i, 1, 1, 1] } });
  for (let i = 0; i < 5; i++) {
    const a = await ask(i);
    t.equal(a.kind, 'result', `request ${i} answered with a result`);
  }
  t.equal(handler.factCalls.get('sum'), 1, 'five requests, one facts call');
  handler.factsChanged();
  const after = await ask(9);
  t.equal(after.kind, 'result');
  if (after.kind === 'result') t.same(after.body.outputs['y']?.data, [12], 'still the right answer after the refresh');
  t.equal(handler.factCalls.get('sum'), 2, 'a reported change makes the next request ask again');
  const unknown = await ask(1, 'nope');
  const unknown2 = await ask(2, 'nope');
  t.equal(unknown.kind === 'error' ? unknown.body.error.code : unknown.kind, 'EDGE_ERR_UNKNOWN_MODEL');
  t.equal(unknown2.kind === 'error' ? unknown2.body.error.code : unknown2.kind, 'EDGE_ERR_UNKNOWN_MODEL');
  t.equal(handler.factCalls.get('nope'), 2, 'an unknown model is not cached (made-up topics cannot grow the cache)');
  // answersPublished counts an answer when the broker acknowledges it, which may come just after the
  // requester got it: wait for the count to settle, then it must be exactly one per request.
  for (const end = Date.now() + 3000; svc.stats().answersPublished < 8 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  t.equal(svc.stats().answersPublished, 8, 'exactly one answer per request');
});

t.test('the runtime keeps one facts object per model and reports a variant swap and a reload', async (t) => {
  const { rt, options } = await setup(t);
  const first = rt.modelFacts('digits');
  t.ok(first, 'digits has facts');
  t.equal(rt.modelFacts('digits'), first, 'the same object while nothing changes');
  t.same(
    first?.specs.map((s) => s.name),
    ['input'],
  );
  t.equal(rt.modelFacts('nope'), undefined, 'unknown model');
  const sw = new RuntimeSwitch(rt);
  let told = 0;
  sw.watchFacts(() => {
    told++;
  });
  const from = rt.status().find((s) => s.model === 'digits')?.variant;
  const to = rt.ladder('digits').find((r) => r.variant !== from)?.variant;
  t.ok(to, 'digits has a second variant to swap to');
  const rec = await rt.swap('digits', to as string, 'pinned');
  t.equal(rec?.to, to, 'swapped');
  t.equal(told, 1, 'the swap told the watchers');
  const second = rt.modelFacts('digits');
  t.not(second, first, 'fresh facts after the swap');
  await rt.infer('digits', 'x', sample(0));
  t.equal(rt.modelFacts('digits'), second, 'inference does not rebuild them');
  const { ModelRuntime } = await import('../runtime/service/model-runtime.js');
  const fresh = new ModelRuntime(options);
  await fresh.start({ adoptFrom: rt });
  t.teardown(() => fresh.close(0));
  sw.current = fresh;
  t.equal(told, 2, 'replacing the runtime (a reload) told the watchers');
  t.equal(sw.modelFacts('digits'), fresh.modelFacts('digits'), 'and facts now come from the new runtime');
});
