import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttService } from '../runtime/transport/mqtt-service.js';
import { sendRequest } from '../runtime/transport/client.js';
import { startEmbeddedBroker, isPortListening } from '../runtime/transport/embedded-broker.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { FakeHandler } from './helpers/fake-handler.js';
import { Watcher } from './helpers/mqtt-watch.js';

const PREFIX = 'edge/test-dev';

async function startService(url: string, protocolVersion: 4 | 5, dir: string, handler = new FakeHandler()): Promise<MqttService> {
  const svc = await MqttService.start({ url, protocolVersion, clientId: `svc-${protocolVersion}-${Math.random().toString(16).slice(2)}`, prefix: PREFIX, handler, outbox: { dir: join(dir, 'outbox'), fsync: 'never' }, limits: { maxPayloadBytes: 4096, maxBatch: 8 }, reconnect: { minMs: 50, maxMs: 500 } });
  if (!(await svc.waitConnected(5000))) throw new Error('service did not connect');
  return svc;
}

t.test('over MQTT 5 on mosquitto', async (t) => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'edge-rt-'));
  const svc = await startService(broker.url, 5, dir);
  const watch = await Watcher.open(broker.url, [`${PREFIX}/#`]);
  t.teardown(async () => {
    await watch.close();
    await svc.stop({ drainTimeoutMs: 1000 });
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  svc.setStatus({ version: '0.1.0', models: ['sum'] });
  await watch.until(() => watch.on(`${PREFIX}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 5000, 'online status');

  t.test('answers the shorthand form on the response topic with the same correlation data', async (t) => {
    const a = await sendRequest({ url: broker.url, prefix: PREFIX, model: 'sum', body: { id: 'r1', input: [1, 2, 3, 4, 10, 20, 30, 40] } });
    t.equal(a.kind, 'result');
    if (a.kind !== 'result') return;
    t.equal(a.body.id, 'r1');
    t.same(a.body.outputs['y'], { dtype: 'float32', shape: [2, 1], data: [10, 100] });
    t.equal(a.body.variant, 'fake');
    t.ok(a.body.latencyMs.total >= 0);
    t.same(a.body.top?.[0]?.label, 'sum');
  });

  t.test('answers the named form of a two-input model', async (t) => {
    const a = await sendRequest({ url: broker.url, prefix: PREFIX, model: 'pair', body: { id: 'p1', inputs: { a: { dtype: 'int32', shape: [1, 2], data: [1, 2] }, b: { dtype: 'int32', shape: [1, 2], data: [40, 50] } } } });
    t.equal(a.kind, 'result');
    if (a.kind === 'result') t.same(a.body.outputs['s']?.data, [41, 52]);
  });

  t.test('answers a binary request with a binary result', async (t) => {
    const x = new Float32Array([0.5, 0.25, 1, 2]);
    const a = await sendRequest({ url: broker.url, prefix: PREFIX, model: 'sum', binary: { bytes: new Uint8Array(x.buffer), dtype: 'float32', shape: [1, 4] } });
    t.equal(a.kind, 'binary');
    if (a.kind !== 'binary') return;
    t.equal(a.userProperties['shape'], '1,1');
    t.equal(a.payload.readFloatLE(0), 3.75);
  });

  t.test('a request without a response topic is answered on the model result topic', async (t) => {
    await watch.publish(`${PREFIX}/models/sum/infer`, JSON.stringify({ id: 'plain-1', input: [1, 1, 1, 1] }));
    await watch.until(() => watch.on(`${PREFIX}/models/sum/result`).some((m) => (m.json as { id?: string }).id === 'plain-1'), 5000, 'result');
    t.pass('answered on models/sum/result');
  });

  t.test('each bad request gets exactly one coded reply on its reply topic and one on errors', async (t) => {
    const cases: [string, string, string | Buffer, Record<string, unknown>?][] = [
      ['EDGE_ERR_BAD_JSON', 'sum', '{"id": "b1", "input": [1,2'],
      ['EDGE_ERR_BAD_JSON', 'sum', '[1,2,3]'],
      ['EDGE_ERR_BAD_REQUEST', 'sum', JSON.stringify({ id: 'b3', input: [1, 2, 3, 4], extra: true })],
      ['EDGE_ERR_BAD_REQUEST', 'sum', JSON.stringify({ input: [1, 2, 3, 4] })],
      ['EDGE_ERR_BAD_REQUEST', 'sum', JSON.stringify({ id: 'b5', input: ['a', 2, 3, 4] })],
      ['EDGE_ERR_UNKNOWN_MODEL', 'nope', JSON.stringify({ id: 'b6', input: [1, 2, 3, 4] })],
      ['EDGE_ERR_BAD_TENSOR', 'sum', JSON.stringify({ id: 'b7', input: [1, 2, 3] })],
      ['EDGE_ERR_BAD_TENSOR', 'sum', '{"id": "b8", "input": [1, 2, 3, 1e999]}'],
      ['EDGE_ERR_BAD_TENSOR', 'sum', JSON.stringify({ id: 'b9', inputs: { x: { dtype: 'int32', shape: [1, 4], data: [1, 2, 3, 4] } } })],
      ['EDGE_ERR_BAD_TENSOR', 'pair', JSON.stringify({ id: 'b10', inputs: { a: { shape: [1, 2], data: [1.5, 2] }, b: { shape: [1, 2], data: [1, 2] } } })],
      ['EDGE_ERR_TOO_LARGE', 'sum', JSON.stringify({ id: 'b11', input: new Array(2000).fill(1) })],
      ['EDGE_ERR_TOO_LARGE', 'sum', JSON.stringify({ id: 'b12', input: new Array(36).fill(1) })],
      ['EDGE_ERR_BAD_TENSOR', 'sum', Buffer.alloc(12), { contentType: 'application/octet-stream', userProperties: { id: 'b13', dtype: 'float32', shape: '1,4' } }],
    ];
    let n = 0;
    for (const [code, model, payload, props] of cases) {
      n++;
      const replyTo = `test/replies/bad-${n}`;
      await new Promise<void>((r) => watch.client.subscribe(replyTo, { qos: 1 }, () => r()));
      await watch.publish(`${PREFIX}/models/${model}/infer`, payload, { qos: 1, properties: { responseTopic: replyTo, correlationData: Buffer.from(`c${n}`), ...(props ?? {}) } });
      await watch.until(() => watch.on(replyTo).length > 0 && watch.on(`${PREFIX}/errors`).some((m) => m.correlationData === `c${n}`), 5000, `error reply ${n}`);
      const replies = watch.on(replyTo);
      t.equal(replies.length, 1, `case ${n}: one reply`);
      const body = replies[0]?.json as { id: string | null; error: { code: string } };
      t.equal(body.error.code, code, `case ${n}: ${code}`);
      if (n !== 1 && n !== 2 && n !== 4) t.equal(body.id, `b${n}`, `case ${n}: the id survives`);
      t.equal(replies[0]?.correlationData, `c${n}`);
    }
    const a = await sendRequest({ url: broker.url, prefix: PREFIX, model: 'sum', body: { id: 'after', input: [1, 2, 3, 4] } });
    t.equal(a.kind, 'result', 'the service keeps answering');
    t.equal(watch.on(`${PREFIX}/errors`).length, cases.length, 'one copy per bad request on errors');
  });

  t.test('a clean stop publishes offline retained', async (t) => {
    const other = await startService(broker.url, 5, join(dir, 'other'));
    await other.stop({ drainTimeoutMs: 1000 });
    const late = await Watcher.open(broker.url, [`${PREFIX}/status`]);
    await late.until(() => late.messages.length > 0, 5000, 'retained status');
    t.same(late.messages[0]?.json, { state: 'offline' });
    t.equal(late.messages[0]?.retain, true);
    await late.close();
    svc.setStatus({ version: '0.1.0', models: ['sum'] });
  });
});

t.test('over MQTT 3.1.1 on the embedded aedes broker', async (t) => {
  const broker = await startEmbeddedBroker({ port: 0 });
  t.equal(await isPortListening('127.0.0.1', broker.port), true, 'the embedded broker listens');
  const dir = mkdtempSync(join(tmpdir(), 'edge-rt4-'));
  const svc = await startService(broker.url, 4, dir);
  t.teardown(async () => {
    await svc.stop({ drainTimeoutMs: 1000 });
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const a = await sendRequest({ url: broker.url, prefix: PREFIX, model: 'sum', protocolVersion: 4, body: { id: 'v4', input: [2, 2, 2, 2] } });
  t.equal(a.kind, 'result');
  if (a.kind === 'result') t.same(a.body.outputs['y']?.data, [8], 'replyTo in the body works over 3.1.1');

  const watch = await Watcher.open(broker.url, [`${PREFIX}/models/+/result`, `${PREFIX}/errors`], { protocolVersion: 4 });
  await watch.publish(`${PREFIX}/models/sum/infer`, JSON.stringify({ id: 'v4-plain', input: [1, 2, 3, 4] }), { qos: 1 });
  await watch.publish(`${PREFIX}/models/sum/infer`, 'not json', { qos: 1 });
  await watch.until(() => watch.on(`${PREFIX}/models/sum/result`).length >= 2 && watch.on(`${PREFIX}/errors`).length >= 1, 5000, 'default result topic');
  const results = watch.on(`${PREFIX}/models/sum/result`).map((m) => m.json as { id: string | null; error?: { code: string } });
  t.ok(
    results.some((r) => r.id === 'v4-plain' && r.error === undefined),
    'result on the default result topic',
  );
  t.ok(
    results.some((r) => r.error?.code === 'EDGE_ERR_BAD_JSON'),
    'error on the default result topic too',
  );
  await watch.close();
  t.equal(await isPortListening('127.0.0.1', 1), false, 'nothing listens on port 1');
});
