/**
 * Issue 12, service half: retained requests are never answered (item 12), and READY=1 comes after
 * MQTT is up or says the broker is unreachable (item 10). Real mosquitto, the built CLI.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService } from './helpers/service-process.js';
import { onlyBundled } from './helpers/digits-copy.js';

interface EvalSet {
  inputs: number[][];
  labels: number[];
}
const evalSet = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'eval.json'), 'utf8')) as EvalSet;
const input = evalSet.inputs[0];
/** Only digits, to keep the start short. */
const onlyDigits = { models: onlyBundled('digits'), adaptive: { enabled: false } };

for (const protocolVersion of [5, 4] as const) {
  t.test(`a retained request is never answered (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}), a live one is`, async (t) => {
    const broker = await startMosquitto();
    t.teardown(() => broker.stop());
    const device = `retain${protocolVersion}`;
    const w = await Watcher.open(broker.url, [`edge/${device}/models/digits/result`, `edge/${device}/status`]);
    t.teardown(() => w.close());
    await w.publish(`edge/${device}/models/digits/infer`, JSON.stringify({ id: 'retained', input }), { qos: 1, retain: true });
    const svc = startService({ deviceId: device, broker: { url: broker.url, protocolVersion }, ...onlyDigits });
    t.teardown(() => {
      svc.child.kill('SIGKILL');
    });
    // Online is published after the SUBSCRIBE, so the subscription is in place once it arrives.
    await w.until(() => w.on(`edge/${device}/status`).some((m) => (m.json as { state?: string }).state === 'online'), 10_000, 'status online');
    await w.publish(`edge/${device}/models/digits/infer`, JSON.stringify({ id: 'live', input }), { qos: 1 });
    await w.until(() => w.messages.some((m) => (m.json as { id?: string }).id === 'live'), 10_000, 'the live answer');
    await new Promise((r) => setTimeout(r, 300));
    t.same(
      w.on(`edge/${device}/models/digits/result`).map((m) => (m.json as { id?: string }).id),
      ['live'],
      'only the live request was answered',
    );
    svc.child.kill('SIGTERM');
    t.equal(await svc.exited, 0);
  });
}

/** A stand-in systemd-notify on PATH that appends its arguments and the time to a file. */
function fakeNotify(): { env: Record<string, string>; calls: () => string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-ready-'));
  const out = path.join(dir, 'calls.txt');
  const bin = path.join(dir, 'systemd-notify');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${out}'\n`);
  chmodSync(bin, 0o755);
  return { env: { PATH: `${dir}:${process.env['PATH'] ?? ''}`, NOTIFY_SOCKET: path.join(dir, 'notify.sock') }, calls: () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []) };
}

t.test('READY=1 comes after MQTT is connected when the broker is up', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const notify = fakeNotify();
  const svc = startService({ deviceId: 'ready', broker: { url: broker.url }, ...onlyDigits }, [], undefined, notify.env);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('mqtt.connected');
  const end = Date.now() + 5000;
  while (!notify.calls().some((c) => c.includes('READY=1')) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  const ready = notify.calls().find((c) => c.includes('READY=1'));
  t.match(ready, new RegExp(`STATUS=serving 1 model\\(s\\) on ${broker.url}`));
  t.notMatch(svc.logs(), /ready_without_broker/);
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0, svc.logs().split('\n').slice(-5).join('\n'));
});

t.test('READY=1 with the broker down comes broker.readyWaitS after the models loaded and says the broker is unreachable', async (t) => {
  const notify = fakeNotify();
  const port = await freePort();
  const svc = startService({ deviceId: 'ready-down', broker: { url: `mqtt://127.0.0.1:${port}`, readyWaitS: 1, reconnectMinMs: 100, reconnectMaxMs: 200 }, ...onlyDigits }, [], undefined, notify.env);
  t.teardown(() => {
    svc.child.kill('SIGKILL');
  });
  await svc.waitLog('service.ready"');
  t.notOk(
    notify.calls().some((c) => c.includes('READY=1')),
    'no READY while the wait for the broker runs',
  );
  await svc.waitLog('service.ready_without_broker', 5000);
  const end = Date.now() + 3000;
  while (!notify.calls().some((c) => c.includes('READY=1')) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  t.match(
    notify.calls().find((c) => c.includes('READY=1')),
    /STATUS=serving 1 model\(s\); broker mqtt:\/\/127\.0\.0\.1:\d+ unreachable, retrying/,
  );
  svc.child.kill('SIGTERM');
  t.equal(await svc.exited, 0);
});
