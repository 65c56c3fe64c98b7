/**
 * Home Assistant discovery and remote commands end to end (issue 15): the built service on a real
 * mosquitto, a private copy of digits, MQTT 5 request/response for commands.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sendRequest } from '../runtime/transport/client.js';
import { copyDigits } from './helpers/digits-copy.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';

const sample = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'sample-3.json'), 'utf8')) as Record<string, unknown>;
const DISCOVERY = 'homeassistant/device/edge_infer_ha/config';

t.test('discovery is retained, republished when Home Assistant comes online, and removed when turned off; commands answer once each', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-ha-'));
  const modelsDir = path.join(dir, 'models');
  copyDigits(modelsDir);
  const config = { deviceId: 'ha', broker: { url: broker.url }, modelsDir, telemetry: { intervalS: 1 }, adaptive: { enabled: false } };
  const svc = startService({ ...config, homeAssistant: { discovery: true } }, [], dir);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('fleet.connected', 60_000);

  const w = await Watcher.open(broker.url, ['homeassistant/#', 'edge/ha/models/+/state', 'ops/#', 'edge/ha/status']);
  t.teardown(() => w.close());
  await w.until(() => w.on(DISCOVERY).length > 0, 10_000, 'the retained discovery message');
  const first = w.on(DISCOVERY)[0];
  t.equal(first?.retain, true, 'retained');
  const doc = first?.json as { dev: { ids: string[] }; cmps: Record<string, { p: string; name: string }>; availability: { topic: string }[] };
  t.same(doc.dev.ids, ['edge_infer_ha']);
  t.equal(doc.availability[0]?.topic, 'edge/ha/status');
  t.ok(
    Object.values(doc.cmps).some((c) => c.p === 'sensor' && c.name === 'digits result'),
    'a result sensor for digits',
  );

  await w.publish('homeassistant/status', 'online');
  await w.until(() => w.on(DISCOVERY).length >= 2, 10_000, 'discovery republished after homeassistant/status online');
  t.equal(w.on(DISCOVERY)[1]?.retain, false, 'a live republish');

  const a = await sendRequest({ url: broker.url, prefix: 'edge/ha', model: 'digits', body: { id: 'x', ...sample }, timeoutMs: 10_000 });
  t.equal(a.kind, 'result');
  await w.until(() => w.on('edge/ha/models/digits/state').length > 0, 10_000, 'the state topic for the HA sensor');
  t.match(w.on('edge/ha/models/digits/state')[0]?.json, { label: '3', variant: String });

  // Commands: MQTT 5 request/response, one reply each, correlation data echoed.
  let n = 0;
  const command = async (name: string, body: string, responseTopic = 'ops/reply'): Promise<Record<string, unknown>> => {
    const corr = `c${n++}`;
    await w.publish(`edge/ha/cmd/${name}`, body, { qos: 1, properties: { responseTopic, correlationData: Buffer.from(corr) } });
    await w.until(() => w.messages.some((m) => m.topic === responseTopic && m.correlationData === corr), 20_000, `reply to ${name}`);
    const replies = w.messages.filter((m) => m.topic === responseTopic && m.correlationData === corr);
    t.equal(replies.length, 1, `${name}: exactly one reply`);
    return replies[0]?.json as Record<string, unknown>;
  };
  const status = await command('status', '');
  t.match(status, { ok: true, result: { state: 'online', deviceId: 'ha' } });
  const pinned = await command('pin', JSON.stringify({ model: 'digits', variant: 'teacher-fp32' }));
  t.match(pinned, { ok: true, result: { model: 'digits', variant: 'teacher-fp32', pinned: true } });
  const b = await sendRequest({ url: broker.url, prefix: 'edge/ha', model: 'digits', body: { id: 'y', ...sample }, timeoutMs: 10_000 });
  t.equal(b.kind === 'result' ? b.body.variant : null, 'teacher-fp32', 'answers come from the pinned variant');
  t.match(await command('status', '{}'), { result: { pins: { digits: 'teacher-fp32' } } });
  t.match(await command('pin', JSON.stringify({ model: 'digits', variant: 'nope' })), { ok: false, error: { code: 'EDGE_ERR_VARIANT_NOT_FOUND' } });
  t.match(await command('pin', JSON.stringify({ model: 'nope', variant: 'x' })), { ok: false, error: { code: 'EDGE_ERR_UNKNOWN_MODEL' } });
  t.match(await command('pin', '{"model": "digits"}'), { ok: false, error: { code: 'EDGE_ERR_BAD_REQUEST' } });
  t.match(await command('frobnicate', '{}'), { ok: false, error: { code: 'EDGE_ERR_UNKNOWN_COMMAND' } });
  t.match(await command('status', 'not json'), { ok: false, error: { code: 'EDGE_ERR_BAD_JSON' } });
  const unpinned = await command('unpin', JSON.stringify({ model: 'digits' }));
  t.match(unpinned, { ok: true, result: { pinned: false } });
  t.match(await command('reload', '{}'), { ok: true, result: { plan: { models: [{ model: 'digits' }] } } });
  // A command whose reply topic is the service's own status is executed but not answered there.
  const before = w.on('edge/ha/status').length;
  await w.publish('edge/ha/cmd/status', '{}', { qos: 1, properties: { responseTopic: 'edge/ha/status' } });
  await svc.waitLog('fleet.reply_refused', 10_000);
  t.notOk(
    w
      .on('edge/ha/status')
      .slice(before)
      .some((m) => (m.json as { command?: string }).command !== undefined),
    'no command reply on the status topic',
  );

  // Discovery turned off: the next start removes the device from Home Assistant.
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
  const again = startService(config, [], dir);
  t.teardown(() => {
    again.child.kill('SIGKILL');
  });
  await w.until(() => w.on(DISCOVERY).some((m) => m.payload.length === 0), 30_000, 'the empty retained payload that removes the device');
  await again.waitLog('fleet.ha_removed', 10_000);
  const late = await Watcher.open(broker.url, [DISCOVERY]);
  t.teardown(() => late.close());
  await new Promise((r) => setTimeout(r, 500));
  t.equal(late.messages.length, 0, 'nothing retained any more');
  again.child.kill('SIGTERM');
  t.equal(await again.exited, 0);
});
