/**
 * Issue 12, service half: reply topics are checked before anything is published (item 6), a huge
 * request id is not echoed back (item 14), and bad-input answers count in telemetry's per-model
 * `errors` (item 13). One real service process on a real mosquitto (MQTT 5); a watcher on `#` sees
 * every topic the service publishes to.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher, type Received } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';
import { onlyBundled } from './helpers/digits-copy.js';

interface EvalSet {
  inputs: number[][];
}
const input = (JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet).inputs[0];
const P = 'edge/rt';
const infer = `${P}/models/digits/infer`;
const result = `${P}/models/digits/result`;

t.test('reply topics, echoed ids and the errors counter', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const w = await Watcher.open(broker.url, ['#']);
  t.teardown(() => w.close());
  const svc = startService({ deviceId: 'rt', broker: { url: broker.url }, telemetry: { intervalS: 1 }, replyTopics: { allow: ['replies/#', 'other/ok'] }, models: onlyBundled('digits'), adaptive: { enabled: false } });
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await w.until(() => w.on(`${P}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 15_000, 'status online');

  /** Sends one request and returns every message that is not telemetry/status, once its answer is in. */
  const ask = async (id: string, replyTo: string | undefined, how: 'property' | 'body' = 'property'): Promise<Received[]> => {
    const from = w.messages.length;
    const body = how === 'body' && replyTo !== undefined ? { id, input, replyTo } : { id, input };
    await w.publish(infer, JSON.stringify(body), { qos: 1, ...(how === 'property' && replyTo !== undefined ? { properties: { responseTopic: replyTo } } : {}) });
    const mine = (): Received[] => w.messages.slice(from).filter((m) => m.topic !== `${P}/telemetry` && m.topic !== `${P}/status` && m.topic !== infer);
    await w.until(() => mine().some((m) => m.topic !== `${P}/errors` && (m.json as { id?: string }).id === id), 10_000, `the answer to ${id}`);
    await new Promise((r) => setTimeout(r, 150));
    return mine();
  };

  for (const [name, replyTo, how] of [
    ['status', `${P}/status`, 'property'],
    ['status via replyTo in the body', `${P}/status`, 'body'],
    ['telemetry', `${P}/telemetry`, 'property'],
    ['own infer topic', infer, 'property'],
    ["another model's result", `${P}/models/spam/result`, 'property'],
    ['Home Assistant discovery', 'homeassistant/device/x/config', 'property'],
    ['$-topic', '$x/y', 'property'],
    ['$SYS', '$SYS/foo', 'property'],
    ['outside the allow-list', 'other/nope', 'property'],
  ] as const) {
    const got = await ask(`refused-${name}`, replyTo, how);
    t.same(got.map((m) => m.topic).sort(), [`${P}/errors`, result].sort(), `${name}: one answer on the result topic and a copy on errors, nothing on ${replyTo}`);
    const answer = got.find((m) => m.topic === result)?.json as { error?: { code: string }; id?: string } | undefined;
    t.equal(answer?.error?.code, 'EDGE_ERR_REPLY_TOPIC_REFUSED', `${name}: coded refusal`);
    t.equal(answer?.id, `refused-${name}`);
  }
  t.equal(w.on(`${P}/status`).filter((m) => (m.json as { state?: string }).state !== 'online').length, 0, 'nothing but status was ever published on the status topic');

  for (const replyTo of ['replies/a', 'other/ok', result, `${P}/replies/abc`]) {
    const got = await ask(`allowed-${replyTo}`, replyTo);
    t.same(
      got.map((m) => m.topic),
      [replyTo],
      `${replyTo}: answered there`,
    );
    t.ok((got[0]?.json as { top?: unknown }).top, `${replyTo}: a result`);
  }

  // Item 14: a 100 KB id is answered with id null and a bounded payload, on both topics.
  const from = w.messages.length;
  await w.publish(infer, JSON.stringify({ id: 'x'.repeat(100_000), input }), { qos: 1, properties: { responseTopic: 'replies/big' } });
  await w.until(() => w.messages.slice(from).some((m) => m.topic === 'replies/big'), 10_000, 'the answer to the big id');
  await w.until(() => w.messages.slice(from).some((m) => m.topic === `${P}/errors`), 10_000, 'its errors copy');
  for (const m of w.messages.slice(from).filter((x) => x.topic === 'replies/big' || x.topic === `${P}/errors`)) {
    t.ok(m.payload.byteLength < 2048, `${m.topic}: ${m.payload.byteLength} bytes`);
    t.equal((m.json as { id: unknown }).id, null, `${m.topic}: id null`);
    t.equal((m.json as { error: { code: string } }).error.code, 'EDGE_ERR_BAD_REQUEST');
  }

  // Item 13: bad input counts in telemetry's errors (9 refusals + 1 big id above, + these 3).
  await w.publish(infer, 'not json', { qos: 1 });
  await w.publish(infer, JSON.stringify({ id: 'short', input: [1, 2, 3] }), { qos: 1 });
  await w.publish(infer, JSON.stringify({ id: 'nan', inputs: { nope: { dtype: 'float32', shape: [1, 64], data: input } } }), { qos: 1 });
  const errorsOf = (m: Received): number => (m.json as { models: { model: string; errors: number }[] }).models.find((x) => x.model === 'digits')?.errors ?? 0;
  await w.until(() => w.on(`${P}/telemetry`).some((m) => errorsOf(m) >= 13), 10_000, 'telemetry errors >= 13');
  t.pass(`telemetry digits.errors reached ${Math.max(...w.on(`${P}/telemetry`).map(errorsOf))}`);

  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
