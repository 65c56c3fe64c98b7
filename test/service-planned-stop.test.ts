/**
 * Issue 12, service half: stops are bounded whatever the broker does (item 1), and a planned
 * restart keeps the subscription so requests sent while the service is down are answered after it
 * starts (item 8). Real mosquitto, the built CLI as a child process.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startMosquitto } from './helpers/mosquitto.js';
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

for (const order of [
  { name: 'before', killAtMs: -300 },
  { name: 'together with', killAtMs: 0 },
  { name: 'during', killAtMs: 150 },
]) {
  t.test(`SIGTERM exits 0 within drainTimeoutMs + 1 s when the broker dies ${order.name} the stop`, async (t) => {
    const broker = await startMosquitto();
    t.teardown(() => broker.stop());
    const drainTimeoutMs = 1000;
    const svc = startService({ deviceId: 'stop', broker: { url: broker.url, reconnectMinMs: 50, reconnectMaxMs: 200 }, drainTimeoutMs, ...onlyDigits });
    t.teardown(() => {
      svc.child.kill('SIGKILL');
    });
    await svc.waitLog('service.ready');
    await svc.waitLog('mqtt.connected');
    // Requests keep flowing until the broker dies, so answers and the offline status are in flight.
    const pub = await Watcher.open(broker.url, ['edge/stop/replies/#']);
    pub.client.on('error', () => undefined);
    let n = 0;
    const flood = setInterval(() => {
      if (!pub.client.connected) return;
      for (let i = 0; i < 20; i++) pub.client.publish('edge/stop/models/digits/infer', JSON.stringify({ id: `r${n++}`, input }), { qos: 1, properties: { responseTopic: 'edge/stop/replies/x' } });
    }, 5);
    t.teardown(() => {
      clearInterval(flood);
      pub.client.end(true);
    });
    await new Promise((r) => setTimeout(r, 300));
    if (order.killAtMs < 0) {
      await broker.kill();
      await new Promise((r) => setTimeout(r, -order.killAtMs));
    }
    const t0 = Date.now();
    svc.child.kill('SIGTERM');
    if (order.killAtMs >= 0) {
      if (order.killAtMs > 0) await new Promise((r) => setTimeout(r, order.killAtMs));
      await broker.kill();
    }
    clearInterval(flood);
    const code = await Promise.race([svc.exited, new Promise<string>((r) => setTimeout(() => r('still running'), drainTimeoutMs + 4000))]);
    const ms = Date.now() - t0;
    t.equal(code, 0, `exit 0 (${ms} ms after SIGTERM)`);
    t.ok(ms <= drainTimeoutMs + 1000 + 700, `stopped ${ms} ms after SIGTERM (drain ${drainTimeoutMs} ms + 1 s, + 0.7 s for the process exit on a shared machine)`);
    t.match(svc.logs(), /service\.stopped/);
    t.notMatch(svc.logs(), /service\.stop_timeout/, 'the service stopped by itself, not by the backstop');
  });
}

t.test('a planned restart keeps the subscription: QoS 1 requests sent while the service is down are answered after it starts', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-restart-'));
  const config = { deviceId: 'restart', broker: { url: broker.url }, ...onlyDigits };
  const w = await Watcher.open(broker.url, ['replies/restart', 'edge/restart/status']);
  t.teardown(() => w.close());
  const first = startService(config, [], dir);
  t.teardown(() => {
    first.child.kill('SIGKILL');
  });
  // "online" is published after the SUBSCRIBE on the same connection, so the broker holds the
  // subscription once it arrives (mqtt.connected is logged before it).
  await w.until(() => w.on('edge/restart/status').some((m) => (m.json as { state?: string }).state === 'online'), 30_000, 'status online');
  // One answered request before the stop, so the session is known to work.
  await w.publish('edge/restart/models/digits/infer', JSON.stringify({ id: 'before', input }), { qos: 1, properties: { responseTopic: 'replies/restart' } });
  await w.until(() => w.on('replies/restart').length === 1, 10_000, 'the first answer');
  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0);
  // Sent while nothing runs: the broker must still hold the subscription and queue them.
  for (let i = 0; i < 20; i++) {
    await w.publish('edge/restart/models/digits/infer', JSON.stringify({ id: `down-${i}`, input }), { qos: 1, properties: { responseTopic: 'replies/restart' } });
  }
  const second = startService(config, [], dir);
  t.teardown(() => {
    second.child.kill('SIGKILL');
  });
  await w.until(() => new Set(w.on('replies/restart').map((m) => (m.json as { id: string }).id)).size === 21, 30_000, 'the 20 answers after the restart');
  const ids = new Set(w.on('replies/restart').map((m) => (m.json as { id: string }).id));
  for (let i = 0; i < 20; i++) t.ok(ids.has(`down-${i}`), `down-${i} answered`);
  t.ok(
    w.on('replies/restart').every((m) => (m.json as { error?: unknown }).error === undefined),
    'every answer is a result, none an error',
  );
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});
